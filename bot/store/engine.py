"""Engines: which database a URL means, and the SQLite settings a bot with workers needs."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

from bot.store.records import StoreError

DEFAULT_URL = "sqlite:///var/bot.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A server that drops packets (a firewall, a wrong IP) fails the start within this many
# seconds instead of the system's TCP timeout of minutes.
PG_CONNECT_TIMEOUT_S = 10

# Passed as an execution option to pick how a SQLite transaction begins. Writers take the
# write lock up front (IMMEDIATE) so a read-then-write transaction never fails half-way
# with SQLITE_BUSY when another process wrote in between; readers begin DEFERRED.
SQLITE_BEGIN_OPTION = "sqlite_begin"


def normalise_url(url: str) -> str:
    """The SQLAlchemy URL for a ``DATABASE_URL``: Heroku-style ``postgres://`` and plain
    ``postgresql://`` use psycopg 3; anything else is kept as given."""
    text = url.strip()
    if not text:
        raise ValueError(f"empty database URL: set DATABASE_URL, e.g. {DEFAULT_URL}")
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    return text


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (see ``normalise_url``); SQLite files get their parent folder,
    WAL, foreign keys and a busy timeout. A URL SQLAlchemy cannot use is a ``StoreError``."""
    try:
        parsed = make_url(normalise_url(url))
        if parsed.get_backend_name() != "sqlite":
            given = "connect_timeout" in parsed.query
            timeout = {} if given else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
            return sa.create_engine(parsed, pool_pre_ping=True, connect_args=timeout)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise StoreError(
            f"DATABASE_URL={shown_url(url)} cannot be used: {error}; use e.g. {DEFAULT_URL} "
            "or postgresql://user:password@host/database (with the postgres extra installed)"
        ) from error
    return _sqlite_engine(parsed)


def shown_url(url: str | URL) -> str:
    """A database URL as messages may show it: with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", str(url))


@contextmanager
def connected(engine: sa.Engine) -> Iterator[Connection]:
    """A connection to the database. One that cannot be opened at all (server down, unknown
    host, wrong password, a SQLite file that cannot be created) is a ``StoreError`` naming
    DATABASE_URL, without its password, and what to check."""
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as error:
        cause = str(error.orig).strip().splitlines()[0]
        where = f"DATABASE_URL={shown_url(engine.url)}"
        if engine.dialect.name == "sqlite":
            hint = "check that its folder exists and is writable, or set another file"
        else:
            hint = (
                "check that the server is running and reachable from here, and the host, "
                "port, user, password and database name in DATABASE_URL"
            )
        raise StoreError(f"cannot open the database at {where}: {cause}; {hint}") from error
    with conn:
        yield conn


def _sqlite_engine(parsed: URL) -> sa.Engine:
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        # One shared connection, or every checkout would see a different empty database.
        options["poolclass"] = StaticPool
    else:
        _create_folder(Path(database).expanduser().parent, parsed)
    engine = sa.create_engine(parsed, **options)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _begin): the sqlite3 module's own
        # transaction handling skips BEGIN before SELECT and DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, much faster
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _create_folder(folder: Path, url: URL) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the folder {folder} for the SQLite database of "
            f"DATABASE_URL={shown_url(url)}: {error.strerror or error}; set DATABASE_URL to a "
            f"file in a writable folder, e.g. {DEFAULT_URL}"
        ) from error


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so). The switch takes an exclusive lock and SQLite
    does not wait ``busy_timeout`` for it, so processes opening a fresh database at the same
    moment would fail with "database is locked": retry until the busy timeout instead."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine (same pool) whose transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


class Database:
    """The engine and its writing twin: ``SqlStore`` and its parts (``jobs``, ``digests``)
    share one, so they share one pool and one set of SQLite settings."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.writer = writer(engine)

    def close(self) -> None:
        self.engine.dispose()


def insert_or_ignore(
    conn: Connection, table: sa.Table, values: dict[str, Any], conflict_columns: list[str]
) -> bool:
    """INSERT unless a row with the same ``conflict_columns`` exists; True if inserted.
    Atomic on both backends (ON CONFLICT DO NOTHING), so racing processes never both win."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(values)
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(values)
    else:
        raise NotImplementedError(
            f"the store supports SQLite and PostgreSQL, not {conn.dialect.name}"
        )
    # RETURNING tells inserted from skipped; rowcount is -1 with psycopg when RETURNING is used.
    stmt = stmt.on_conflict_do_nothing(index_elements=conflict_columns)
    return conn.execute(stmt.returning(*table.primary_key.columns)).first() is not None
