"""The ports: each protocol names its own methods once; users compose them (mypy checks that
``SqlStore`` satisfies each user's protocol, see ``bot/store/sql_store.py``)."""

from __future__ import annotations

from typing import Protocol

from bot import ports


def _protocols() -> list[type]:
    return [
        value
        for value in vars(ports).values()
        if isinstance(value, type) and value is not Protocol and Protocol in value.__mro__
    ]


def test_no_protocol_restates_a_method_of_another() -> None:
    declared_by: dict[str, list[str]] = {}
    for protocol in _protocols():
        for name in vars(protocol):
            if not name.startswith("_"):
                declared_by.setdefault(name, []).append(protocol.__name__)
    assert {name: owners for name, owners in declared_by.items() if len(owners) > 1} == {}
