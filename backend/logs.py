"""One log format for every Flowgate process, so `flowgate dev`'s interleaved output stays readable."""

from __future__ import annotations

import logging
import os


def configure_logging(level: str, process: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {process:<6} %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    # arq logs every job at INFO; keep that for debugging only.
    if level != "debug":
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
    # httpx logs every request at INFO: the dev tree's health polls and the ui's API calls would drown the rest.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Piccolo announces the engine version on every connection pool start.
    logging.getLogger("piccolo").setLevel(logging.WARNING)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
