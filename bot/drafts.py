"""From Claude's reply to a ``Draft``. Pure: ``bot.llm`` reduces the SDK's message to
``ReplyPart`` values first, so this decides without any library type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.citations import citation_for, dedupe
from bot.models import Citation, Draft, Hit, Usage
from bot.prompts import split_abstention

# Shown when Claude abstains or refuses without saying anything we can show.
EMPTY_ABSTENTION = (
    "Não encontrei isso nas aulas; um monitor pode ajudar. "
    "(I could not find this in the lectures; a teaching assistant can help.)"
)


@dataclass(frozen=True)
class ReplyPart:
    """One text block of the reply and the search results it cites (by request order)."""

    text: str
    cited: tuple[int, ...] = ()


@dataclass(frozen=True)
class CitationMap:
    citations: tuple[Citation, ...]
    dropped: tuple[int, ...]  # indices that name no hit: logged, never shown


def map_citations(indices: Sequence[int], hits: Sequence[Hit]) -> CitationMap:
    """Citations for the cited hits, first mention first; an index outside ``hits`` is
    dropped rather than guessed."""
    kept: list[Citation] = []
    dropped: list[int] = []
    for index in indices:
        if 0 <= index < len(hits):
            kept.append(citation_for(hits[index].segment))
        else:
            dropped.append(index)
    return CitationMap(dedupe(kept), tuple(dropped))


def draft_from_reply(
    parts: Sequence[ReplyPart],
    hits: Sequence[Hit],
    *,
    model: str,
    usage: Usage,
    stop_reason: str | None,
) -> tuple[Draft, tuple[int, ...]]:
    """The draft, and the cited indices that were dropped (for the caller to log)."""
    raw_text = "".join(part.text for part in parts)
    abstained, text = split_abstention(raw_text)
    if stop_reason == "refusal":
        text = text or EMPTY_ABSTENTION
        return (
            Draft(
                text=text,
                abstained=True,
                model=model,
                usage=usage,
                error="Claude declined to answer (stop_reason=refusal)",
            ),
            (),
        )
    if abstained or not text:
        error = "" if abstained else "Claude's reply had no text"
        draft = Draft(
            text=text or EMPTY_ABSTENTION, abstained=True, model=model, usage=usage, error=error
        )
        return draft, ()
    if stop_reason == "max_tokens":
        text = f"{text}…"
    mapped = map_citations([index for part in parts for index in part.cited], hits)
    draft = Draft(text=text, citations=mapped.citations, model=model, usage=usage)
    return draft, mapped.dropped
