"""A throw-away PostgreSQL schema for one benchmark run, dropped however the run ends."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def scratch_schema(database_url: str, prefix: str = "bench") -> Iterator[str]:
    """Create a fresh schema and yield `database_url` pointed at it (search_path)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
