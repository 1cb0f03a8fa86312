from __future__ import annotations

import re
from datetime import datetime

import pytest

from bot.adapters import slack_render as render
from bot.models import Answer, Citation, Digest, DigestSection

PINGS = re.compile(r"<[!@#]|@(channel|here|everyone)\b", re.IGNORECASE)


def citation(title: str = "Aula 3", start: float = 721, end: float = 888) -> Citation:
    return Citation(
        segment_id=f"vid@{int(start)}",
        video_id="vid",
        title=title,
        start_s=start,
        end_s=end,
        url=f"https://youtu.be/vid?t={int(start)}",
    )


def answer(
    text: str, *citations: Citation, fallback: bool = False, abstained: bool = False
) -> Answer:
    return Answer(
        interaction_id="01JTESTINTERACTION0000000",
        text=text,
        citations=citations,
        abstained=abstained,
        fallback=fallback,
        model="fake",
    )


def note(message: render.SlackMessage) -> str:
    [context] = [b for b in message.blocks if b["type"] == "context"]
    return str(context["elements"][0]["text"])


def texts(blocks: tuple[render.Block, ...]) -> list[str]:
    """Every mrkdwn/plain text a message shows."""
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(
                element["text"]["text"] if element.get("type") == "button" else element["text"]
            )
    return found


@pytest.mark.parametrize(
    "llm_text",
    [
        "<!channel> olhem",
        "<!here>",
        "<!everyone>",
        "oi <@U0123ABC>",
        "<!subteam^S0TAS|@monitores>",
        "@channel veja",
        "@here",
        "@Everyone!",
        "<!date^1392734382^{date}|x>",
    ],
)
def test_neutralise_leaves_no_ping(llm_text: str) -> None:
    safe = render.neutralise(llm_text)
    assert not PINGS.search(safe), safe
    # Slack shows the entities as the characters: the student reads what was written
    assert render.unescape(safe).replace("\u2060", "") == llm_text


def test_to_mrkdwn_converts_markdown_but_never_rebuilds_a_mention() -> None:
    text = (
        "## Saída\n**Softmax** em [Aula 3](https://youtu.be/x?t=1&a=2)\n- item\n"
        "[x](!channel) [y](<@U1>) [z](javascript:alert)"
    )
    mrkdwn = render.to_mrkdwn(text)
    assert mrkdwn.startswith(
        "*Saída*\n*Softmax* em <https://youtu.be/x?t=1&amp;a=2|Aula 3>\n• item"
    )
    assert not PINGS.search(mrkdwn)
    assert "<javascript" not in mrkdwn and "[z](javascript:alert)" in mrkdwn


def test_citation_link_uses_the_shared_label_and_escapes() -> None:
    assert render.citation_link(citation()) == "<https://youtu.be/vid?t=721|Aula 3 · 12:01–14:48>"
    tricky = Citation("s", "v", "A&B <c> | d", 5, 65, "https://x.org/v?a=1&t=5")
    assert render.citation_link(tricky) == (
        "<https://x.org/v?a=1&amp;t=5|A&amp;B &lt;c&gt; ¦ d · 00:05–01:05>"
    )


def test_split_never_cuts_a_link_and_respects_the_limit() -> None:
    link = render.citation_link(citation())
    words = [f"palavra{i}" if i % 7 else link for i in range(2000)]
    text = " ".join(words)
    chunks = render.split_mrkdwn(text, limit=500)
    assert len(chunks) > 10
    assert all(len(c) <= 500 for c in chunks)
    assert all(c.count("<") == c.count(">") for c in chunks)  # every link whole
    assert " ".join(chunks) == text


def test_split_keeps_entities_whole_and_prefers_paragraphs() -> None:
    text = "a" * 8 + "&amp;" + "b" * 10
    assert render.split_mrkdwn(text, limit=10) == ["a" * 8, "&amp;" + "b" * 5, "b" * 5]
    assert render.split_mrkdwn("um dois\n\ntrês quatro", limit=12) == ["um dois", "três quatro"]


def test_short_answer_is_one_message_with_sources_note_and_buttons() -> None:
    [message] = render.answer_messages(answer("A saída usa **softmax**.", citation()))
    kinds = [b["type"] for b in message.blocks]
    assert kinds == ["section", "section", "context", "actions"]
    shown = texts(message.blocks)
    assert shown[0] == "A saída usa *softmax*."
    assert "<https://youtu.be/vid?t=721|Aula 3 · 12:01–14:48>" in shown[1]
    buttons = message.blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == [
        render.VOTE_UP_ACTION,
        render.VOTE_DOWN_ACTION,
        render.ESCALATE_ACTION,
    ]
    assert {b["value"] for b in buttons} == {"01JTESTINTERACTION0000000"}
    assert "gerada por IA" in note(message) and "não gerada" not in note(message)


def test_fallback_and_abstention_are_labelled() -> None:
    [fallback] = render.answer_messages(answer("Trechos:", citation(), fallback=True))
    assert "não gerada por IA" in note(fallback)
    [abstained] = render.answer_messages(answer("Não sei.", abstained=True))
    assert "Não encontrei isso nas aulas" in note(abstained)


def test_written_out_citations_become_links_without_a_second_list() -> None:
    c = citation()
    text = f"⚠️ Resposta automática sem IA:\n\n1. Aula 3 · 12:01–14:48 — {c.url}\n   “trecho”"
    [message] = render.answer_messages(answer(text, c, fallback=True))
    assert [b["type"] for b in message.blocks] == ["section", "context", "actions"]
    assert "1. <https://youtu.be/vid?t=721|Aula 3 · 12:01–14:48>\n" in texts(message.blocks)[0]


def test_huge_answer_is_split_into_messages_within_slack_limits() -> None:
    paragraph = "x" * 2500
    text = "\n\n".join([paragraph] * 120)
    messages = render.answer_messages(answer(text, *[citation(start=i * 60) for i in range(300)]))
    assert len(messages) >= 3
    for message in messages:
        assert len(message.blocks) <= render.MAX_BLOCKS
        assert all(0 < len(t) <= render.SECTION_LIMIT for t in texts(message.blocks))
        assert len(message.text) <= render.NOTIFICATION_CHARS + 50
    assert [b["type"] for m in messages for b in m.blocks].count("actions") == 1
    assert messages[-1].blocks[-1]["type"] == "actions"
    shown = "\n".join(t for m in messages for t in texts(m.blocks))
    assert shown.count("youtu.be") == 300


def test_answer_metadata_round_trip() -> None:
    meta = render.answer_metadata("01JX", "ml")
    assert render.answer_ref({"metadata": meta}) == render.AnswerRef("01JX", "ml")
    assert render.answer_ref({"metadata": {"event_type": "other", "event_payload": {}}}) is None
    assert render.answer_ref({"text": "no metadata"}) is None


@pytest.mark.parametrize(
    ("reaction", "value"),
    [
        ("+1", 1),
        ("thumbsup", 1),
        ("+1::skin-tone-4", 1),
        ("-1", -1),
        ("thumbsdown", -1),
        ("heart", None),
        ("eyes", None),
    ],
)
def test_vote_value(reaction: str, value: int | None) -> None:
    assert render.vote_value(reaction) == value


def test_question_text_drops_the_bot_mention_and_decodes_entities() -> None:
    raw = "<@UBOT> o que é a &lt;saída&gt; &amp; <@UBOT|assistente>  o <@U2>?"
    assert render.question_text(raw, "UBOT") == "o que é a <saída> & o <@U2>?"
    assert render.mentions(raw, "UBOT") and not render.mentions(raw, "U3")


def test_escalation_pings_the_tas_on_purpose() -> None:
    message = render.escalation_message(("UTA", "UTB"), "STAS", asker="U1")
    assert message.text.startswith("<@UTA> <@UTB> <!subteam^STAS>:")
    assert "<@U1>" in message.text
    lonely = render.escalation_message((), "", asker="U1")
    assert "ta_user_ids" in lonely.text and "subteam" not in lonely.text


def test_question_echo_and_progress_are_neutralised() -> None:
    echo = render.question_echo("U1", "<!channel> alguém sabe?")
    shown = texts(echo.blocks)[0]
    assert shown.startswith("*Pergunta de <@U1>:*")
    assert not PINGS.search(shown.split("\n", 1)[1]) and not PINGS.search(echo.text)
    progress = render.progress_message("@everyone " + "y" * 10_000)
    assert all(len(t) <= render.SECTION_LIMIT for t in texts(progress.blocks))
    assert not PINGS.search(texts(progress.blocks)[0])


def test_digest_messages_escape_student_text() -> None:
    digest = Digest(
        course_id="ml",
        week_start=datetime(2026, 3, 2),
        sections=(
            DigestSection("Perguntas", ("<!channel> qual a prova?", "a & b")),
            DigestSection("Vazia", ()),
        ),
    )
    [message] = render.digest_messages("Aprendizado de Máquina", digest)
    assert message.blocks[0]["text"]["text"].endswith("semana de 02/03/2026")
    shown = texts(message.blocks)
    assert "• &lt;!channel&gt; qual a prova?" in shown[1] and "a &amp; b" in shown[1]
    assert shown[2] == "*Vazia*\n_(nada)_"
