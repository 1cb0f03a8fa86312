"""Slack Block Kit for answers, digests and notices. Pure functions, no Slack library.

Everything an LLM or a student wrote goes through ``neutralise`` before it reaches Slack:
escaping ``&``, ``<`` and ``>`` turns ``<!channel>``, ``<@U…>`` and ``<!subteam^…>`` into
plain text, and a word joiner after ``@`` keeps ``@channel``/``@here``/``@everyone`` from
being parsed as pings. Only ``escalation_message`` mentions people, on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.adapters.common import split_text
from bot.citations import citation_label
from bot.courses import Course
from bot.digest_week import split_links
from bot.limits import place_in_line_text
from bot.models import Answer, Citation, Digest, Erased

Block = dict[str, Any]

SECTION_LIMIT = 3000  # characters of a section's text
MAX_BLOCKS = 50  # blocks per message
NOTIFICATION_CHARS = 300  # the `text` shown in notifications; the blocks carry the answer
PROGRESS_CHARS = 2800

METADATA_EVENT = "course_assistant_answer"
VOTE_UP_ACTION = "answer_vote_up"
VOTE_DOWN_ACTION = "answer_vote_down"
ESCALATE_ACTION = "answer_escalate"

PLACEHOLDER = "Procurando nas aulas…"
_WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class SlackMessage:
    """One chat message: ``text`` is the notification fallback, ``blocks`` what is shown."""

    text: str
    blocks: tuple[Block, ...]

    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


# --- text safety -------------------------------------------------------------------------

_BROADCAST_WORD = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Slack's three control characters; after this no ``<…>`` mention or link survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutralise(text: str) -> str:
    """Text that pings no one and shows as written (entities render as the characters)."""
    return _BROADCAST_WORD.sub(lambda m: "@" + _WORD_JOINER + m.group(1), escape(text))


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def link(url: str, label: str) -> str:
    """``<url|label>`` with both parts escaped; ``|`` would end the URL, so labels avoid it."""
    return f"<{escape(url)}|{neutralise(label).replace('|', '¦')}>"


def citation_link(citation: Citation) -> str:
    return link(citation.url, citation_label(citation))


# --- Markdown (what Claude writes) to Slack mrkdwn -----------------------------------------

_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_MD_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_MD_BULLET = re.compile(r"^(\s*)[-*]\s+", re.MULTILINE)


def to_mrkdwn(text: str) -> str:
    """Neutralised mrkdwn for LLM Markdown: links, bold, headings and bullets converted.

    Link targets must be http(s) so that no ``<!…>``/``<@…>`` can be rebuilt from a link.
    """
    safe = neutralise(text)
    safe = _MD_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '¦')}>", safe)
    safe = _MD_HEADING.sub(lambda m: f"*{m.group(1)}*", safe)
    safe = _MD_BULLET.sub(lambda m: f"{m.group(1)}• ", safe)
    return _MD_BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", safe)


# --- splitting at Slack's limits ------------------------------------------------------------

_ATOM = re.compile(r"<[^<>\n]*>|&(?:amp|lt|gt);")  # never cut inside a link or an entity


def split_mrkdwn(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Chunks of at most ``limit`` characters, never inside a ``<link|label>`` or an entity."""
    return split_text(text, limit, _ATOM)


# --- blocks -------------------------------------------------------------------------------


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def sections(mrkdwn: str) -> list[Block]:
    return [section(chunk) for chunk in split_mrkdwn(mrkdwn)]


def context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def feedback_actions(interaction_id: str) -> Block:
    """👍 / 👎 / a human: every value is the interaction id, so a click needs no lookup."""
    return {
        "type": "actions",
        "block_id": f"feedback:{interaction_id}",
        "elements": [
            _button("👍 Ajudou", VOTE_UP_ACTION, interaction_id),
            _button("👎 Não ajudou", VOTE_DOWN_ACTION, interaction_id),
            _button("Preciso de um humano", ESCALATE_ACTION, interaction_id, "primary"),
        ],
    }


def answer_note(answer: Answer) -> str:
    if answer.repeat_of:
        return (
            ":recycle: Mesma resposta dada há pouco a esta mesma pergunta "
            f"(ref `{answer.repeat_of}`); confira nos vídeos."
        )
    if answer.fallback:
        return (
            ":warning: Resposta montada a partir dos trechos das aulas, *não gerada por IA* "
            "(o assistente está indisponível agora). Confira nos vídeos."
        )
    if answer.abstained:
        return ":mag: Não encontrei isso nas aulas. Se precisar, chame um monitor no botão abaixo."
    return ":robot_face: Resposta gerada por IA a partir das aulas; confira nos vídeos."


def sources_mrkdwn(citations: Sequence[Citation]) -> str:
    lines = [f"• {citation_link(c)}" for c in citations]
    return "*Trechos das aulas*\n" + "\n".join(lines)


def _linked(body: str, citations: Sequence[Citation]) -> str:
    """``Aula 3 · 12:01–14:48 — https://…`` written out (the fallback does) becomes a link."""
    for c in citations:
        body = body.replace(f"{neutralise(citation_label(c))} — {escape(c.url)}", citation_link(c))
    return body


def answer_messages(answer: Answer) -> list[SlackMessage]:
    """The answer as one message (several when it passes 50 blocks); feedback goes last."""
    body = _linked(to_mrkdwn(answer.text), answer.citations)
    blocks = sections(body or "_(resposta vazia)_")
    if not all(citation_link(c) in body for c in answer.citations):
        blocks += sections(sources_mrkdwn(answer.citations))
    blocks.append(context(answer_note(answer)))
    blocks.append(feedback_actions(answer.interaction_id))
    preview = neutralise(answer.text.strip()[:NOTIFICATION_CHARS]) or PLACEHOLDER
    pages = [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)]
    return [SlackMessage(text=preview, blocks=tuple(page)) for page in pages]


def placeholder_message() -> SlackMessage:
    return SlackMessage(
        text=PLACEHOLDER, blocks=(context(f":hourglass_flowing_sand: {PLACEHOLDER}"),)
    )


def place_message(place: int) -> SlackMessage:
    """The placeholder while the question waits in line for the model."""
    text = place_in_line_text(place)
    return SlackMessage(text=text, blocks=(context(f":hourglass_flowing_sand: {text}"),))


def progress_message(text_so_far: str) -> SlackMessage:
    """The answer while Claude writes it: one section, cut short, marked as unfinished."""
    body = to_mrkdwn(text_so_far)
    shown = split_mrkdwn(body, PROGRESS_CHARS)
    first = shown[0] + (" …" if len(shown) > 1 else "") if shown else PLACEHOLDER
    return SlackMessage(
        text=PLACEHOLDER, blocks=(section(first), context(":writing_hand: escrevendo…"))
    )


def answer_metadata(interaction_id: str, course_id: str) -> dict[str, Any]:
    """Message metadata: lets a reaction find its interaction after a restart."""
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"interaction_id": interaction_id, "course_id": course_id},
    }


@dataclass(frozen=True)
class AnswerRef:
    interaction_id: str
    course_id: str


def answer_ref(message: dict[str, Any]) -> AnswerRef | None:
    """The interaction an answer message belongs to, read from its metadata."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    payload = metadata.get("event_payload") or {}
    interaction_id, course_id = payload.get("interaction_id"), payload.get("course_id")
    if not isinstance(interaction_id, str) or not isinstance(course_id, str) or not interaction_id:
        return None
    return AnswerRef(interaction_id, course_id)


# --- reading what people wrote ----------------------------------------------------------


def vote_value(reaction: str) -> int | None:
    """1 for 👍, -1 for 👎 (any skin tone), None for other emoji."""
    name = reaction.split("::", 1)[0]
    return {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}.get(name)


def standing_vote(reactions: Sequence[dict[str, Any]], user: str) -> int:
    """The user's vote from a message's reactions (Slack's ``[{name, users}]``): 1, -1, or 0
    when they have neither thumb (or, oddly, both)."""
    values = {vote_value(r.get("name", "")) for r in reactions if user in r.get("users", [])}
    values.discard(None)
    return values.pop() if len(values) == 1 else 0  # type: ignore[return-value]


def question_text(raw: str, bot_user_id: str) -> str:
    """What a student asked: the bot's own mention removed, Slack's entities decoded."""
    if bot_user_id:
        raw = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", raw)
    return " ".join(unescape(raw).split())


def mentions(raw: str, user_id: str) -> bool:
    return bool(user_id) and re.search(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>", raw) is not None


# --- notices ------------------------------------------------------------------------------


def question_echo(user_id: str, text: str) -> SlackMessage:
    """The thread parent for ``/ask`` (a slash command leaves no message to reply under)."""
    body = f"*Pergunta de <@{user_id}>:*\n{neutralise(text)}"
    return SlackMessage(
        text=f"Pergunta: {neutralise(text)[:NOTIFICATION_CHARS]}", blocks=tuple(sections(body))
    )


def failure_message(ref: str | None, tas_told: bool) -> SlackMessage:
    """``ref``: the kept interaction the failure is recorded under (None when there is none)."""
    then = "Os monitores foram avisados." if tas_told else "Tente de novo em alguns minutos."
    where = f" (ref `{ref}`)" if ref else ""
    text = f":warning: Não consegui responder agora{where}. {then}"
    return SlackMessage(text=text, blocks=(section(text),))


def invalid_question(reason: str) -> str:
    return f"Não consigo responder essa pergunta ({escape(reason)}). Reescreva e tente de novo."


RESTARTING = (
    ":arrows_counterclockwise: Estou reiniciando: pergunte de novo em um minuto, por favor."
)


def notice(text: str) -> SlackMessage:
    return SlackMessage(text=text, blocks=(section(text),))


def ta_alert_text(ref: str, channel: str, alert: str, *, answered: bool) -> str:
    """For the TA channel: where, which interaction, what broke; with no ping."""
    what = "Resposta automática (sem IA) dada" if answered else "Falha ao responder uma pergunta"
    return f":rotating_light: {what} em <#{channel}> (ref `{ref}`): {neutralise(alert)[:500]}"


def escalation_message(
    ta_user_ids: Iterable[str], ta_usergroup_id: str, asker: str
) -> SlackMessage:
    """The one deliberate ping: the course's TAs, by user or by user group."""
    tags = [f"<@{user}>" for user in ta_user_ids]
    if ta_usergroup_id:
        tags.append(f"<!subteam^{ta_usergroup_id}>")
    if not tags:
        text = (
            f"<@{asker}> pediu ajuda de um monitor, mas esta disciplina não tem monitores "
            "configurados no Slack (ta_user_ids / ta_usergroup_id)."
        )
    else:
        text = f"{' '.join(tags)}: <@{asker}> pediu ajuda de um monitor nesta conversa."
    return notice(text)


def unconfigured_channel_note(channel: str) -> str:
    return (
        f"Este canal (<#{channel}>) não está ligado a nenhuma disciplina, então não respondo "
        f"aqui. Para ativar, acrescente `{channel}` em `channel_ids` na seção `[courses.slack]` "
        "da disciplina no COURSES_FILE e reinicie o bot."
    )


def ask_where_note(channel_ids: Sequence[str]) -> str:
    if not channel_ids:
        return "Nenhuma disciplina está configurada no Slack ainda; fale com os monitores."
    places = ", ".join(f"<#{c}>" for c in channel_ids)
    return f"Pergunte no canal da sua disciplina ({places}): me mencione ou use `/ask`."


ASK_HELP = "Escreva a pergunta junto, por exemplo: `/ask o que a camada de saída da U-Net faz?`"
MENTION_HELP = "Me mencione com a sua pergunta, por exemplo: _@assistente o que é dropout?_"
CANNOT_POST = "Não consigo escrever neste canal; me adicione a ele (`/invite`) e pergunte de novo."
TA_ONLY = "Desculpe, este comando é só para os monitores da disciplina."
FORGET_HELP = "Diga qual estudante: `/forget @nome`."


def forgotten_text(course: Course, erased: Erased) -> str:
    """The reply to /forget: what was deleted of the student in the course."""
    return f":wastebasket: Dados do estudante em *{neutralise(course.name)}*: {erased.describe()}."


ALREADY_ESCALATED = "Os monitores já foram chamados nesta conversa; logo alguém responde."
THANKS_FOR_VOTE = "Obrigado pelo retorno! Ele ajuda os monitores a melhorar as respostas."


# --- digest -------------------------------------------------------------------------------


def digest_messages(course_name: str, digest: Digest) -> list[SlackMessage]:
    week = digest.week_start.strftime("%d/%m/%Y")
    title = f"Resumo semanal · {course_name} · semana de {week}"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}}
    ]
    for part in digest.sections:
        lines = "\n".join(f"• {_digest_line(line)}" for line in part.lines) or "_(nada)_"
        blocks += sections(f"*{neutralise(part.heading)}*\n{lines}")
    text = neutralise(title)
    pages = [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)]
    return [SlackMessage(text=text, blocks=tuple(page)) for page in pages]


def _digest_line(line: str) -> str:
    """A digest line in mrkdwn: its links as Slack links, the rest shown as written."""
    return "".join(link(url, text) if url else neutralise(text) for text, url in split_links(line))
