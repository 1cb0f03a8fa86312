"""Store fixtures: a migrated ``store`` on SQLite (a temp file) and on PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL (default: a local ``test`` database, trust auth); its
tests are skipped when it is unreachable. Isolation on PostgreSQL goes through ``search_path``:
``postgres_url`` is a fresh schema per test (dropped after); ``store`` shares one migrated
schema per session and empties its tables before and after each test.
Load with ``pytest_plugins = ["store_fixtures"]`` in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.models import (
    ANSWER_RELEVANCE,
    Citation,
    Interaction,
    Judgement,
    RetrievedSegment,
    Segment,
    StageTimings,
    Usage,
)
from bot.outcome import current_judgement
from bot.store import SqlStore, open_store
from bot.store.jobs import enqueue
from bot.store.schema import digests, jobs, metadata

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

InteractionFactory = Callable[..., Interaction]


def _postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL


@functools.cache
def postgres_unreachable_reason() -> str | None:
    """None when the test PostgreSQL answers, else why not (checked once per session)."""
    try:
        engine = sa.create_engine(_postgres_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "skip", with the reason shown
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"PostgreSQL at TEST_DATABASE_URL unreachable: {first_line}"
    return None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'bot.sqlite3'}"


def _skip_without_postgres() -> None:
    reason = postgres_unreachable_reason()
    if reason:
        pytest.skip(reason)


@contextlib.contextmanager
def _fresh_postgres_schema() -> Iterator[str]:
    """A new, empty schema, as a URL whose connections use it; dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_postgres_url())
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(_postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL schema of its own (for tests of migrations)."""
    _skip_without_postgres()
    with _fresh_postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind, as a URL ``open_store`` accepts."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as ``database_url``."""
    if sa.make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'other' / 'bot.sqlite3'}"
        return
    with _fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlStore]:
    opened = open_store(sqlite_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def _postgres_session_store() -> Iterator[SqlStore]:
    # Migrating a fresh schema costs ~0.2 s; one per session, emptied between tests.
    _skip_without_postgres()
    with _fresh_postgres_schema() as url:
        opened = open_store(url)
        try:
            yield opened
        finally:
            opened.close()


@pytest.fixture
def postgres_store(_postgres_session_store: SqlStore) -> Iterator[SqlStore]:
    store = _postgres_session_store
    _empty(store)
    try:
        yield store
    finally:
        _empty(store)


def _empty(store: SqlStore) -> None:
    # DELETE, not TRUNCATE: on a few rows it is ~20x faster.
    with store.db.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> SqlStore:
    """A migrated, empty ``SqlStore`` on each backend."""
    opened: SqlStore = request.getfixturevalue(f"{request.param}_store")
    return opened


# -- reads and writes only tests make: the bot never looks a job or a digest up -------------


def enqueue_job(store: SqlStore, kind: str, ref: str, at: datetime | None = None) -> bool:
    """Queue (kind, ref) as saving an interaction does; False if it was already queued."""
    with store.db.writer.begin() as conn:
        return enqueue(conn, kind, ref, at or datetime.now(UTC))


def job_by_id(store: SqlStore, job_id: int) -> sa.Row[Any] | None:
    """The job's row (every column of ``jobs``), or None."""
    return _job_where(store, jobs.c.id == job_id)


def find_job(store: SqlStore, kind: str, ref: str) -> sa.Row[Any] | None:
    """The row of the job (kind, ref), or None if it was never queued."""
    return _job_where(store, sa.and_(jobs.c.kind == kind, jobs.c.ref == ref))


def _job_where(store: SqlStore, where: sa.ColumnElement[bool]) -> sa.Row[Any] | None:
    with store.db.engine.connect() as conn:
        return conn.execute(sa.select(jobs).where(where)).first()


def digest_sent_at(store: SqlStore, course_id: str, week_start: datetime) -> datetime | None:
    """When that digest was marked sent; None while it is unclaimed or only claimed."""
    key = sa.and_(digests.c.course_id == course_id, digests.c.week_start == week_start)
    query = sa.select(digests.c.sent_at).where(key, digests.c.status == "sent")
    with store.db.engine.connect() as conn:
        sent_at: datetime | None = conn.execute(query).scalar_one_or_none()
    return sent_at


def judgement_for(
    store: SqlStore, interaction_id: str, kind: str = ANSWER_RELEVANCE, target: str = ""
) -> Judgement | None:
    """The current judgement of (kind, target), by the rule the report and digest apply."""
    return current_judgement(store.judgements_for(interaction_id), kind, target)


@pytest.fixture
def make_interaction() -> InteractionFactory:
    """Build a full ``Interaction``: segments with and without dense scores, a citation."""
    counter = iter(range(1, 1_000_000))

    def build(
        *,
        id: str | None = None,
        course_id: str = "mc102",
        created_at: datetime | None = None,
        segments: int = 3,
        **changes: object,
    ) -> Interaction:
        n = next(counter)
        retrieved = tuple(
            RetrievedSegment(
                rank=rank,
                score=1.0 / (rank + 1),
                segment=Segment(
                    id=f"seg-{n}-{rank}",
                    course_id=course_id,
                    video_id=f"vid{rank}",
                    title=f"Aula {rank + 1}: laços — parte {n}",
                    url=f"https://youtu.be/vid{rank}",
                    start_s=60.0 * rank + 0.25,
                    end_s=60.0 * rank + 45.5,
                    text=f"Trecho {rank} da transcrição, com acentuação: ação, você.",
                ),
                cited=rank == 0,
                dense_score=None if rank == 2 else 0.8 - rank / 10,
            )
            for rank in range(segments)
        )
        citations = tuple(
            Citation(
                hit.segment.id,
                hit.segment.video_id,
                hit.segment.title,
                hit.segment.start_s,
                hit.segment.end_s,
                f"{hit.segment.url}?t={int(hit.segment.start_s)}",
            )
            for hit in retrieved
            if hit.cited
        )
        values: dict[str, object] = {
            "id": id or f"01J{n:023d}",
            "created_at": created_at or datetime(2025, 3, 10, 14, 30, 15, 123456, tzinfo=UTC),
            "platform": "discord",
            "course_id": course_id,
            "channel": "duvidas",
            "thread": f"thread-{n}",
            "asker_ref": f"u_{n:08x}",
            "question": f"Como funciona o laço while? ({n})",
            "answer": "O laço repete enquanto a condição for verdadeira [1].",
            "abstained": False,
            "fallback": False,
            "model": "claude-test",
            "usage": Usage(812, 95),
            "timings": StageTimings(12.5, 3.25, 900.0, 920.75),
            "error": "",
            "retrieved": retrieved,
            "citations": citations,
        }
        values.update(changes)
        return Interaction(**values)  # type: ignore[arg-type]

    return build
