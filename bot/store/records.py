"""Values the store returns beyond ``bot.models``, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

JobStatus = Literal["pending", "running", "done", "failed"]


class StoreError(Exception):
    """A write the database refused; the message names the record and what to check."""


@dataclass(frozen=True)
class JobRecord:
    """A row of the job queue, for inspection (workers get ``bot.ports.Job`` from a claim)."""

    id: int
    kind: str
    ref: str
    status: JobStatus
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str
    created_at: datetime
    updated_at: datetime
