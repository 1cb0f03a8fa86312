"""Guardrails: simple rules that spot a question (or a lecture excerpt) trying to give the
model instructions, and a question asking for the solution of a graded assignment.

What they find is a flag on the interaction (``Interaction.flags``), told to the model with
the question and listed for the TAs in the digest. The rules only flag: the system prompt
already treats the question and the excerpts as material, never as instructions, so a
missed attempt is still harmless and a false alarm costs the student nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.models import DigestSection, Interaction

# The flags an interaction may carry, as stored (comma-separated in ``Interaction.flags``).
INJECTION = "injection"  # the question tries to instruct the model
TRANSCRIPT_INJECTION = "transcript_injection"  # a retrieved lecture excerpt does
GRADED = "graded"  # the question asks for a graded assignment's solution

_FLAG_ORDER = (INJECTION, TRANSCRIPT_INJECTION, GRADED)
# How the TAs' digest names each flag.
FLAG_LABELS = {
    INJECTION: "tentativa de dar instruções ao bot",
    TRANSCRIPT_INJECTION: "trecho de aula com texto de instrução",
    GRADED: "pediu a solução de um trabalho avaliado",
}
MAX_FLAGGED_LINES = 15
_QUOTE_CHARS = 140


@dataclass(frozen=True)
class Assignment:
    """A graded assignment of a course, as the courses file lists it."""

    name: str
    due: date | None = None


# Matched against text folded by ``_fold`` (lower case, no accents), Portuguese and English.
_INJECTION_RULES = tuple(
    re.compile(rule, re.MULTILINE)
    for rule in (
        # "ignore your/the previous instructions", "disregard all prior rules", ...
        r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(instructions?|rules|prompt|"
        r"guidelines|directions)\b",
        # "ignore as instruções anteriores", "esqueça suas regras", "desconsidere o prompt"
        r"\b(ignore|ignora|ignorar|esqueca|esquece|esquecer|desconsidere|desconsiderar|"
        r"despreze)\b[^.\n]{0,40}\b(instrucoes|instrucao|regras|prompt|diretrizes|ordens)\b",
        # a fake turn or role marker at the start of a line: "SYSTEM:", "Human:", "[INST]"
        r"^\s*(system|sistema|human|humano|assistant|assistente|user|usuario|developer)\s*:",
        r"\[/?inst\]|<\|?(system|im_start|im_end)\|?>|<<sys>>",
        # a tag that would close the question, or open a system one, early
        r"</?\s*(question|pergunta|system|instructions?|policy)\s*>",
        # "you are now ...", "a partir de agora você é ...", "act as ..."
        r"\byou are now\b|\bfrom now on,? you\b|\ba partir de agora,? (voce|vc)\b",
        r"\b(reveal|print|show|repeat)\b[^.\n]{0,30}\b(system prompt|your instructions)\b",
        r"\b(revele|mostre|repita|imprima)\b[^.\n]{0,30}\b(prompt|suas instrucoes)\b",
    )
)

# Asking for the work itself rather than for understanding: "resolva", "me dá a resposta",
# "o código da", "gabarito", "solve", "the solution", "write the code for" ...
_SOLUTION_REQUEST = re.compile(
    r"\b(resolv\w*|resolucao|solucao|solucoes|gabarito|respostas?|faca|faz|codigo|"
    r"implement\w*|solve|solution|answers?|do my|code)\b"
)


def injection_attempt(text: str) -> bool:
    """Whether ``text`` looks like it tries to give the model instructions."""
    folded = _fold(text)
    return any(rule.search(folded) for rule in _INJECTION_RULES)


def graded_assignment_asked(text: str, assignments: Iterable[Assignment]) -> Assignment | None:
    """The graded assignment whose solution ``text`` asks for: it names the assignment and
    asks for the work itself (solve, the answer, the code); None otherwise."""
    folded = _fold(text)
    if not _SOLUTION_REQUEST.search(folded):
        return None
    for assignment in assignments:
        name = re.escape(_fold(assignment.name)).replace(r"\ ", r"\s*")
        if re.search(rf"(?<!\w){name}(?!\w)", folded):
            return assignment
    return None


def question_flags(
    question: str, excerpts: Sequence[str], assignments: Iterable[Assignment]
) -> tuple[str, ...]:
    """Every flag the question and its retrieved lecture excerpts raise, in a fixed order."""
    raised = set()
    if injection_attempt(question):
        raised.add(INJECTION)
    if any(injection_attempt(text) for text in excerpts):
        raised.add(TRANSCRIPT_INJECTION)
    if graded_assignment_asked(question, assignments) is not None:
        raised.add(GRADED)
    return tuple(flag for flag in _FLAG_ORDER if flag in raised)


def joined_flags(flags: Iterable[str]) -> str:
    """Flags as ``Interaction.flags`` stores them."""
    return ",".join(flags)


def split_flags(stored: str) -> tuple[str, ...]:
    return tuple(flag for flag in stored.split(",") if flag)


def _fold(text: str) -> str:
    """Lower case without accents, so one rule matches "instruções" and "instrucoes"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def flagged_section(week: Sequence[Interaction]) -> DigestSection:
    """The digest's list of the week's flagged interactions, for the TAs to look at."""
    lines = []
    for interaction in week:
        flags = split_flags(interaction.flags)
        if flags:
            labels = "; ".join(FLAG_LABELS.get(flag, flag) for flag in flags)
            lines.append(f"“{_quote(interaction.question)}” — {labels} (id {interaction.id})")
    if len(lines) > MAX_FLAGGED_LINES:
        rest = len(lines) - MAX_FLAGGED_LINES
        lines = [*lines[:MAX_FLAGGED_LINES], f"… e mais {rest} (coluna flags do report)"]
    heading = "Sinalizadas pelas salvaguardas"
    return DigestSection(heading, tuple(lines) or ("Nenhuma pergunta sinalizada nesta semana.",))


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _QUOTE_CHARS else flat[: _QUOTE_CHARS - 1] + "…"
