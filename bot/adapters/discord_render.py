"""What the Discord adapter shows and decides, as pure functions (no ``discord`` import).

Message texts, the answer's layout (content split at Discord's 2,000 characters, citations
in an embed), where the answer's interaction id is written on the message so that it
survives restarts, vote emoji and TA checks (the progress throttle is in ``common``).

The interaction id ("ref") is written twice on every answer message: in the custom_id of its
"Preciso de um humano" button (``human:<ref>``, a persistent dynamic item) and in the embed
footer (``… · ref <ref>``). A reaction or a click after a restart finds the interaction by
reading the message back from Discord; no table of our own maps message ids to refs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.adapters.common import sole_course, split_text
from bot.citations import citation_label
from bot.courses import Course
from bot.digest import render_digest_markdown
from bot.limits import place_in_line_text
from bot.models import Answer, Citation, Digest, Erased

MESSAGE_LIMIT = 2000
THREAD_NAME_LIMIT = 100
EMBED_DESCRIPTION_LIMIT = 4096
MAX_CITATIONS_SHOWN = 10

PLACEHOLDER = "🔎 Procurando nas aulas…"
THUMBS_UP, THUMBS_DOWN = "👍", "👎"
VOTE_EMOJI = (THUMBS_UP, THUMBS_DOWN)
HUMAN_BUTTON_LABEL = "Preciso de um humano"
# The button's custom_id; DynamicItem templates are matched with re.fullmatch.
HUMAN_CUSTOM_ID_TEMPLATE = r"human:(?P<ref>[0-9A-Za-z]{1,64})"

COLOR_ANSWER = 0x2B8A3E
COLOR_FALLBACK = 0xE67700
COLOR_ABSTAINED = 0x868E96

LABEL_ANSWER = "Resposta gerada por IA a partir das aulas — confira nos vídeos"
LABEL_FALLBACK = "⚠️ Resposta automática sem IA: trechos das aulas mais próximos da pergunta"
LABEL_ABSTAINED = "Sem base nas aulas — use “Preciso de um humano” para chamar um monitor"
LABEL_REPEAT = (
    "♻️ Mesma resposta dada há pouco a esta mesma pergunta (ref {ref}) — confira nos vídeos"
)

USAGE_HINT = "Escreva a pergunta junto com a menção, por exemplo: `@Monitor o que é dropout?`"
TA_ONLY = "🔒 Este comando é só para monitores da disciplina."


def forgotten_text(course: Course, erased: Erased) -> str:
    """The reply to /forget: what was deleted of the student in the course."""
    return f"🗑️ Dados do estudante em {course.name}: {erased.describe()}."


ESCALATION_ACK = "🙋 Chamei os monitores; alguém vai responder por aqui."
ALREADY_ESCALATED = "🙋 Os monitores já foram chamados nesta conversa; logo alguém responde."
RESTARTING = "🔄 Estou reiniciando: pergunte de novo em um minuto, por favor."
UNKNOWN_ANSWER = "Não encontrei essa resposta no registro; pergunte de novo, por favor."
NO_COURSE_HERE = (
    "Este canal não está ligado a nenhuma disciplina. Pergunte no canal da sua disciplina, "
    "mencionando o bot ou usando `/ask`."
)

_REF_IN_FOOTER = re.compile(r"\bref ([0-9A-Za-z]{1,64})\s*$")
_LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class EmbedSpec:
    title: str
    description: str
    footer: str
    color: int


@dataclass(frozen=True)
class RenderedAnswer:
    chunks: tuple[str, ...]  # message contents, each within MESSAGE_LIMIT
    embed: EmbedSpec  # goes on the last chunk, with the button and the vote reactions
    ref: str


def render_answer(answer: Answer) -> RenderedAnswer:
    chunks = split_message(answer.text) or ["…"]
    embed = EmbedSpec(
        title="Trechos das aulas" if answer.citations else "",
        description=citations_block(answer.citations, abstained=answer.abstained),
        footer=f"{answer_label(answer)} · ref {answer.interaction_id}",
        color=_color(answer),
    )
    return RenderedAnswer(chunks=tuple(chunks), embed=embed, ref=answer.interaction_id)


def answer_label(answer: Answer) -> str:
    if answer.repeat_of:
        return LABEL_REPEAT.format(ref=answer.repeat_of)
    if answer.fallback:
        return LABEL_FALLBACK
    if answer.abstained:
        return LABEL_ABSTAINED
    return LABEL_ANSWER


def _color(answer: Answer) -> int:
    if answer.fallback:
        return COLOR_FALLBACK
    return COLOR_ABSTAINED if answer.abstained else COLOR_ANSWER


def citations_block(citations: Sequence[Citation], *, abstained: bool = False) -> str:
    """``• [Aula 3 · 12:01–14:48](https://youtu.be/ID?t=721)`` lines; says so when none."""
    if not citations:
        return "" if abstained else "Nenhum trecho das aulas foi citado nesta resposta."
    shown = list(citations[:MAX_CITATIONS_SHOWN])
    lines = [f"• [{_escape_label(citation_label(c))}]({c.url})" for c in shown]
    hidden = len(citations) - len(shown)
    if hidden:
        lines.append(f"…e mais {hidden} trecho(s).")
    return "\n".join(lines)[:EMBED_DESCRIPTION_LIMIT]


def _escape_label(label: str) -> str:
    return label.replace("[", "\\[").replace("]", "\\]")


def ref_from_footer(footer: str | None) -> str | None:
    match = _REF_IN_FOOTER.search(footer or "")
    return match.group(1) if match else None


def human_custom_id(ref: str) -> str:
    return f"human:{ref}"


def ref_from_custom_id(custom_id: str | None) -> str | None:
    match = re.fullmatch(HUMAN_CUSTOM_ID_TEMPLATE, custom_id or "")
    return match.group("ref") if match else None


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most ``limit`` characters, never inside a ``[label](url)`` link."""
    return split_text(text, limit, _LINK)


def thread_name(question: str) -> str:
    """The question on one line, cut at a word to fit Discord's 100-character thread name."""
    line = _SPACES.sub(" ", question).strip()
    if not line:
        return "Pergunta"
    if len(line) <= THREAD_NAME_LIMIT:
        return line
    cut = line.rfind(" ", 0, THREAD_NAME_LIMIT - 1)
    return line[: cut if cut > THREAD_NAME_LIMIT // 2 else THREAD_NAME_LIMIT - 1] + "…"


ESCALATED_MARK = "🙋 "


def escalated_thread_name(name: str) -> str:
    """The thread renamed so the TAs see it needs them."""
    if name.startswith(ESCALATED_MARK):
        return name
    return (ESCALATED_MARK + name)[:THREAD_NAME_LIMIT]


def strip_bot_mention(content: str, bot_id: int) -> str:
    """The question without ``<@bot>``/``<@!bot>``, wherever the student put it."""
    without = re.sub(rf"<@!?{bot_id}>", " ", content)
    return _SPACES.sub(" ", without).strip()


def progress_text(text_so_far: str) -> str:
    """What the placeholder shows while Claude writes: the start of the answer and a cursor."""
    room = MESSAGE_LIMIT - 2
    shown = text_so_far if len(text_so_far) <= room else text_so_far[: room - 1] + "…"
    return f"{shown} ▌" if shown.strip() else PLACEHOLDER


def place_text(place: int) -> str:
    """The placeholder while the question waits in line for the model."""
    return f"⏳ {place_in_line_text(place)}"


def question_echo(question: str) -> str:
    """The /ask reply the thread is started from: the question, quoted."""
    quoted = "\n".join(f"> {line}" for line in question.strip().splitlines() or [""])
    text = f"❓ **Pergunta:**\n{quoted}"
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def failure_text(ref: str | None, tas_told: bool = False) -> str:
    then = (
        "Os monitores foram avisados."
        if tas_told
        else "Tente de novo em instantes ou chame um monitor."
    )
    text = f"😕 Não consegui responder agora. {then}"
    return f"{text} (ref `{ref}`)" if ref else text


def ta_alert_text(ref: str, channel: str, alert: str, *, answered: bool) -> str:
    """For the TA channel, sent with no pings: where, which interaction, what broke."""
    what = "Resposta automática (sem IA) dada" if answered else "Falha ao responder uma pergunta"
    text = f"🚨 {what} em <#{channel}> (ref `{ref}`): {alert}"
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def invalid_question_text(reason: str) -> str:
    return f"⚠️ Não consegui usar essa pergunta: {reason}"


def not_configured_note(guild_id: int, channel_id: int) -> str:
    """For a TA who mentions the bot where no course is configured."""
    return (
        "ℹ️ Este canal não está ligado a nenhuma disciplina, então não respondo aqui. "
        f"Para ativá-lo, adicione `{channel_id}` a `channel_ids` (e `guild_id = {guild_id}`) "
        "na seção `[courses.discord]` da disciplina no arquivo COURSES_FILE e reinicie o bot."
    )


def dm_where_to_ask(shared: Sequence[Course]) -> str:
    """Why a DM cannot be answered: no course in common, or several to choose from."""
    if not shared:
        return (
            "Não encontrei nenhuma disciplina em comum com você. Pergunte no canal da sua "
            "disciplina no servidor, mencionando o bot ou usando `/ask`."
        )
    names = ", ".join(sorted(c.name for c in shared))
    return (
        f"Você está em mais de uma disciplina ({names}), então não sei de quais aulas buscar. "
        "Pergunte no canal da disciplina, mencionando o bot ou usando `/ask`."
    )


def escalation_text(ta_role_ids: Sequence[int], ref: str) -> str:
    if not ta_role_ids:
        return (
            "🙋 Um estudante pediu ajuda humana com esta pergunta, mas nenhum cargo de monitor "
            f"está configurado (`ta_role_ids`); avise a equipe da disciplina. (ref `{ref}`)"
        )
    roles = " ".join(f"<@&{role}>" for role in ta_role_ids)
    return f"🙋 {roles} um estudante pediu ajuda humana com esta pergunta. (ref `{ref}`)"


def digest_chunks(digest: Digest) -> list[str]:
    return split_message(render_digest_markdown(digest))


def vote_value(emoji: str, added: bool) -> int | None:
    """1 for 👍, -1 for 👎, 0 when either is removed; None for any other emoji."""
    if emoji not in VOTE_EMOJI:
        return None
    if not added:
        return 0
    return 1 if emoji == THUMBS_UP else -1


def is_ta(role_ids: Iterable[int], ta_role_ids: Iterable[int]) -> bool:
    return not set(role_ids).isdisjoint(ta_role_ids)


def course_for_ta_command(
    courses_in_guild: Sequence[Course], channel_course: Course | None, channel_id: int
) -> Course | None:
    """The course a TA command is about: the channel's course, the course whose TA channel
    this is, or the guild's only course."""
    if channel_course is not None:
        return channel_course
    for course in courses_in_guild:
        if course.discord.ta_channel_id == channel_id:
            return course
    return sole_course(courses_in_guild)
