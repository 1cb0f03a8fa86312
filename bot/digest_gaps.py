"""What the lectures fail to cover, and what is asked again and again.

- Content gaps: the week's abstained, 👎 and low-scored questions grouped by topic, each
  group named after its most central question, with its questions and the lecture moments
  retrieved for them: what to record or explain next.
- Frequent questions: the largest groups of all the week's questions, each with the answer
  students rated best: candidates for a pinned FAQ.

Topics come from the questions' embeddings (``bot.clusters``); without an embedder, only
questions of the same text are grouped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.annotations import tally
from bot.citations import citation_for, citation_label
from bot.clusters import cluster, most_central
from bot.digest_week import DigestInput, Week, short
from bot.models import DigestSection, Interaction, Judgement, RetrievedSegment, Vote
from bot.outcome import outcome

MAX_TOPICS = 5
MAX_QUESTIONS = 5  # per topic
MAX_MOMENTS = 3  # per topic


@dataclass(frozen=True)
class Topic:
    central: Interaction  # its question names the topic
    members: tuple[Interaction, ...]  # oldest first


def topics(interactions: Sequence[Interaction], vectors: dict[str, np.ndarray]) -> list[Topic]:
    """The interactions grouped by the topic of their question, largest group first (see
    ``bot.clusters.cluster``); by the same text when a question has no embedding."""
    if not interactions:
        return []
    if all(i.id in vectors for i in interactions):
        matrix = np.stack([vectors[i.id] for i in interactions])
        groups = cluster(matrix)
        return [
            Topic(interactions[most_central(matrix, g)], tuple(interactions[n] for n in g))
            for g in groups
        ]
    same_text: dict[str, list[Interaction]] = {}
    for interaction in interactions:
        key = " ".join(interaction.question.casefold().split())
        same_text.setdefault(key, []).append(interaction)
    ordered = sorted(same_text.values(), key=lambda group: -len(group))  # stable: first asked
    return [Topic(group[0], tuple(group)) for group in ordered]


def gap_reasons(
    interaction: Interaction, votes: Sequence[Vote], judgement: Judgement | None, pass_score: int
) -> list[str]:
    """Why a question shows a gap in the lectures; empty when it does not."""
    reasons = []
    if outcome(interaction) == "abstained":
        reasons.append("sem resposta nas aulas")
    down = tally(votes).down
    if down:
        reasons.append(f"👎 {down}")
    if judgement is not None and judgement.score < pass_score:
        reasons.append(f"AR {judgement.ar:.2f}")
    return reasons


def _reasons(week: Week, interaction: Interaction, pass_score: int) -> list[str]:
    judgement = week.judged.get(interaction.id)
    return gap_reasons(interaction, week.votes_on(interaction), judgement, pass_score)


def moments(members: Sequence[Interaction]) -> list[tuple[RetrievedSegment, int]]:
    """The lecture moments retrieved for these questions, with how many questions each was
    retrieved for: the most shared first, then the best ranked."""
    counts: Counter[str] = Counter()
    best: dict[str, RetrievedSegment] = {}
    for interaction in members:
        for retrieved in {r.segment.id: r for r in interaction.retrieved}.values():
            counts[retrieved.segment.id] += 1
            kept = best.get(retrieved.segment.id)
            if kept is None or retrieved.rank < kept.rank:
                best[retrieved.segment.id] = retrieved
    order = sorted(counts, key=lambda s: (-counts[s], best[s].rank, s))
    return [(best[s], counts[s]) for s in order]


def _moment_line(retrieved: RetrievedSegment, count: int) -> str:
    moment = citation_for(retrieved.segment)
    link = f"[{citation_label(moment)}]({moment.url})" if moment.url else citation_label(moment)
    return f"Trecho recuperado: {link} — para {count} pergunta(s)"


def content_gaps(data: DigestInput) -> list[DigestSection]:
    week = data.week
    gaps = [i for i in week.interactions if _reasons(week, i, data.pass_score)]
    heading = "Lacunas de conteúdo"
    if not gaps:
        return [DigestSection(heading, ("Nenhuma pergunta sem resposta, com 👎 ou nota baixa.",))]
    found = topics(gaps, dict(data.vectors))
    lead = (
        f"{len(gaps)} pergunta(s) sem resposta nas aulas, com 👎 ou nota baixa, "
        f"em {len(found)} tema(s): o que gravar ou explicar a seguir"
    )
    sections = [DigestSection(heading, (lead,))]
    for number, topic in enumerate(found[:MAX_TOPICS], 1):
        lines = [
            f"“{short(i.question)}” — {'; '.join(_reasons(week, i, data.pass_score))} (id {i.id})"
            for i in topic.members[:MAX_QUESTIONS]
        ]
        if len(topic.members) > MAX_QUESTIONS:
            lines.append(f"… e mais {len(topic.members) - MAX_QUESTIONS}")
        found_moments = moments(topic.members)[:MAX_MOMENTS]
        lines += [_moment_line(r, n) for r, n in found_moments]
        if not found_moments:
            lines.append("Nenhum trecho das aulas foi recuperado para estas perguntas.")
        heading = f"Tema {number}: “{short(topic.central.question)}” — {len(topic.members)}"
        sections.append(DigestSection(f"{heading} pergunta(s)", tuple(lines), level=3))
    if len(found) > MAX_TOPICS:
        rest = sum(len(t.members) for t in found[MAX_TOPICS:])
        more = f"… e mais {len(found) - MAX_TOPICS} tema(s), {rest} pergunta(s)"
        sections.append(DigestSection("Outros temas", (more,), level=3))
    return sections


def best_rated(week: Week, members: Sequence[Interaction]) -> Interaction | None:
    """The answer students rated best (net 👍, then 👍, then the judge's score, then the
    latest); None when no member got an answer from the lectures."""
    answered = [i for i in members if outcome(i) == "answered"]
    if not answered:
        return None

    def rating(interaction: Interaction) -> tuple[int, int, int]:
        votes = tally(week.votes_on(interaction))
        judgement = week.judged.get(interaction.id)
        return (votes.up - votes.down, votes.up, -1 if judgement is None else judgement.score)

    return max(reversed(answered), key=rating)  # reversed: the latest wins a tie


def frequent_questions(data: DigestInput) -> list[DigestSection]:
    heading = "Perguntas frequentes (candidatas a FAQ)"
    week = data.week
    repeated = [t for t in topics(week.interactions, dict(data.vectors)) if len(t.members) > 1]
    if not repeated:
        return [DigestSection(heading, ("Nenhum tema perguntado mais de uma vez.",))]
    sections = [DigestSection(heading, (f"{len(repeated)} tema(s) perguntado(s) mais de uma vez",))]
    for topic in repeated[:MAX_TOPICS]:
        best = best_rated(week, topic.members)
        if best is None:
            lines = ("Nenhuma resposta das aulas para este tema.",)
        else:
            votes = tally(week.votes_on(best))
            lines = (
                f"Melhor resposta (👍 {votes.up} · 👎 {votes.down}, id {best.id}): "
                f"“{short(best.answer)}”",
            )
        name = f"“{short(topic.central.question)}” — {len(topic.members)} pergunta(s)"
        sections.append(DigestSection(name, lines, level=3))
    return sections
