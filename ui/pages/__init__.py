"""One module per page (or family of pages); each exposes ``register()`` for :mod:`ui.app`."""
