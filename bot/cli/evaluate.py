"""``python -m bot evaluate --course-dir DIR --questions FILE``: the whole pipeline on a set
of questions, into the evaluation report and a summary.

The course is ingested into a private index and logged to a private SQLite file, never the
live ones: both live in the eval cache (``--cache-dir``) in a folder keyed by the course
folder, the embedder and the segmenting settings, the same folder ``python -m retrieval eval``
uses, so whichever runs second embeds nothing. Each question goes through
``AssistantService.ask`` (platform "eval") and then the judge. Without ANTHROPIC_API_KEY the
answers are extractive fallbacks and the judge is skipped.

Questions: JSON lines with "question" and, optionally, the gold span ("id", "video_id",
"start_s", "end_s"; the layout of ../shared/data); a line that is not JSON is a question.
A retrieved segment hits a gold question when it is of the same video and its time overlaps
the gold span.

Every run stays in the private log under the version of its setup (``bot.versions``: the
prompts, the answer model, k, the search mode, the embedder, the segmenting); the summary
names this run's version, and ``--compare VERSION`` sets an earlier run's figures beside
this run's (AR mean, abstentions, retrieval hits on the same questions).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.cli.evaluate_versions import render_comparison, version_figures
from bot.config import Settings
from bot.courses import Course, Courses
from bot.errors import AskFailedError, ConfigError
from bot.models import Question
from bot.report import ReportEntry, load_entries, render_markdown
from bot.service import AssistantService
from bot.store import SqlStore, open_store
from retrieval.cli_help import plain
from retrieval.embed import make_embedder
from retrieval.evaluate import (
    EVAL_COURSE_ID,
    GOLD_KEYS,
    GoldQuestion,
    default_cache_root,
    eval_cache_dir,
    first_hit_rank,
    gold_question,
    question_lines,
    question_object,
)
from retrieval.settings import RetrievalSettings


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    text: str
    gold: GoldQuestion | None


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="answer and judge a question set on a course folder; write the report",
        description=plain(__doc__),
    )
    parser.add_argument(
        "--course-dir", type=Path, required=True, help="folder with videos.csv and transcripts/"
    )
    parser.add_argument(
        "--questions", type=Path, required=True, help="questions, one per line (.jsonl)"
    )
    parser.add_argument("--course", default=EVAL_COURSE_ID, help="course id in the private log")
    parser.add_argument("--language", help="english or portuguese (default: detected)")
    parser.add_argument("--limit", type=int, help="only the first N questions (default: all)")
    parser.add_argument(
        "-k", "--k", type=int, help="segments retrieved per question (default: RETRIEVAL_K)"
    )
    parser.add_argument("--out", type=Path, help="report file (default: stdout)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help=f"root of the eval indexes and logs (default: {default_cache_root()})",
    )
    parser.add_argument(
        "--compare",
        metavar="VERSION",
        help="an earlier run's version (its summary names it): its figures beside this "
        "run's (default: this run's alone)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(run=run)


def load_eval_questions(path: Path, limit: int | None = None) -> list[EvalQuestion]:
    """One question per line: plain text, or a JSON object whose gold moment is optional."""
    return [_eval_question(path, number, line) for number, line in question_lines(path, limit)]


def _eval_question(path: Path, number: int, line: str) -> EvalQuestion:
    if not line.startswith("{"):
        return EvalQuestion(f"line{number}", line, None)
    item = question_object(path, number, line)
    qid = str(item.get("id", f"line{number}"))
    has_gold = any(key in item for key in GOLD_KEYS)
    return EvalQuestion(
        qid, item["question"], gold_question(path, number, item) if has_gold else None
    )


# -- the summary (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class EvalSummary:
    questions: int
    abstentions: int
    fallbacks: int
    failures: int
    ar_scores: tuple[int, ...]
    judge_failures: int
    judge_pending: int
    ranks: tuple[int | None, ...]  # first-hit rank per question with a gold span
    k: int
    judge_note: str = ""  # why the judge did not run, when it did not
    versions: tuple[str, ...] = ()  # of the run's interactions (one, unless it failed oddly)


def summarise(
    entries: Sequence[ReportEntry], ranks: Sequence[int | None], k: int, judge_note: str = ""
) -> EvalSummary:
    statuses = Counter(e.ar_status for e in entries)
    return EvalSummary(
        questions=len(entries),
        abstentions=statuses["abstained"],
        fallbacks=statuses["fallback"],
        failures=statuses["failed"],
        ar_scores=tuple(e.judgement.score for e in entries if e.judgement is not None),
        judge_failures=statuses["judge_failed"],
        judge_pending=statuses["pending"],
        ranks=tuple(ranks),
        k=k,
        judge_note=judge_note,
        versions=tuple(dict.fromkeys(e.interaction.version for e in entries)),
    )


def hit_rate(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def render_summary(summary: EvalSummary) -> str:
    lines = [
        "## Resumo da avaliação",
        "",
        f"- Perguntas: {summary.questions}",
        f"- Abstenções: {summary.abstentions}",
        f"- Respostas extrativas (fallback): {summary.fallbacks}",
        f"- Falhas: {summary.failures}",
    ]
    if summary.versions:
        lines.append(f"- Versão: {', '.join(v or '(sem versão)' for v in summary.versions)}")
    scores = summary.ar_scores
    if scores:
        counts = Counter(scores)
        spread = ", ".join(f"{s}: {counts[s]}" for s in range(4))
        mean = sum(scores) / len(scores) / 3
        lines.append(f"- Answer Relevance média: {mean:.2f} (em {len(scores)} respostas)")
        lines.append(f"- Distribuição das notas (0–3): {spread}")
    if summary.judge_note:
        lines.append(f"- Juiz: {summary.judge_note}")
    else:
        lines.append(
            f"- Juiz: {summary.judge_failures} falha(s), {summary.judge_pending} pendente(s)"
        )
    if summary.ranks:
        ks = sorted({1, 5, summary.k} & set(range(1, summary.k + 1)))
        rates = ", ".join(f"@{k} {hit_rate(summary.ranks, k):.2f}" for k in ks)
        lines.append(
            f"- Recuperação (acerto em {len(summary.ranks)} perguntas com gabarito): {rates}"
        )
    else:
        lines.append("- Recuperação: as perguntas não têm gabarito (video_id, start_s, end_s)")
    return "\n".join(lines) + "\n"


# -- the run --------------------------------------------------------------------------------


def private_settings(settings: Settings, work_dir: Path) -> Settings:
    """The same models and keys, but an index and a log of the evaluation's own."""
    return settings.model_copy(
        update={
            "lancedb_uri": str(work_dir / "lancedb"),
            "database_url": f"sqlite:///{work_dir / 'eval.sqlite3'}",
            "pseudonym_secret": SecretStr("evaluation"),
        }
    )


def eval_work_dir(settings: Settings, course_dir: Path, root: Path | None) -> Path:
    """The folder ``python -m retrieval eval`` indexes the same course folder in, with the
    same embedder (its full name, version included) and the retrieval package's default
    segmenting, which ``build_retrieval`` uses too."""
    embedder_name = make_embedder(settings.embedder).name  # loads no model
    return eval_cache_dir(course_dir, embedder_name, RetrievalSettings().segmenting, root)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_retrieval  # loads the embedder: only when evaluating

    if not (args.course_dir / "videos.csv").is_file():
        raise ConfigError(f"--course-dir {args.course_dir}: no videos.csv there")
    questions = load_eval_questions(args.questions, args.limit)
    if args.k is not None:
        if args.k < 1:
            raise ConfigError(f"-k/--k {args.k}: retrieve at least 1 segment per question")
        settings = settings.model_copy(update={"retrieval_k": args.k})
    work_dir = eval_work_dir(settings, args.course_dir, args.cache_dir)
    settings = private_settings(settings, work_dir)
    retrieval = build_retrieval(settings)
    language = _ingest(retrieval, args, quiet=args.quiet)
    course = Course(id=args.course, name=args.course, language=language, course_dir=args.course_dir)
    store = open_store(settings.database_url)
    try:
        report, summary = asyncio.run(
            _evaluate(settings, course, retrieval, store, questions, args.quiet, args.compare)
        )
    finally:
        store.close()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        print(f"report: {args.out}", file=sys.stderr)
        sys.stdout.write(summary)
    else:
        sys.stdout.write(report)
        sys.stderr.write(summary)
    return 0


def _ingest(retrieval: Any, args: argparse.Namespace, quiet: bool) -> str:
    from bot.app import summarise_ingest
    from retrieval.ingest import ingest_course

    report = ingest_course(
        args.course_dir,
        args.course,
        retrieval.index,
        retrieval.embedder,
        retrieval.segmenting,
        language=args.language,
        progress=not quiet,
    )
    if not quiet:
        print(f"ingested {args.course_dir}: {summarise_ingest(report)}", file=sys.stderr)
    return report.language or args.language or "portuguese"


async def _evaluate(
    settings: Settings,
    course: Course,
    retrieval: Any,
    store: SqlStore,
    questions: Sequence[EvalQuestion],
    quiet: bool,
    compare: str | None = None,
) -> tuple[str, str]:
    from bot.app import build_judge_worker, build_service

    started = datetime.now(UTC)
    service = build_service(settings, Courses([course]), retrieval=retrieval, store=store)
    ranks = []
    for number, question in enumerate(questions, 1):
        rank = await _ask(service, store, course, question)
        if question.gold is not None:
            ranks.append(rank)
        if not quiet:
            print(f"[{number}/{len(questions)}] {question.id}", file=sys.stderr)
    worker = build_judge_worker(settings, store, "evaluate")
    note = (
        ""
        if worker is not None
        else (
            "não executado: sem ANTHROPIC_API_KEY (respostas extrativas, sem Claude)"
            if not settings.anthropic_api_key
            else "desativado (JUDGE_ENABLED=false)"
        )
    )
    if worker is not None:
        await worker.drain()  # every job judged, failed, or waiting to retry after an API error
    entries = await asyncio.to_thread(
        load_entries, store, course.id, started, None, settings.judge_pass_score
    )
    summary = summarise(entries, ranks, settings.retrieval_k, note)
    text = render_summary(summary)
    if compare is not None:
        text += "\n" + await asyncio.to_thread(
            _comparison, store, course, questions, summary, compare, settings.judge_pass_score
        )
    return render_markdown(entries), text


def _comparison(
    store: SqlStore,
    course: Course,
    questions: Sequence[EvalQuestion],
    summary: EvalSummary,
    other: str,
    pass_score: int,
) -> str:
    """This run's version beside ``other`` on this run's questions, from the whole log."""
    entries = load_entries(store, course.id, pass_score=pass_score)
    if not any(e.interaction.version == other for e in entries):
        known = ", ".join(dict.fromkeys(e.interaction.version or "(sem versão)" for e in entries))
        return f"## Versões lado a lado\n\nA versão {other} não está no registro ({known}).\n"
    gold = {q.text.strip(): q.gold for q in questions}
    this = summary.versions[-1] if summary.versions else ""
    ks = sorted({1, 5, summary.k} & set(range(1, summary.k + 1)))
    return render_comparison(
        version_figures(entries, gold, this), version_figures(entries, gold, other), ks
    )


async def _ask(
    service: AssistantService, store: SqlStore, course: Course, question: EvalQuestion
) -> int | None:
    """Ask one question; the first-hit rank of its retrieved segments (None: no hit)."""
    asked = Question(course_id=course.id, text=question.text, platform="eval", asker="eval")
    try:
        answer = await service.ask(asked)
    except AskFailedError as error:
        print(f"{question.id}: {error}", file=sys.stderr)
        return None
    if question.gold is None:
        return None
    logged = await asyncio.to_thread(store.get_interaction, answer.interaction_id)
    segments = [r.segment for r in logged.retrieved] if logged else []
    return first_hit_rank(segments, question.gold)
