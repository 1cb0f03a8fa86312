"""What the Discord adapter shows and decides, without Discord: bot.adapters.discord_render."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.adapters.discord_render import (
    LABEL_ABSTAINED,
    LABEL_ANSWER,
    LABEL_FALLBACK,
    MESSAGE_LIMIT,
    PLACEHOLDER,
    THREAD_NAME_LIMIT,
    citations_block,
    course_for_ta_command,
    dm_where_to_ask,
    escalated_thread_name,
    escalation_text,
    human_custom_id,
    is_ta,
    progress_text,
    question_echo,
    ref_from_custom_id,
    ref_from_footer,
    render_answer,
    split_message,
    strip_bot_mention,
    thread_name,
    vote_value,
)
from bot.citations import citation_label
from bot.courses import Course, DiscordPlace
from bot.models import Answer, Citation

LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)")


def citation(n: int = 3, start: float = 721, end: float = 871, video: str = "abc") -> Citation:
    return Citation(
        segment_id=f"{video}@{int(start)}",
        video_id=video,
        title=f"Aula {n}",
        start_s=start,
        end_s=end,
        url=f"https://youtu.be/{video}?t={int(start)}",
    )


def answer(text: str = "A U-Net usa softmax.", **fields: object) -> Answer:
    values: dict[str, object] = {
        "interaction_id": "01HX0000000000000000000000",
        "text": text,
        "citations": (citation(),),
        "abstained": False,
        "fallback": False,
        **fields,
    }
    return Answer(**values)  # type: ignore[arg-type]


def test_answer_has_its_text_the_citations_as_links_and_the_ref_in_the_footer() -> None:
    rendered = render_answer(answer())
    assert rendered.chunks == ("A U-Net usa softmax.",)
    assert rendered.embed.description == "• [Aula 3 · 12:01–14:31](https://youtu.be/abc?t=721)"
    assert rendered.embed.footer == f"{LABEL_ANSWER} · ref 01HX0000000000000000000000"
    assert ref_from_footer(rendered.embed.footer) == rendered.ref == "01HX0000000000000000000000"


@pytest.mark.parametrize(
    ("fields", "label"),
    [({"fallback": True}, LABEL_FALLBACK), ({"abstained": True, "citations": ()}, LABEL_ABSTAINED)],
)
def test_fallbacks_and_abstentions_are_labelled(fields: dict[str, object], label: str) -> None:
    rendered = render_answer(answer(**fields))
    assert rendered.embed.footer.startswith(label)
    assert rendered.embed.color != render_answer(answer()).embed.color


def test_an_answer_without_citations_says_so() -> None:
    assert "Nenhum trecho" in citations_block(())
    assert citations_block((), abstained=True) == ""


def test_many_citations_are_capped_and_counted() -> None:
    block = citations_block(tuple(citation(start=60 * i) for i in range(14)))
    assert block.count("https://") == 10 and block.endswith("…e mais 4 trecho(s).")


def test_labels_come_from_citation_label_and_brackets_cannot_break_the_link() -> None:
    odd = Citation("s", "v", "Aula [extra] 2", 3725, 3800, "https://youtu.be/v?t=3725")
    block = citations_block((odd,))
    assert citation_label(odd).replace("[", "\\[").replace("]", "\\]") in block
    assert block.endswith("(https://youtu.be/v?t=3725)")


def test_long_answers_split_within_the_limit_and_never_inside_a_link() -> None:
    link = "[Aula 3 · 12:01–14:48](https://youtu.be/ID?t=721)"
    text = " ".join(f"palavra{i} {link}" for i in range(120))
    chunks = split_message(text)
    assert len(chunks) > 1
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert sum(len(LINK.findall(c)) for c in chunks) == 120  # every link intact
    assert " ".join(chunks) == text


def test_split_prefers_paragraphs_then_lines() -> None:
    first, second = "a" * 1500, "b" * 1000
    assert split_message(f"{first}\n\n{second}") == [first, second]
    assert split_message(f"{first}\n{second}") == [first, second]


def test_a_link_straddling_the_limit_moves_to_the_next_chunk() -> None:
    link = "[Aula 1 · 00:01–00:10](https://youtu.be/x?t=1)"
    text = "x" * 1990 + link  # no space to cut at
    assert split_message(text) == ["x" * 1990, link]


def test_short_and_empty_texts() -> None:
    assert split_message("  oi  ") == ["oi"]
    assert split_message("") == []
    assert render_answer(answer(text="")).chunks == ("…",)


def test_thread_names_are_one_line_and_fit_discord() -> None:
    assert thread_name("  O que é\n dropout? ") == "O que é dropout?"
    long = thread_name("palavra " * 40)
    assert len(long) <= THREAD_NAME_LIMIT and long.endswith("…") and "  " not in long
    assert thread_name("   ") == "Pergunta"


def test_the_bot_mention_is_stripped_wherever_it_is() -> None:
    assert strip_bot_mention("<@42> o que é dropout?", 42) == "o que é dropout?"
    assert strip_bot_mention("o que é <@!42>  dropout?", 42) == "o que é dropout?"
    assert strip_bot_mention("<@43> oi", 42) == "<@43> oi"


def test_progress_shows_the_text_so_far_within_the_limit() -> None:
    assert progress_text("") == PLACEHOLDER
    assert progress_text("A U-Net") == "A U-Net ▌"
    assert len(progress_text("x" * 5000)) <= MESSAGE_LIMIT


def test_the_question_echo_quotes_every_line_and_fits() -> None:
    assert question_echo("linha 1\nlinha 2").endswith("> linha 1\n> linha 2")
    assert len(question_echo("x" * 2500)) <= MESSAGE_LIMIT


def test_the_button_custom_id_round_trips_the_ref() -> None:
    assert ref_from_custom_id(human_custom_id("01HXABC")) == "01HXABC"
    assert ref_from_custom_id("vote:up:01HXABC") is None
    assert ref_from_custom_id(None) is None
    assert ref_from_footer("qualquer coisa") is None


def test_escalated_threads_are_marked_once() -> None:
    marked = escalated_thread_name("O que é dropout?")
    assert marked == "🙋 O que é dropout?" and escalated_thread_name(marked) == marked
    assert len(escalated_thread_name("x" * THREAD_NAME_LIMIT)) == THREAD_NAME_LIMIT


def test_votes_from_emoji() -> None:
    assert [vote_value("👍", True), vote_value("👎", True)] == [1, -1]
    assert vote_value("👍", False) == vote_value("👎", False) == 0
    assert vote_value("🎉", True) is None


def test_escalation_pings_the_ta_roles_or_says_none_are_configured() -> None:
    assert escalation_text((7, 8), "R1").startswith("🙋 <@&7> <@&8> ")
    assert "ta_role_ids" in escalation_text((), "R1") and "<@&" not in escalation_text((), "R1")


def course(course_id: str, ta_channel: int = 0, roles: tuple[int, ...] = (9,)) -> Course:
    place = DiscordPlace(guild_id=1, channel_ids=(10,), ta_role_ids=roles, ta_channel_id=ta_channel)
    return Course(id=course_id, name=course_id.upper(), discord=place)


def test_ta_commands_find_their_course_and_check_roles() -> None:
    ml, bio = course("ml", ta_channel=20), course("bio", ta_channel=30)
    assert course_for_ta_command([ml, bio], bio, 10) is bio
    assert course_for_ta_command([ml, bio], None, 20) is ml
    assert course_for_ta_command([ml, bio], None, 99) is None
    assert course_for_ta_command([ml], None, 99) is ml
    assert is_ta([1, 9], ml.discord.ta_role_ids) and not is_ta([1], ml.discord.ta_role_ids)


def test_a_dm_explains_where_to_ask() -> None:
    assert "nenhuma disciplina" in dm_where_to_ask([])
    assert "BIO, ML" in dm_where_to_ask([course("ml"), course("bio")])


def test_rendering_does_not_import_discord() -> None:
    code = "import sys, bot.adapters.discord_render; sys.exit('discord' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
