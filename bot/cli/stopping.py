"""How a long-running process ends: on SIGTERM (what hosts send, about 30 s before they kill)
or Ctrl-C, in order, so that nothing is half-written and no student is left without a reply.

1. The service takes no new questions (each is kept and answered "pergunte de novo em um
   minuto") and the judge worker claims no new job.
2. Questions in flight get ``SHUTDOWN_GRACE_S`` to finish; then those still waiting on the
   answer model are cut short and their students told. The judge's jobs in hand get the
   same grace, then are cancelled and their leases given back, claimable at once.
3. The chat adapters stop, the journal is replayed one last time (each entry is already on
   disk, fsynced: this only moves what it can into the database), and the caller closes the
   scheduler, the index and the database. The process exits 0.

A second signal during the drain is not caught: it stops the process at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.judge import JudgeWorker
from bot.service import AssistantService
from bot.store import Journal, SqlStore

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Serving:
    """What runs until the process is told to stop."""

    chats: Sequence[Awaitable[None]]
    service: AssistantService | None
    judge: JudgeWorker | None
    store: SqlStore
    journal: Journal
    grace_s: float


async def serve_until_stopped(serving: Serving) -> None:
    """Run the chat adapters and the judge worker until a stop signal, then stop in order.
    An adapter that ends by itself (an error at start) stops the rest and raises."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, _on_signal, loop, stop, number)
    chats = [asyncio.ensure_future(chat) for chat in serving.chats]
    judging = asyncio.ensure_future(serving.judge.run()) if serving.judge else None
    running = chats + ([judging] if judging else [])
    stopped = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([*running, stopped], return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        await _cancel([*running, stopped])
        raise
    if stopped not in done:
        await _cancel([task for task in [*running, stopped] if task not in done])
        for task in done:
            task.result()  # its error, e.g. a refused token
        return
    await _stop(serving, chats, judging)


def _on_signal(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, number: int) -> None:
    for each in STOP_SIGNALS:  # a second signal is not ours: it ends the process at once
        loop.remove_signal_handler(each)
    log.warning(
        "%s: taking no new questions; stopping once those in flight are done",
        signal.Signals(number).name,
    )
    stop.set()


async def _stop(
    serving: Serving, chats: Sequence[asyncio.Future[None]], judging: asyncio.Future[None] | None
) -> None:
    started = time.monotonic()
    if serving.judge is not None:
        serving.judge.stop()
    drain = serving.service.restart.drain(serving.grace_s) if serving.service else None
    drained, released = await asyncio.gather(
        drain if drain is not None else _nothing(),
        _stop_judging(serving, judging),
    )
    await _cancel(chats)
    await _flush_journal(serving)
    if drained is not None:
        log.info(
            "questions in flight at the stop: %d finished, %d cut short (their students "
            "told to ask again), %d still running",
            drained.finished,
            drained.interrupted,
            drained.left,
        )
    log.info("stopped in %.1f s; %d judge job(s) given back", time.monotonic() - started, released)


async def _nothing() -> None:
    return None


async def _stop_judging(serving: Serving, judging: asyncio.Future[None] | None) -> int:
    """Give the jobs in hand the grace, cancel what is left, give back every lease still
    held; how many."""
    if serving.judge is None or judging is None:
        return 0
    _, pending = await asyncio.wait([judging], timeout=serving.grace_s)
    await _cancel(list(pending))
    worker_id = serving.judge.worker_id
    try:
        return await asyncio.to_thread(serving.store.jobs.release_leases, worker_id)
    except Exception:
        log.exception("could not give back the judge's leases; they expire by themselves")
        return 0


async def _flush_journal(serving: Serving) -> None:
    if not serving.journal.has_entries():
        return
    try:
        report = await asyncio.to_thread(serving.journal.replay, serving.store)
    except Exception:
        log.exception("journal: the last replay failed; its entries stay on disk")
        return
    if report.error:
        log.warning(
            "journal: %d entries stay on disk for the next start (%s)", report.left, report.error
        )


async def _cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.warning("stopping: %s", result, exc_info=result)
