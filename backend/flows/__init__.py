"""Chat flows as stored and served by the backend: drafts, published versions, validation and publishing.

The graph format and the interpreter live in the top-level, I/O-free ``flows`` package; this domain
only stores, versions and serves them.
"""
