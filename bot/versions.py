"""The version of what produces an answer: a short hash of the prompt texts (with the
course's policy), the answer model, k, the search mode, the embedder with its version and
the segmenting settings. Each interaction records it, so the report, the digest and
``python -m bot evaluate`` can tell answers of one setup from another's.

A change in any part gives another hash; the parts themselves are logged when a process
starts (``AnswerSetup.describe``), so a hash in a report can be traced to what it stands for.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from bot.models import Hit, Interaction, Question, Segment
from bot.prompts import build_messages, system_prompt

VERSION_CHARS = 8
# A question and a hit that stand for any: what the prompt wraps around them is hashed.
_PROBE_SEGMENT = Segment("probe", "probe", "probe", "Probe", "", 0.0, 1.0, "probe")
_PROBE = Question(course_id="probe", text="probe")


@dataclass(frozen=True)
class AnswerSetup:
    """Everything but the course's policy that decides an answer. ``answer_model`` is the
    configured model, or ``extractive`` when the process has none (no API key)."""

    answer_model: str
    k: int
    search_mode: str
    embedder: str  # the embedder's full name, its package version included
    segmenting: str  # ``SegmentingSettings.fingerprint()``

    @functools.cache  # noqa: B019 -- a frozen value, and few policies: the cache stays small
    def version(self, policy: str) -> str:
        """The short hash of this setup answering under ``policy``."""
        prompts = {
            "system": system_prompt(policy),
            "messages": build_messages(_PROBE, (Hit(_PROBE_SEGMENT, 1.0, 1),)),
        }
        parts = {**asdict(self), "prompts": prompts}
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:VERSION_CHARS]

    def describe(self) -> str:
        """The parts in one line, for the log."""
        return ", ".join(f"{name}={value}" for name, value in asdict(self).items())


@dataclass(frozen=True)
class VersionUse:
    """One version as a stretch of interactions used it."""

    version: str  # '' for interactions logged before versions were recorded
    count: int
    first: datetime
    last: datetime

    @property
    def label(self) -> str:
        return self.version or "(sem versão)"


def versions_in_use(interactions: Iterable[Interaction]) -> list[VersionUse]:
    """Each version the interactions were answered by, in the order each was first used."""
    seen: dict[str, list[Interaction]] = {}
    for interaction in sorted(interactions, key=lambda i: (i.created_at, i.id)):
        seen.setdefault(interaction.version, []).append(interaction)
    return [
        VersionUse(version, len(used), used[0].created_at, used[-1].created_at)
        for version, used in seen.items()
    ]
