"""One answer on Discord: a placeholder at once, the text growing while Claude writes, then
the answer with its citations embed, the "Preciso de um humano" button and the vote
reactions, or a message saying what went wrong; the TAs told when the service says so."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.adapters.common import AnswerCache, Progress
from bot.adapters.discord.messaging import NO_PINGS, EditMessage
from bot.adapters.discord.views import answer_view, to_embed
from bot.adapters.discord_render import (
    PLACEHOLDER,
    RESTARTING,
    VOTE_EMOJI,
    failure_text,
    invalid_question_text,
    place_text,
    progress_text,
    render_answer,
    ta_alert_text,
)
from bot.errors import (
    AskFailedError,
    InvalidQuestionError,
    QuestionRefusedError,
    RestartingError,
)
from bot.models import Answer, Question
from bot.service import AssistantService

log = logging.getLogger(__name__)

REMEMBERED_ANSWERS = 4096  # message id -> ref, a cache; the message itself is the record

# Message id -> the interaction it answers (None: a message of ours that is no answer).
AnswerRefs = AnswerCache[int, str | None]


class Answerer:
    """Asks the service and shows the result; remembers which message answers what."""

    def __init__(
        self,
        client: discord.Client,
        service: AssistantService,
        refs: AnswerRefs,
        progress_interval_s: float,
    ) -> None:
        self.client = client
        self.service = service
        self.refs = refs
        self.progress_interval_s = progress_interval_s

    async def answer_with_placeholder(
        self,
        target: discord.abc.Messageable,
        question: Question,
        reply_to: discord.Message | None = None,
    ) -> None:
        extra: dict[str, Any] = {"reference": reply_to} if reply_to is not None else {}
        async with self.service.restart.in_flight():  # a restart waits for the reply too
            placeholder = await target.send(PLACEHOLDER, allowed_mentions=NO_PINGS, **extra)
            edit = placeholder.edit
            answer = await self.ask(question, edit)
            if answer is not None:
                await self.show_answer_or_say_so(question, answer, edit, target, placeholder)

    async def show_answer_or_say_so(
        self,
        question: Question,
        answer: Answer,
        edit_first: EditMessage,
        target: discord.abc.Messageable,
        first: discord.Message,
    ) -> None:
        """The answer (then the TAs told, if the service says so), or the failure to post it
        under the answer's own reference."""
        try:
            await self._show_answer(answer, edit_first, target, first)
        except discord.HTTPException:
            log.exception("could not post the answer of interaction %s", answer.interaction_id)
            await edit_first(content=failure_text(answer.interaction_id), allowed_mentions=NO_PINGS)
        alert = answer.tas_alert
        await self._tell_tas(question, answer.interaction_id, alert, answered=True)

    async def ask(self, question: Question, edit: EditMessage) -> Answer | None:
        """The service's answer, or None after telling the student what went wrong (and the
        TAs, when the service says so)."""

        async def show(text_so_far: str) -> None:
            await edit(content=progress_text(text_so_far), allowed_mentions=NO_PINGS)

        async def show_place(place: int) -> None:
            await edit(content=place_text(place), allowed_mentions=NO_PINGS)

        progress = Progress(show, self.progress_interval_s, show_place=show_place)
        problem: str
        try:
            answer = await self.service.ask(question, on_text=progress, on_place=progress.place)
        except InvalidQuestionError as exc:
            problem = invalid_question_text(str(exc))
        except RestartingError:
            problem = RESTARTING
        except QuestionRefusedError as exc:
            problem = f"⏳ {exc.student_text}"
        except AskFailedError as exc:
            log.error("could not answer: %s", exc)
            alert, lately = exc.tas_alert, exc.tas_told_lately
            told = await self._tell_tas(question, exc.interaction_id, alert, told_lately=lately)
            problem = failure_text(exc.interaction_id, tas_told=told)
        except Exception:
            log.exception("ask failed for a question in course %s", question.course_id)
            problem = failure_text(None)  # no interaction was kept: no reference to show
        else:
            await progress.finish()
            return answer
        await progress.finish()
        await edit(content=problem, embed=None, allowed_mentions=NO_PINGS)
        return None

    async def _tell_tas(
        self,
        question: Question,
        ref: str,
        alert: str,
        *,
        answered: bool = False,
        told_lately: bool = False,
    ) -> bool:
        """Post ``alert`` (if any) in the course's TA channel, pinging no one; whether the TAs
        know: it was posted, or (``told_lately``) one like it was a few minutes ago."""
        channel_id = self.service.courses.get(question.course_id).discord.ta_channel_id
        if not alert or not channel_id:
            return bool(channel_id) and told_lately
        text = ta_alert_text(ref, question.channel, alert, answered=answered)
        try:
            await self.client.get_partial_messageable(channel_id).send(
                text, allowed_mentions=NO_PINGS
            )
        except discord.HTTPException:
            log.exception("could not tell the TAs in channel %s", channel_id)
            return False
        return True

    async def _show_answer(
        self,
        answer: Answer,
        edit_first: EditMessage,
        target: discord.abc.Messageable,
        first: discord.Message,
    ) -> None:
        """The first chunk replaces the placeholder; the last carries citations, button, votes."""
        rendered = render_answer(answer)
        embed, view = to_embed(rendered.embed), answer_view(rendered.ref)
        chunks = rendered.chunks
        if len(chunks) == 1:
            last = (
                await edit_first(
                    content=chunks[0], embed=embed, view=view, allowed_mentions=NO_PINGS
                )
                or first
            )
        else:
            await edit_first(content=chunks[0], allowed_mentions=NO_PINGS)
            for chunk in chunks[1:-1]:
                await target.send(chunk, allowed_mentions=NO_PINGS)
            last = await target.send(chunks[-1], embed=embed, view=view, allowed_mentions=NO_PINGS)
        self.refs.remember(last.id, rendered.ref)
        await _add_vote_reactions(last)


async def _add_vote_reactions(message: discord.Message) -> None:
    # The answer is already shown: a failure here must not replace it with an error.
    try:
        for emoji in VOTE_EMOJI:
            await message.add_reaction(emoji)
    except discord.HTTPException:
        log.warning("could not add the vote reactions to message %s", message.id, exc_info=True)
