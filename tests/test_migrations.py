"""Migrations on SQLite and PostgreSQL: a blank database, an upgrade from the first schema,
two processes starting at once; and the engine settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.models import JUDGE_JOB
from bot.store import MIGRATIONS, SqlStore, applied_migrations, make_engine, migrate, normalise_url
from bot.store.schema import metadata
from tests.store_fixtures import find_job, judgement_for

ALL = [fn.__name__ for fn in MIGRATIONS]
Shape = dict[str, dict[str, object]]  # table -> what the database says of it


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    made = make_engine(database_url)
    yield made
    made.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/bot", "postgresql+psycopg://u:p@db:5432/bot"),
        ("postgresql://u@db/bot", "postgresql+psycopg://u@db/bot"),
        ("postgresql+psycopg://u@db/bot", "postgresql+psycopg://u@db/bot"),
        ("  sqlite:///var/bot.sqlite3\n", "sqlite:///var/bot.sqlite3"),
    ],
)
def test_database_urls_are_normalised_to_psycopg(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_an_empty_url_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        normalise_url(" ")


def test_there_is_more_than_one_migration_and_names_are_unique_and_ordered() -> None:
    assert len(ALL) >= 2
    assert len(set(ALL)) == len(ALL)
    assert sorted(ALL) == ALL


def test_a_blank_database_gets_every_migration_once(engine: sa.Engine) -> None:
    assert migrate(engine) == ALL
    assert migrate(engine) == []
    assert applied_migrations(engine) == set(ALL)


def database_shape(engine: sa.Engine) -> Shape:
    """Per table, what the database itself says of its columns (type, nullability, default),
    keys, indexes and UNIQUE and CHECK constraints: two databases built differently (by the
    migrations, from ``schema.metadata``) agree when these are equal."""
    inspector = sa.inspect(engine)
    shape: Shape = {}
    for name in sorted(set(inspector.get_table_names()) - {"_migrations"}):
        shape[name] = {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"], _sql(c["default"]))
                for c in inspector.get_columns(name)
            },
            "primary key": inspector.get_pk_constraint(name)["constrained_columns"],
            "foreign keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(name)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(name)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(name)
                if not ix.get("duplicates_constraint")  # PostgreSQL lists a UNIQUE's index too
            ),
            "checks": sorted(
                (ck["name"], _sql(ck["sqltext"])) for ck in inspector.get_check_constraints(name)
            ),
        }
    return shape


def _sql(text: str | None) -> str | None:
    return None if text is None else " ".join(text.split())


def migrated_and_declared(
    engine: sa.Engine, declared: sa.MetaData, url: str
) -> tuple[Shape, Shape]:
    """The shape of ``engine``'s database once migrated, and of the database at ``url`` once
    ``declared`` was created in it."""
    migrate(engine)
    other = make_engine(url)
    try:
        declared.create_all(other)
        return database_shape(engine), database_shape(other)
    finally:
        other.dispose()


def test_the_migrated_database_matches_the_schema_module(
    engine: sa.Engine, other_database_url: str
) -> None:
    migrated, expected = migrated_and_declared(engine, metadata, other_database_url)

    assert list(migrated) == list(expected)
    for name in expected:
        assert migrated[name] == expected[name], name
    assert any(shape["checks"] for shape in expected.values())  # they are read at all


def _without_constraint(table: sa.Table, name: str) -> None:
    [found] = [c for c in table.constraints | set(table.indexes) if c.name == name]
    if isinstance(found, sa.Index):
        table.indexes.discard(found)
    else:
        table.constraints.discard(found)


def _narrower_check(table: sa.Table, name: str) -> None:
    _without_constraint(table, name)
    table.append_constraint(sa.CheckConstraint("status IN ('pending', 'running')", name=name))


@pytest.mark.parametrize(
    ("table", "constraint", "plant", "where"),
    [
        ("jobs", "ck_jobs_status", _narrower_check, "checks"),
        ("votes", "ck_votes_value", _without_constraint, "checks"),
        ("jobs", "uq_jobs_kind_ref", _without_constraint, "unique"),
        ("interactions", "ix_interactions_thread", _without_constraint, "indexes"),
    ],
)
def test_the_drift_check_sees_a_planted_mismatch(
    engine: sa.Engine,
    other_database_url: str,
    table: str,
    constraint: str,
    plant: Callable[[sa.Table, str], None],
    where: str,
) -> None:
    drifted = sa.MetaData()
    for original in metadata.sorted_tables:
        original.to_metadata(drifted)
    plant(drifted.tables[table], constraint)
    migrated, expected = migrated_and_declared(engine, drifted, other_database_url)

    assert migrated[table][where] != expected[table][where]
    assert {n: s for n, s in migrated.items() if n != table} == {
        n: s for n, s in expected.items() if n != table
    }


def test_an_unknown_target_migration_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="m999_nothing"):
        migrate(engine, until="m999_nothing")


def test_upgrading_from_the_first_schema_keeps_the_rows(engine: sa.Engine) -> None:
    assert migrate(engine, until="m001_initial") == ["m001_initial"]
    at = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    at_sql = at if engine.dialect.name == "postgresql" else at.replace(tzinfo=None)
    with engine.begin() as conn:
        for id_ in ("01JOLD0000000000000000000A", "01JOLD0000000000000000000B"):
            conn.execute(
                sa.text(
                    "INSERT INTO interactions VALUES (:id, :at, 'slack', 'mc102', 'C1', 't1',"
                    " 'u_1', 'O que é recursão?', 'É quando...', FALSE, FALSE, 'claude',"
                    " 10, 5, 1.0, 2.0, 3.0, 6.0, '')"
                ),
                {"id": id_, "at": at_sql},
            )
        conn.execute(
            sa.text(
                "INSERT INTO interaction_segments VALUES ('01JOLD0000000000000000000A', 0,"
                " 'seg-1', 'v1', 'Aula 1', 'https://youtu.be/v1', 0.0, 30.0, 'texto', 0.9,"
                " NULL, TRUE)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO votes (interaction_id, user_ref, value, is_ta, at)"
                " VALUES ('01JOLD0000000000000000000A', 'ana', 1, FALSE, :at)"
            ),
            {"at": at_sql},
        )
        conn.execute(
            sa.text(
                "INSERT INTO judgements (interaction_id, kind, target, status, score, criteria,"
                " evidence, model, error, created_at) VALUES ('01JOLD0000000000000000000B',"
                " 'answer_relevance', '', 'ok', 2, 'c', 'e', 'judge', '', :at)"
            ),
            {"at": at_sql},
        )

    assert migrate(engine) == ALL[1:]

    store = SqlStore(engine)
    old = store.get_interaction("01JOLD0000000000000000000A")
    assert old is not None
    assert (old.created_at, old.question, old.escalated) == (at, "O que é recursão?", False)
    assert [(h.segment.id, h.dense_score, h.cited) for h in old.retrieved] == [
        ("seg-1", None, True)
    ]
    assert [(v.user_ref, v.value) for v in store.votes_for(old.id)] == [("ana", 1)]
    judged = judgement_for(store, "01JOLD0000000000000000000B")
    assert judged is not None and judged.score == 2
    # m002 queued a judge job for what was logged before jobs existed and is not judged yet.
    assert find_job(store, JUDGE_JOB, "01JOLD0000000000000000000A") is not None
    assert find_job(store, JUDGE_JOB, "01JOLD0000000000000000000B") is None


def test_two_processes_migrating_at_once_apply_each_migration_once(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def run(engine: sa.Engine) -> None:
        barrier.wait()
        try:
            applied.append(migrate(engine))
        except BaseException as exc:  # surfaced in the main thread's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()

    assert errors == []
    assert sorted(name for names in applied for name in names) == sorted(ALL)


def test_sqlite_files_get_their_folder_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "bot.sqlite3"
    engine = make_engine(f"sqlite:///{path}")

    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    engine.dispose()

    assert path.exists()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}
