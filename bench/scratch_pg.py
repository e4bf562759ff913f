"""A throw-away PostgreSQL database per benchmark run, so a bench never touches a database in use."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse, urlunparse


async def create_scratch_database(admin_url: str) -> tuple[str, str]:
    """Create ``flowgate_bench_<random>`` on the server of ``admin_url``; returns its name and URL."""
    import asyncpg

    name = f"flowgate_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name, urlunparse(urlparse(admin_url)._replace(path=f"/{name}"))


async def drop_scratch_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
