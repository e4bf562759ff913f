"""Flowgate's backend: the Litestar API, the arq worker and the Piccolo tables behind them.

Piccolo finds its engine and apps through a ``piccolo_conf`` module; pointing it at ours here means
every entry point (CLI, API, worker, tests, the ``piccolo`` tool) uses the same configuration.
"""

import os

os.environ.setdefault("PICCOLO_CONF", "backend.piccolo_conf")
