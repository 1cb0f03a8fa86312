"""An interaction's columns, defined once.

The ``interactions`` table (``schema.py``), the conversion between its rows and
``Interaction`` values (``rows.py``) and the report's export (``bot.report``) all take their
fields from ``INTERACTION_COLUMNS``, in its order. A column's name is the name of the
``Interaction`` attribute it holds; ``part`` names the value that holds it (``usage``,
``timings``) when it is not the interaction's own. The order is the export's, a contract
with whoever reads the files; the table's physical order is the migrations' and no query
depends on it. An interaction's retrieved segments and citations are rows of their own
tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from bot.models import Citation, Interaction, RetrievedSegment, StageTimings, Usage
from bot.store.sqltypes import UtcDateTime

Part = Literal["", "usage", "timings"]
_PARTS: dict[Part, type[Usage] | type[StageTimings]] = {"usage": Usage, "timings": StageTimings}


@dataclass(frozen=True)
class InteractionColumn:
    name: str
    type: sa.types.TypeEngine[Any]
    part: Part = ""
    # Written by a person or a model, so it may hold links (the report can hide them).
    free_text: bool = False
    primary_key: bool = False
    server_default: sa.TextClause | None = None
    # The value of a row written before the column existed (an older journal line).
    missing: Any = None

    def value(self, interaction: Interaction) -> Any:
        return getattr(getattr(interaction, self.part) if self.part else interaction, self.name)

    def sql_column(self) -> sa.Column[Any]:
        return sa.Column(
            self.name,
            self.type,
            primary_key=self.primary_key,
            nullable=False,
            server_default=self.server_default,
        )


INTERACTION_COLUMNS: tuple[InteractionColumn, ...] = (
    InteractionColumn("id", sa.String(26), primary_key=True),
    InteractionColumn("created_at", UtcDateTime()),
    InteractionColumn("course_id", sa.String(200)),
    InteractionColumn("platform", sa.String(32)),
    InteractionColumn("channel", sa.Text()),
    InteractionColumn("thread", sa.Text()),
    InteractionColumn("asker_ref", sa.Text()),
    InteractionColumn("question", sa.Text(), free_text=True),
    InteractionColumn("answer", sa.Text(), free_text=True),
    InteractionColumn("abstained", sa.Boolean()),
    InteractionColumn("fallback", sa.Boolean()),
    InteractionColumn("escalated", sa.Boolean(), server_default=sa.text("FALSE")),  # m003
    InteractionColumn("flags", sa.Text(), server_default=sa.text("''"), missing=""),  # m007
    InteractionColumn("error", sa.Text(), free_text=True),
    InteractionColumn("model", sa.Text()),
    InteractionColumn("input_tokens", sa.Integer(), "usage"),
    InteractionColumn("output_tokens", sa.Integer(), "usage"),
    InteractionColumn("embed_ms", sa.Float(), "timings"),
    InteractionColumn("search_ms", sa.Float(), "timings"),
    InteractionColumn("generate_ms", sa.Float(), "timings"),
    InteractionColumn("total_ms", sa.Float(), "timings"),
    InteractionColumn("version", sa.Text(), server_default=sa.text("''"), missing=""),  # m008
    # The interaction whose answer this repeated question was given (m009).
    InteractionColumn("repeat_of", sa.Text(), server_default=sa.text("''"), missing=""),
)


def interaction_values(interaction: Interaction) -> dict[str, Any]:
    """The interaction's value for each column, by column name, in column order."""
    return {column.name: column.value(interaction) for column in INTERACTION_COLUMNS}


def interaction_from(
    values: Mapping[str, Any],
    retrieved: Sequence[RetrievedSegment],
    citations: Sequence[Citation],
) -> Interaction:
    """The ``Interaction`` of a row's column values (the inverse of ``interaction_values``)."""
    own: dict[str, Any] = {}
    parts: dict[Part, dict[str, Any]] = {part: {} for part in _PARTS}
    for column in INTERACTION_COLUMNS:
        if column.missing is None:
            value = values[column.name]
        else:
            value = values.get(column.name, column.missing)
        if isinstance(column.type, sa.Boolean):
            value = bool(value)  # a journal line or a driver may give 0/1
        (parts[column.part] if column.part else own)[column.name] = value
    for part, make in _PARTS.items():
        own[part] = make(**parts[part])
    return Interaction(**own, retrieved=tuple(retrieved), citations=tuple(citations))
