"""The composition root: builds the real service from settings. Only entry points call this;
everything below it gets its collaborators passed in."""

from __future__ import annotations

import gc
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.courses import Course, Courses
from bot.fallback import FALLBACK_MODEL
from bot.judge import JudgeOptions, JudgeStore, JudgeWorker
from bot.ports import AnswerModel
from bot.review_links import ReviewLinks, review_secret
from bot.service import AssistantService, ServiceOptions
from bot.store import Journal, SqlStore, open_store
from bot.versions import AnswerSetup
from retrieval.embed import Embedder, make_embedder
from retrieval.index import SegmentIndex
from retrieval.ingest import IngestReport, ingest_course
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings
from retrieval.settings import RetrievalSettings

if TYPE_CHECKING:
    from bot.llm import AsyncAnthropic, ClaudeJudge

log = logging.getLogger(__name__)


@dataclass
class Retrieval:
    """The retrieval parts the service and the TA commands share."""

    index: SegmentIndex
    embedder: Embedder
    retriever: Retriever
    segmenting: SegmentingSettings

    def ingest(self, course: Course, progress: bool = False) -> IngestReport:
        return ingest_course(
            course.lectures_dir(),
            course.id,
            self.index,
            self.embedder,
            self.segmenting,
            language=course.language,
            progress=progress,
        )

    def reindex(self, course: Course) -> str:
        """For the TA command: re-ingest and summarise in one line."""
        report = self.ingest(course)
        return summarise_ingest(report)


def summarise_ingest(report: IngestReport, max_problems: int = 3) -> str:
    """One line for a TA: the counts, then the first problems. Skipped files and warnings (input
    the ingest repaired, e.g. a caption ending before it starts) are listed so the TA can fix
    the file before students notice."""
    problems = report.problem_lines()
    if not problems or max_problems == 0:
        return report.summary()
    more = "; …" if len(problems) > max_problems else ""
    return f"{report.summary()}: " + "; ".join(problems[:max_problems]) + more


def build_retrieval(settings: Settings) -> Retrieval:
    # The retrieval package's own defaults (segmenting, fusion), so `python -m retrieval` and
    # the bot build and read the same index.
    chosen = RetrievalSettings(
        lancedb_uri=settings.lancedb_uri,
        embedder=settings.embedder,
        mode=settings.search_mode,
    )
    index = chosen.open_index()
    embedder = make_embedder(chosen.embedder)
    retriever = Retriever(index, embedder, default_mode=chosen.mode)
    return Retrieval(index, embedder, retriever, chosen.segmenting)


def build_answer_model(settings: Settings) -> AnswerModel | None:
    """Claude when a key is set; None makes the service answer extractively."""
    if not settings.anthropic_api_key:
        return None
    from bot.llm import ClaudeAnswerModel

    return ClaudeAnswerModel(
        _claude_client(settings),
        model=settings.answer_model,
        max_tokens=settings.answer_max_tokens,
    )


def build_judge(settings: Settings) -> ClaudeJudge | None:
    """The Claude judge, or None without a key (interactions then stay pending)."""
    if not settings.anthropic_api_key or not settings.judge_enabled:
        return None
    from bot.llm import ClaudeJudge

    return ClaudeJudge(_claude_client(settings), model=settings.judge_model)


def build_judge_worker(settings: Settings, store: JudgeStore, worker_id: str) -> JudgeWorker | None:
    """The judge worker with the settings' options, or None when the judge is off."""
    judge = build_judge(settings)
    if judge is None:
        return None
    options = JudgeOptions(
        context_relevance=settings.judge_context_relevance,
        groundedness=settings.judge_groundedness,
        concurrency=settings.judge_concurrency,
    )
    return JudgeWorker(store, judge, worker_id, options)


def _claude_client(settings: Settings) -> AsyncAnthropic:
    # Imported here: the anthropic SDK takes seconds to import and keyless runs never need it.
    from bot.llm import make_client

    return make_client(
        settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url or None,
        max_retries=settings.llm_max_retries,
        timeout_s=settings.llm_timeout_s,
    )


def build_store(settings: Settings) -> SqlStore:
    return open_store(settings.database_url)


def build_journal(settings: Settings) -> Journal:
    """Where what the database cannot take waits for it: shared by the processes on this
    data directory."""
    return Journal(settings.data_dir / "journal")


def pseudonym_secret(settings: Settings, *, allow_local: bool) -> str:
    """PSEUDONYM_SECRET, or for local use (the CLI) a secret kept in the data directory.

    Chat deployments must set it: a per-machine secret would unlink a student's questions
    whenever the bot moves.
    """
    if settings.pseudonym_secret:
        return settings.pseudonym_secret.get_secret_value()
    if not allow_local:
        raise ConfigError(
            "missing setting: PSEUDONYM_SECRET — set it in the environment or .env "
            "(e.g. `openssl rand -hex 32`); it keeps askers pseudonymous in the log"
        )
    path = settings.data_dir / "pseudonym.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def build_service(
    settings: Settings,
    courses: Courses,
    *,
    retrieval: Retrieval | None = None,
    store: SqlStore | None = None,
    journal: Journal | None = None,
    allow_local_secret: bool = False,
) -> AssistantService:
    no_key = "ANTHROPIC_API_KEY is not set"
    retrieval = retrieval or build_retrieval(settings)
    answer_model = build_answer_model(settings)
    setup = answer_setup(settings, retrieval, with_model=answer_model is not None)
    log.info("answers are versioned by: %s", setup.describe())
    secret = pseudonym_secret(settings, allow_local=allow_local_secret)
    return AssistantService(
        retriever=retrieval.retriever,
        reindexer=retrieval,
        answer_model=answer_model,
        store=store or build_store(settings),
        journal=journal or build_journal(settings),
        courses=courses,
        pseudonym_secret=secret,
        review_links=review_links(settings, secret),
        embed_questions=retrieval.embedder.embed_queries,
        options=ServiceOptions(
            k=settings.retrieval_k,
            judge_enabled=settings.judge_enabled,
            pass_score=settings.judge_pass_score,
            no_model_reason=no_key,
            setup=setup,
            answer_concurrency=settings.answer_concurrency,
        ),
    )


def answer_setup(settings: Settings, retrieval: Retrieval, *, with_model: bool) -> AnswerSetup:
    """What produces this process's answers, for the version each interaction records."""
    return AnswerSetup(
        answer_model=settings.answer_model if with_model else FALLBACK_MODEL,
        k=settings.retrieval_k,
        search_mode=settings.search_mode,
        embedder=retrieval.embedder.name,
        segmenting=retrieval.segmenting.fingerprint(),
    )


def review_links(settings: Settings, pseudonym_secret: str) -> ReviewLinks:
    """The signer of the review page's links, from REVIEW_SECRET or PSEUDONYM_SECRET."""
    return ReviewLinks(
        secret=review_secret(settings.review_secret.get_secret_value(), pseudonym_secret),
        base_url=settings.review_base_url,
        valid_for=timedelta(hours=settings.review_link_hours),
    )


def freeze_startup_heap() -> None:
    """Keep what start-up loaded (modules, the SDKs' classes, settings) out of every later
    garbage collection. A long-running process otherwise rescans all of it in each full
    collection: during a burst of questions that paused the event loop for 50-160 ms
    (benchmarks/concurrent_questions.py). Call once, when the process is ready to serve."""
    gc.collect()
    gc.freeze()
