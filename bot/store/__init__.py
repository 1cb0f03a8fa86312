"""The SQL store: interaction log, votes, judgements, job queue and digest claims, and the
journal that keeps what the database could not take until it can.

``open_store(url)`` returns a ready ``SqlStore`` (schema migrated), whose parts ``jobs`` and
``digests`` share its database. See ``sql_store``, ``jobs``, ``digests``, ``columns`` and
``migrations``.
"""

from __future__ import annotations

from bot.annotations import current_votes  # one rule for standing votes
from bot.store.digests import DEFAULT_DIGEST_LEASE_S
from bot.store.engine import DEFAULT_URL, make_engine, normalise_url
from bot.store.journal import Journal, ReplayReport
from bot.store.migrations import MIGRATIONS, applied_migrations, migrate
from bot.store.records import StoreError
from bot.store.sql_store import SqlStore, open_store

__all__ = [
    "DEFAULT_DIGEST_LEASE_S",
    "DEFAULT_URL",
    "MIGRATIONS",
    "Journal",
    "ReplayReport",
    "SqlStore",
    "StoreError",
    "applied_migrations",
    "current_votes",
    "make_engine",
    "migrate",
    "normalise_url",
    "open_store",
]
