"""The background judge: claims pending 'judge' jobs and scores each interaction.

Answer relevance always; per retrieved segment context relevance and the answer's
groundedness in its cited segments when enabled. Only answered interactions are judged
(``bot.outcome``).

The worker works through its backlog: up to ``concurrency`` jobs at once, each finished job
making room for the next claim, and it waits ``poll_s`` only when nothing is due.

Nothing is judged twice:
- a job is claimed under a lease; results are saved only after the lease was renewed, and
  a worker that lost its lease throws its results away;
- a worker killed after saving but before completing leaves a job that another worker
  re-claims once the lease expires; that worker finds the saved outcomes and asks Claude
  only for what is missing.

The retry policy is the worker's alone (the queue records what it is told): an API failure
(``JudgeError``) saves what was scored and retries the job later with exponential backoff and
jitter; a malformed verdict (``JudgeMalformedError``) is recorded as a judge failure, never as
a score. Out of attempts, or claimed again after its workers kept dying, a job is given up
only after each missing verdict was recorded as a judge failure, so reports never show
"pending" for a job no one will finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.backoff import backoff_delay
from bot.errors import JudgeError, JudgeMalformedError
from bot.judge_prompts import JudgeVerdict
from bot.models import (
    ANSWER_RELEVANCE,
    CONTEXT_RELEVANCE,
    GROUNDEDNESS,
    JUDGE_JOB,
    Interaction,
    JudgementRecord,
)
from bot.outcome import is_judged
from bot.ports import Job, JudgeStore

log = logging.getLogger(__name__)


class Verdicts(Protocol):
    """What the worker needs of a judge (``bot.llm.ClaudeJudge``)."""

    model: str

    async def answer_relevance(self, question: str, answer: str) -> JudgeVerdict: ...
    async def context_relevance(self, question: str, segment_text: str) -> JudgeVerdict: ...
    async def groundedness(self, answer: str, cited_texts: Sequence[str]) -> JudgeVerdict: ...


@dataclass(frozen=True)
class JudgeOptions:
    context_relevance: bool = False
    groundedness: bool = False
    lease_s: float = 300.0  # longer than judging one interaction can take
    concurrency: int = 4  # jobs in flight at once, and Claude calls in flight at once
    poll_s: float = 10.0  # the wait before looking again when no job is due
    max_attempts: int = 5  # attempts (claims) before the job is given up
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0


def retry_delay(attempts: int, base_s: float, cap_s: float, jitter: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling from ``base_s``
    up to ``cap_s``, scaled into [50%, 100%] by ``jitter`` in [0, 1] so that workers that
    failed together do not come back together."""
    return backoff_delay(attempts, base_s, cap_s).total_seconds() * (0.5 + 0.5 * jitter)


@dataclass(frozen=True)
class Task:
    """One verdict to obtain: its kind, its target ('' or a segment id) and how to ask."""

    kind: str
    target: str
    ask: Callable[[], Awaitable[JudgeVerdict]]


def cited_texts(interaction: Interaction) -> list[str]:
    """The text of each retrieved segment the answer cites, in retrieval order."""
    cited_ids = {c.segment_id for c in interaction.citations}
    return [r.segment.text for r in interaction.retrieved if r.cited or r.segment.id in cited_ids]


class JudgeWorker:
    def __init__(
        self,
        store: JudgeStore,
        judge: Verdicts,
        worker_id: str,
        options: JudgeOptions | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.judge = judge
        self.worker_id = worker_id
        self.options = options or JudgeOptions()
        self._rng = rng or random.Random()
        self._calls = asyncio.Semaphore(self.options.concurrency)
        self._stopping = False
        self._wake: asyncio.Event | None = None  # made by run(), in its loop

    async def run(self) -> None:
        """Judge until cancelled or stopped: drain the queue, then look again every
        ``poll_s``. A failing drain (e.g. the database is down) is logged, not fatal."""
        self._wake = asyncio.Event()
        while not self._stopping:
            try:
                await self.drain()
            except Exception:
                log.exception("judging failed; trying again in %.0f s", self.options.poll_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.options.poll_s)

    def stop(self) -> None:
        """Claim nothing more; ``run`` returns once the jobs in hand are finished. (What a
        cancelled worker still holds, ``JobQueue.release_leases`` gives back.)"""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def drain(self, now: datetime | None = None) -> int:
        """Judge due jobs until none is left, up to ``concurrency`` at once: each finished job
        makes room for the next claim. Returns how many jobs were claimed. ``now`` (tests)
        stands for the clock in every lease decision."""
        # Made per drain: a semaphore belongs to the event loop that first waits on it.
        self._calls = asyncio.Semaphore(self.options.concurrency)
        running: set[asyncio.Task[None]] = set()
        claimed = 0
        try:
            while True:
                room = 0 if self._stopping else self.options.concurrency - len(running)
                jobs = await self._claim(room, now) if room else []
                claimed += len(jobs)
                running.update(asyncio.create_task(self._handle(job, now)) for job in jobs)
                if not running:
                    return claimed
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a job's store failure (the database is down) ends the drain
        finally:
            for task in running:
                task.cancel()

    async def _claim(self, limit: int, now: datetime | None) -> list[Job]:
        options = self.options
        return await asyncio.to_thread(
            self.store.jobs.claim_jobs, JUDGE_JOB, self.worker_id, limit, options.lease_s, now
        )

    async def _handle(self, job: Job, now: datetime | None) -> None:
        try:
            await self._judge_job(job, now)
        except Exception as exc:
            # A bug or a store failure: leave the job to retry later rather than lose it.
            log.exception("judging interaction %s failed unexpectedly", job.ref)
            await self._retry(job, f"{type(exc).__name__}: {exc}", now)

    async def _judge_job(self, job: Job, now: datetime | None) -> None:
        interaction = await asyncio.to_thread(self.store.get_interaction, job.ref)
        if interaction is None:
            await asyncio.to_thread(
                self.store.jobs.fail_job,
                job.id,
                self.worker_id,
                f"interaction {job.ref} does not exist",
                now,
            )
            return
        tasks = await self._missing_tasks(interaction) if is_judged(interaction) else []
        if tasks and job.attempts > self.options.max_attempts:
            # Claimed again after its lease expired: the workers before died on it. Asking
            # once more may kill this one too.
            died = "the worker of the last attempt stopped before finishing (its lease expired)"
            await self._give_up(job, died, now, tasks)
            return
        outcomes = await asyncio.gather(*(self._obtain(interaction.id, t) for t in tasks))
        records = [r for r in outcomes if isinstance(r, JudgementRecord)]
        api_errors = [e for e in outcomes if isinstance(e, JudgeError)]
        if not await self._save_if_held(job, records, now):
            return
        if api_errors:
            await self._retry(job, str(api_errors[0]), now, pending=_pending(tasks, outcomes))
            return
        await asyncio.to_thread(self.store.jobs.complete_job, job.id, self.worker_id, now)

    async def _still_missing(self, interaction_id: str) -> list[Task]:
        interaction = await asyncio.to_thread(self.store.get_interaction, interaction_id)
        if interaction is None or not is_judged(interaction):
            return []
        return await self._missing_tasks(interaction)

    async def _missing_tasks(self, interaction: Interaction) -> list[Task]:
        """The verdicts the interaction still needs: an outcome saved by an earlier attempt
        (a score or a recorded failure) is never asked for again."""
        done = {
            (r.kind, r.target)
            for r in await asyncio.to_thread(self.store.judgements_for, interaction.id)
        }
        return [t for t in self._tasks(interaction) if (t.kind, t.target) not in done]

    def _tasks(self, interaction: Interaction) -> list[Task]:
        judge, question, answer = self.judge, interaction.question, interaction.answer
        tasks = [Task(ANSWER_RELEVANCE, "", lambda: judge.answer_relevance(question, answer))]
        if self.options.context_relevance:
            for retrieved in interaction.retrieved:
                text = retrieved.segment.text
                tasks.append(
                    Task(
                        CONTEXT_RELEVANCE,
                        retrieved.segment.id,
                        lambda text=text: judge.context_relevance(question, text),  # type: ignore[misc]
                    )
                )
        sources = cited_texts(interaction)
        if self.options.groundedness and sources:
            tasks.append(Task(GROUNDEDNESS, "", lambda: judge.groundedness(answer, sources)))
        return tasks

    async def _obtain(self, interaction_id: str, task: Task) -> JudgementRecord | JudgeError:
        """The task's outcome as a record to save (a score or a malformed-verdict failure),
        or the API error that means: try again later."""
        async with self._calls:
            try:
                verdict = await task.ask()
            except JudgeMalformedError as exc:
                log.warning("no usable %s verdict on %s: %s", task.kind, interaction_id, exc)
                return self._record(interaction_id, task, None, str(exc))
            except JudgeError as exc:
                return exc
        return self._record(interaction_id, task, verdict, "")

    def _record(
        self, interaction_id: str, task: Task, verdict: JudgeVerdict | None, error: str
    ) -> JudgementRecord:
        return JudgementRecord(
            interaction_id=interaction_id,
            kind=task.kind,
            target=task.target,
            status="ok" if verdict else "failed",
            score=float(verdict.score) if verdict else None,
            criteria=verdict.criteria if verdict else "",
            evidence=verdict.evidence if verdict else "",
            model=self.judge.model,
            error=error,
            created_at=datetime.now(UTC),
        )

    async def _save_if_held(
        self, job: Job, records: list[JudgementRecord], now: datetime | None
    ) -> bool:
        """Save only while holding the job: renewing the lease first means no other worker
        can have claimed it, so two workers never both save an interaction's verdicts."""
        held = await asyncio.to_thread(
            self.store.jobs.extend_lease, job.id, self.worker_id, self.options.lease_s, now
        )
        if not held:
            log.warning(
                "lost the lease on judge job %s (interaction %s); dropping %d verdict(s)",
                job.id,
                job.ref,
                len(records),
            )
            return False
        for record in records:
            await asyncio.to_thread(self.store.record_judgement, record)
        return True

    async def _retry(
        self, job: Job, error: str, now: datetime | None, pending: Sequence[Task] | None = None
    ) -> None:
        if job.attempts >= self.options.max_attempts:
            await self._give_up(job, error, now, pending)
            return
        options = self.options
        delay = retry_delay(
            job.attempts, options.backoff_base_s, options.backoff_cap_s, self._rng.random()
        )
        when = (now or datetime.now(UTC)) + timedelta(seconds=delay)
        log.info("judge job %s retries at %s: %s", job.id, when.isoformat(), error)
        await asyncio.to_thread(self.store.jobs.retry_job, job.id, self.worker_id, error, when, now)

    async def _give_up(
        self, job: Job, error: str, now: datetime | None, pending: Sequence[Task] | None
    ) -> None:
        """Out of attempts: record each missing verdict (``pending``; None: whatever is still
        missing) as a judge failure, so reports show it as failed rather than pending, and
        fail the job."""
        reason = f"gave up after {job.attempts} attempt(s): {error}"
        log.warning("judge job %s (interaction %s) %s", job.id, job.ref, reason)
        if pending is None:
            pending = await self._still_missing(job.ref)
        records = [self._record(job.ref, task, None, reason) for task in pending]
        if await self._save_if_held(job, records, now):
            await asyncio.to_thread(self.store.jobs.fail_job, job.id, self.worker_id, reason, now)


def _pending(tasks: Sequence[Task], outcomes: Sequence[object]) -> list[Task]:
    return [t for t, o in zip(tasks, outcomes, strict=True) if isinstance(o, JudgeError)]
