"""The job statuses the queue writes, and the store's errors."""

from __future__ import annotations

from typing import Literal

JobStatus = Literal["pending", "running", "done", "failed"]


class StoreError(Exception):
    """A write the database refused; the message names the record and what to check."""
