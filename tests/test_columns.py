"""An interaction's columns: one definition that covers every field of ``Interaction``."""

from __future__ import annotations

from dataclasses import fields

from bot.models import Interaction, StageTimings, Usage
from bot.store.columns import INTERACTION_COLUMNS, interaction_from, interaction_values
from bot.store.schema import interactions
from tests.store_fixtures import InteractionFactory

HELD_IN_OTHER_TABLES = {"retrieved", "citations"}


def test_every_field_of_an_interaction_has_exactly_one_column() -> None:
    parts = {"usage": Usage, "timings": StageTimings}
    expected = [
        (part.name if part.name in parts else "", leaf)
        for part in fields(Interaction)
        if part.name not in HELD_IN_OTHER_TABLES
        for leaf in (
            [f.name for f in fields(parts[part.name])] if part.name in parts else [part.name]
        )
    ]
    declared = [(column.part, column.name) for column in INTERACTION_COLUMNS]
    assert sorted(declared) == sorted(expected)
    assert len({name for _, name in declared}) == len(declared)


def test_the_table_has_the_columns_in_their_order() -> None:
    assert [c.name for c in interactions.columns] == [c.name for c in INTERACTION_COLUMNS]


def test_values_convert_back_to_the_same_interaction(make_interaction: InteractionFactory) -> None:
    interaction = make_interaction(escalated=True, fallback=True)
    values = interaction_values(interaction)
    assert interaction_from(values, interaction.retrieved, interaction.citations) == interaction
    as_ints = {k: int(v) if isinstance(v, bool) else v for k, v in values.items()}
    assert interaction_from(as_ints, interaction.retrieved, interaction.citations) == interaction
