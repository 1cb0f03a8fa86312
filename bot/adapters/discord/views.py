"""The answer's Discord components: its citations embed and the "Preciso de um humano"
button, which finds its interaction from its custom_id (so it works across restarts)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import discord

from bot.adapters.discord_render import (
    HUMAN_BUTTON_LABEL,
    HUMAN_CUSTOM_ID_TEMPLATE,
    EmbedSpec,
    human_custom_id,
)


@runtime_checkable
class Escalates(Protocol):
    """The client that handles a click on the button (``CourseBot``)."""

    async def escalate(self, interaction: discord.Interaction, ref: str) -> None: ...


class HumanButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=HUMAN_CUSTOM_ID_TEMPLATE
):
    """ "Preciso de um humano": works on any answer, also those posted before a restart."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=HUMAN_BUTTON_LABEL,
                emoji="🙋",
                style=discord.ButtonStyle.secondary,
                custom_id=human_custom_id(ref),
            )
        )
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> HumanButton:
        return cls(match["ref"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, Escalates):
            await client.escalate(interaction, self.ref)


def answer_view(ref: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(HumanButton(ref))
    return view


def to_embed(spec: EmbedSpec) -> discord.Embed:
    embed = discord.Embed(
        title=spec.title or None, description=spec.description or None, color=spec.color
    )
    embed.set_footer(text=spec.footer)
    return embed
