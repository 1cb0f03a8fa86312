"""How far the judge can be trusted: its verdicts against TA grades, as evaluation tools in
the field report it.

- Binary: the TA's C/I against the judge's C/I at the pass score (a score of at least
  ``pass_score`` of 3 is C, ``bot.annotations.automated_annotation``): accuracy, Cohen's kappa
  and the 2x2 confusion matrix, by ``bot.agreement``.
- Over 0-3, where the TA also gave an AR grade: quadratic weighted kappa, Spearman's rank
  correlation (average ranks for ties) and the 4x4 matrix (TA grade by row, judge score by
  column).
- The worst disagreements, with the judge's reasoning and the TA's note side by side.
- Ungraded answers proposed for grading, stratified by judge score: as many of each score as
  there are to take, in turn, so the measured agreement is not biased toward the easy cases
  (most answers score 3). Deterministic for a given seed.

Pure functions: the callers read the interactions, judgements and grades. Undefined figures
(no pairs; Spearman when one side never varies) are None.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.agreement import Agreement, agreement
from bot.annotations import automated_annotation, current_grade
from bot.models import AR_GRADES, Interaction, Judgement, Label, TAGrade

MAX_WORST = 5
MAX_PROPOSED = 10
Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Disagreement:
    """A graded answer where the TA and the judge part ways; ``gap`` is how far (in 0-3)."""

    interaction_id: str
    question: str
    answer: str
    judge_score: int
    judge_reasoning: str
    ta_label: Label
    ta_ar_grade: int | None
    ta_note: str
    gap: int


@dataclass(frozen=True)
class Proposal:
    """An ungraded, judged answer proposed to a TA for grading."""

    interaction_id: str
    question: str
    judge_score: int


@dataclass(frozen=True)
class Alignment:
    pass_score: int
    graded: int  # answers with a TA grade
    binary: Agreement | None  # TA C/I against the judge's, where both exist
    scored: int  # answers with both a TA AR grade and a judge score
    weighted_kappa: float | None
    spearman: float | None
    matrix: Matrix  # counts: row = TA AR grade, column = judge score, 0-3
    worst: tuple[Disagreement, ...]
    proposed: tuple[Proposal, ...]


def judge_alignment(
    interactions: Sequence[Interaction],
    judgements_by_id: Mapping[str, Judgement],
    grades_by_id: Mapping[str, Sequence[TAGrade]],
    pass_score: int,
    *,
    seed: int = 0,
    max_worst: int = MAX_WORST,
    max_proposed: int = MAX_PROPOSED,
) -> Alignment:
    """The judge against the current TA grade of each of ``interactions``."""
    grades = {i.id: current_grade(grades_by_id.get(i.id, ())) for i in interactions}
    graded = [(i, grade) for i in interactions if (grade := grades[i.id]) is not None]
    both = [(i, g, judgements_by_id[i.id]) for i, g in graded if i.id in judgements_by_id]
    scores = [(g.ar_grade, j.score) for _, g, j in both if g.ar_grade is not None]
    ungraded = [i for i in interactions if grades[i.id] is None and i.id in judgements_by_id]
    return Alignment(
        pass_score=pass_score,
        graded=len(graded),
        binary=agreement((g.label, automated_annotation(j, pass_score)) for _, g, j in both),
        scored=len(scores),
        weighted_kappa=weighted_kappa(score_matrix(scores)) if scores else None,
        spearman=spearman([t for t, _ in scores], [j for _, j in scores]),
        matrix=score_matrix(scores),
        worst=worst_disagreements(both, pass_score, max_worst),
        proposed=proposed_for_grading(ungraded, judgements_by_id, max_proposed, seed),
    )


# -- figures --------------------------------------------------------------------------------


def score_matrix(pairs: Sequence[tuple[int, int]]) -> Matrix:
    """4x4 counts of (TA grade, judge score) pairs."""
    counts = [[0] * len(AR_GRADES) for _ in AR_GRADES]
    for ta, judge in pairs:
        if ta not in AR_GRADES or judge not in AR_GRADES:
            raise ValueError(f"AR grades are 0-3, got ({ta!r}, {judge!r})")
        counts[ta][judge] += 1
    return tuple(tuple(row) for row in counts)


def weighted_kappa(matrix: Matrix) -> float:
    """Cohen's kappa with quadratic weights: 1 - sum(w * observed) / sum(w * expected),
    w = (i - j)^2 (the usual division by (k - 1)^2 cancels). When both raters used one and
    the same grade for everything the expected disagreement is 0: kappa is 1.0 then, as in
    ``bot.agreement.cohen_kappa``."""
    n = sum(map(sum, matrix))
    if n == 0:
        raise ValueError("weighted kappa needs at least one pair")
    size = len(matrix)
    rows = [sum(row) for row in matrix]
    columns = [sum(row[j] for row in matrix) for j in range(size)]
    observed = sum((i - j) ** 2 * matrix[i][j] for i in range(size) for j in range(size))
    expected = sum(
        (i - j) ** 2 * rows[i] * columns[j] / n for i in range(size) for j in range(size)
    )
    if expected == 0:
        return 1.0 if observed == 0 else 0.0
    return 1 - observed / expected


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda k: values[k])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in order[start : end + 1]:
            ranks[k] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the average ranks. None with fewer than two
    pairs or when either side has a single value (the correlation is undefined)."""
    if len(xs) != len(ys):
        raise ValueError(f"spearman needs pairs: {len(xs)} values against {len(ys)}")
    if len(xs) < 2:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    dx, dy = [r - mx for r in rx], [r - my for r in ry]
    spread = math.sqrt(sum(d * d for d in dx) * sum(d * d for d in dy))
    if spread == 0:
        return None
    return sum(a * b for a, b in zip(dx, dy, strict=True)) / spread


# -- what to read and what to grade ---------------------------------------------------------


def disagreement_gap(judge_score: int, grade: TAGrade, pass_score: int) -> int:
    """How far apart, in score points: against the TA's AR grade when given, else how far
    the judge's score is on the wrong side of the pass score (0 when the labels agree)."""
    if grade.ar_grade is not None:
        return abs(judge_score - grade.ar_grade)
    judge_says_correct = judge_score >= pass_score
    if judge_says_correct == (grade.label == "C"):
        return 0
    return judge_score - pass_score + 1 if judge_says_correct else pass_score - judge_score


def worst_disagreements(
    both: Sequence[tuple[Interaction, TAGrade, Judgement]], pass_score: int, limit: int
) -> tuple[Disagreement, ...]:
    """Opposite verdicts first, then the widest gaps; ties in the order asked."""
    found = []
    for interaction, grade, judgement in both:
        opposite = automated_annotation(judgement, pass_score) != grade.label
        gap = disagreement_gap(judgement.score, grade, pass_score)
        if opposite or gap:
            found.append((opposite, gap, _disagreement(interaction, grade, judgement, gap)))
    found.sort(key=lambda item: (not item[0], -item[1]))  # stable: earlier first on ties
    return tuple(item[2] for item in found[:limit])


def _disagreement(
    interaction: Interaction, grade: TAGrade, judgement: Judgement, gap: int
) -> Disagreement:
    return Disagreement(
        interaction_id=interaction.id,
        question=interaction.question,
        answer=interaction.answer,
        judge_score=judgement.score,
        judge_reasoning=judgement.reasoning,
        ta_label=grade.label,
        ta_ar_grade=grade.ar_grade,
        ta_note=grade.note,
        gap=gap,
    )


def proposed_for_grading(
    ungraded: Sequence[Interaction],
    judgements_by_id: Mapping[str, Judgement],
    limit: int,
    seed: int,
) -> tuple[Proposal, ...]:
    """Up to ``limit`` of ``ungraded`` (all judged), taking one of each judge score in turn
    (0 first) from a shuffle of each score's answers by ``seed``."""
    rng = random.Random(seed)
    strata: list[list[Interaction]] = []
    for score in AR_GRADES:
        stratum = sorted(
            (i for i in ungraded if judgements_by_id[i.id].score == score), key=lambda i: i.id
        )
        rng.shuffle(stratum)
        strata.append(stratum)
    picked: list[Proposal] = []
    while len(picked) < limit and any(strata):
        for score, stratum in zip(AR_GRADES, strata, strict=True):
            if stratum and len(picked) < limit:
                interaction = stratum.pop(0)
                picked.append(Proposal(interaction.id, interaction.question, score))
    return tuple(picked)


# -- as text, for the report, the digest and the review page --------------------------------

ALIGNMENT_HEADING = "Alinhamento do juiz com as notas dos monitores"


def alignment_lines(alignment: Alignment, text_chars: int | None = None) -> tuple[str, ...]:
    """The figures, the worst disagreements with both reasonings, and the answers proposed
    for grading, one line each, in Portuguese; free text cut to ``text_chars`` when given."""
    if alignment.graded == 0:
        lines = ["Nenhuma resposta avaliada por monitores ainda."]
    else:
        lines = [f"Respostas avaliadas por monitores: {alignment.graded}"]
        lines += _binary_lines(alignment.binary, alignment.pass_score)
        lines += _score_lines(alignment)
    for worst in alignment.worst:
        lines += _disagreement_lines(worst, text_chars)
    if alignment.proposed:
        picks = ", ".join(f"{p.interaction_id} (juiz {p.judge_score})" for p in alignment.proposed)
        lines.append(f"Propostas para avaliar (uma de cada nota do juiz por vez): {picks}")
    return tuple(lines)


def alignment_markdown(alignment: Alignment) -> str:
    """The alignment as a Markdown section, whole (nothing cut), for the report."""
    body = "\n".join(f"- {line}" for line in alignment_lines(alignment))
    return f"## {ALIGNMENT_HEADING}\n\n{body}\n"


def _binary_lines(binary: Agreement | None, pass_score: int) -> list[str]:
    if binary is None:
        return ["C/I: nenhuma resposta avaliada também pelo juiz."]
    m = binary.confusion
    return [
        f"C/I com o juiz (C a partir de {pass_score}/3), em {binary.n}: "
        f"acurácia {binary.accuracy:.2f} · kappa de Cohen {binary.kappa:.2f}",
        f"Monitor C / juiz C: {m.cc} · monitor C / juiz I: {m.ci} · "
        f"monitor I / juiz C: {m.ic} · monitor I / juiz I: {m.ii}",
    ]


def _score_lines(alignment: Alignment) -> list[str]:
    if not alignment.scored:
        return ["Notas 0–3: nenhuma resposta com nota AR do monitor e do juiz."]
    lines = [
        f"Notas 0–3, em {alignment.scored}: kappa ponderado (quadrático) "
        f"{_figure(alignment.weighted_kappa)} · Spearman {_figure(alignment.spearman)}"
    ]
    for grade, row in zip(AR_GRADES, alignment.matrix, strict=True):
        counts = " · ".join(f"{score}: {n}" for score, n in zip(AR_GRADES, row, strict=True))
        lines.append(f"Monitor {grade} → juiz {counts}")
    return lines


def _disagreement_lines(worst: Disagreement, text_chars: int | None) -> list[str]:
    ta_grade = "" if worst.ta_ar_grade is None else f", nota {worst.ta_ar_grade}"
    return [
        f"Divergência: “{_clip(worst.question, text_chars)}” — juiz {worst.judge_score}/3, "
        f"monitor {worst.ta_label}{ta_grade} (id {worst.interaction_id})",
        f"Raciocínio do juiz: {_clip(worst.judge_reasoning, text_chars)}",
        f"Nota do monitor: {_clip(worst.ta_note, text_chars) or '(sem nota)'}",
    ]


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _clip(text: str, chars: int | None) -> str:
    flat = " ".join(text.split())
    return flat if chars is None or len(flat) <= chars else flat[: chars - 1].rstrip() + "…"
