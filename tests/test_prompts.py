"""Pure tests of what we send Claude (bot.prompts) and how its reply becomes a Draft
(bot.drafts)."""

from __future__ import annotations

import pytest

from bot.drafts import EMPTY_ABSTENTION, ReplyPart, draft_from_reply, map_citations
from bot.models import Hit, Question, Segment, Turn, Usage
from bot.prompts import (
    ABSTAIN_MARKER,
    DEFAULT_POLICY,
    build_messages,
    history_messages,
    search_result_block,
    split_abstention,
    system_prompt,
    visible_text,
)


def make_hit(
    rank: int, start_s: float, text: str, url: str = "https://youtu.be/vid00000001"
) -> Hit:
    segment = Segment(
        id=f"seg{rank}",
        course_id="ml",
        video_id="vid00000001",
        title="Aula 3",
        url=url,
        start_s=start_s,
        end_s=start_s + 167,
        text=text,
    )
    return Hit(segment=segment, score=0.8, rank=rank)


HITS = (make_hit(1, 721.9, "saída com softmax"), make_hit(2, 5241, "encoder"))
USAGE = Usage(100, 20)


def test_system_prompt_carries_the_policy_the_marker_and_the_language_rule() -> None:
    prompt = system_prompt("Nunca entregue a solução da lista 2.")

    assert "<policy>\nNunca entregue a solução da lista 2.\n</policy>" in prompt
    assert f"begin your reply with the exact marker {ABSTAIN_MARKER}" in prompt
    assert "language the student wrote" in prompt
    assert "Use only what the lecture excerpts say" in prompt


def test_an_empty_policy_uses_the_default() -> None:
    assert DEFAULT_POLICY in system_prompt("  ")


def test_search_result_block_links_to_the_second_and_labels_the_span() -> None:
    block = search_result_block(HITS[1].segment)

    assert block["source"] == "https://youtu.be/vid00000001?t=5241"
    assert block["title"] == "Aula 3 · 1:27:21–1:30:08"
    assert block["content"] == [{"type": "text", "text": "encoder"}]
    assert block["citations"] == {"enabled": True}


def test_a_segment_without_url_is_still_a_valid_source() -> None:
    assert search_result_block(make_hit(1, 3, "x", url="").segment)["source"] == "seg1"


def test_the_question_follows_the_search_results_in_one_user_message() -> None:
    [message] = build_messages(Question(course_id="ml", text="  O que é softmax? "), HITS)

    kinds = [block["type"] for block in message["content"]]
    assert kinds == ["search_result", "search_result", "text"]
    assert message["content"][-1]["text"].endswith(
        "Student's question:\n<question>\nO que é softmax?\n</question>"
    )


def test_without_hits_the_question_says_nothing_was_found() -> None:
    [message] = build_messages(Question(course_id="ml", text="E a prova?"), ())
    assert [block["type"] for block in message["content"]] == ["text"]
    assert "No lecture excerpt was found" in message["content"][0]["text"]


def test_history_alternates_merges_and_opens_with_the_student() -> None:
    turns = (
        Turn("assistant", "Olá! Pergunte sobre as aulas."),
        Turn("student", "O que é U-Net?"),
        Turn("student", "   "),
        Turn("student", "E o encoder?"),
        Turn("assistant", "Ele reduz a resolução."),
    )
    messages = history_messages(turns)

    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [b["text"] for b in messages[2]["content"]] == ["O que é U-Net?", "E o encoder?"]


def test_a_trailing_student_turn_is_folded_into_the_question_message() -> None:
    question = Question(
        course_id="ml", text="E o decoder?", history=(Turn("student", "Oi, tenho uma dúvida."),)
    )
    [message] = build_messages(question, HITS[:1])

    assert message["content"][0] == {"type": "text", "text": "Oi, tenho uma dúvida."}
    assert message["content"][1]["type"] == "search_result"


def test_only_the_last_turns_of_a_long_thread_are_sent() -> None:
    history = tuple(Turn("student" if n % 2 == 0 else "assistant", f"turno {n}") for n in range(20))
    messages = build_messages(Question(course_id="ml", text="?", history=history), (), 4)

    texts = [b["text"] for m in messages[:-1] for b in m["content"]]
    assert texts == ["turno 16", "turno 17", "turno 18", "turno 19"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{ABSTAIN_MARKER} Não está nas aulas.", (True, "Não está nas aulas.")),
        (f"\n  {ABSTAIN_MARKER}\nNot covered.", (True, "Not covered.")),
        (f"Answer. {ABSTAIN_MARKER}", (False, "Answer.")),
        ("A normal answer.", (False, "A normal answer.")),
    ],
)
def test_split_abstention(text: str, expected: tuple[bool, str]) -> None:
    assert split_abstention(text) == expected


@pytest.mark.parametrize(
    ("partial", "shown"),
    [
        ("", ""),
        ("[NOT_IN", ""),
        (ABSTAIN_MARKER, ""),
        (f"{ABSTAIN_MARKER} Não", "Não"),
        ("[1] A", "[1] A"),
    ],
)
def test_visible_text_hides_a_marker_being_written(partial: str, shown: str) -> None:
    assert visible_text(partial) == shown


def test_map_citations_dedupes_and_drops_unknown_indices() -> None:
    mapped = map_citations([1, 0, 1, 9, -1], HITS)

    assert [c.segment_id for c in mapped.citations] == ["seg2", "seg1"]
    assert mapped.dropped == (9, -1)


def test_draft_from_reply_joins_text_and_maps_citations() -> None:
    parts = [ReplyPart("A saída "), ReplyPart("usa softmax", (0,)), ReplyPart(".", (5,))]
    draft, dropped = draft_from_reply(parts, HITS, model="m", usage=USAGE, stop_reason="end_turn")

    assert draft.text == "A saída usa softmax."
    assert [c.segment_id for c in draft.citations] == ["seg1"]
    assert draft.citations[0].url == "https://youtu.be/vid00000001?t=721"
    assert (draft.model, draft.usage, dropped) == ("m", USAGE, (5,))


def test_an_abstaining_reply_keeps_no_citation() -> None:
    parts = [ReplyPart(f"{ABSTAIN_MARKER} Não encontrei.", (0,))]
    draft, _ = draft_from_reply(parts, HITS, model="m", usage=USAGE, stop_reason="end_turn")
    assert (draft.abstained, draft.citations, draft.text) == (True, (), "Não encontrei.")


def test_an_empty_reply_or_bare_marker_abstains_with_a_message() -> None:
    for parts in ([], [ReplyPart(ABSTAIN_MARKER)]):
        draft, _ = draft_from_reply(parts, HITS, model="m", usage=USAGE, stop_reason="end_turn")
        assert draft.abstained and draft.text == EMPTY_ABSTENTION


def test_a_truncated_reply_is_marked() -> None:
    draft, _ = draft_from_reply(
        [ReplyPart("A saída usa", (0,))], HITS, model="m", usage=USAGE, stop_reason="max_tokens"
    )
    assert draft.text == "A saída usa…" and not draft.abstained
