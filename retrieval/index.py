"""The segment index: one LanceDB table holding every course's segments and vectors.

The only module that imports ``lancedb``. Each row is a segment plus its vectors, the content
hash of the video it came from, the embedder that made the vectors and the course language.
Every query filters on ``course_id`` (a bitmap index makes that cheap), so courses never
see each other's segments.

A segment has SEVERAL vectors, one per part (about a sentence) of its text, in a LanceDB
multivector column; its dense score is the best cosine of a part (MaxSim with one query
vector). Questions are about a moment, not about two and a half minutes of talk: one vector
of a whole window blurs that moment, and E5 truncates long passages anyway (measured on
pstuts: MRR@10 0.21 for whole-window vectors against 0.35 for the best part).

Full-text search uses LanceDB's native inverted index. An index has one stemmer, so the text
is stored once more in a column per language (``text_english``, ``text_portuguese``), filled
only for rows of that language and empty otherwise: each course is searched through the
column, and so the stemmer, of its own language. A Portuguese course's column holds each
segment's text after its video's title (``index_rows.TITLED_WORD_LANGUAGES``).

The whole text is also indexed as character trigrams (any language, no stemmer): a Portuguese
course is searched through them instead of the words of its parts, since trigrams match
inflections the Portuguese stemmer leaves apart and English terms the students mix in
("backpropagation" shares "pro", "opa", "pag" with "retropropagação").
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.index import FTS, Bitmap, HnswSq
from lancedb.query import DocumentGranularity, MatchQuery

from retrieval.errors import IndexUnavailableError, RetrievalError
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.index_rows import (
    FTS_COLUMNS,
    PART_FTS_COLUMNS,
    SEGMENT_COLUMNS,
    STEMMERS,
    TRIGRAM_FTS_COLUMN,
    VECTORS,
    as_parts,
    best_cosine,
    ranked,
    result_rows,
    rows_table,
    schema,
    segments_from,
    vector_dim,
)
from retrieval.models import SEARCH_MODES, Hit, SearchMode, Segment

T = TypeVar("T")

TABLE_NAME = "segments"
# Segments (each with ~10-35 part vectors) from which a course is searched through the ANN
# index: LanceDB's exact multivector search took ~0.2-0.5 s for 10k segments x 12 parts on
# this machine, the IVF_HNSW_SQ index ~20 ms (benchmarks/query_latency.py).
DEFAULT_ANN_THRESHOLD = 2_000
ANN_PROBES = 20  # LanceDB's default; more changed nothing (see hnsw_ef)
REFINE_FACTOR = 5
MIN_HNSW_EF = 1000
HNSW_EF_PER_RESULT = 20
DEFAULT_CANDIDATES = 50  # per list fed to RRF in hybrid mode
# Hybrid fuses three lists: dense (best part), BM25 of segments, BM25 of parts. On pstuts dev
# k=30 and a 1.5 weight on dense were a little better than k=60 and equal weights on both
# halves of the videos (+0.004 MRR@10, +0.008 recall@5: within noise, but not against it).
DEFAULT_RRF_K_HYBRID = 30
DEFAULT_FUSION_WEIGHTS = (1.5, 1.0, 1.0)
# What a full-text list searches: segments' words, segments' trigrams, or parts' words.
FtsKind = Literal["words", "trigrams", "parts"]
PART_HITS_PER_SEGMENT = 4  # part-level FTS fetches this many hits per segment wanted
# Languages whose third hybrid list is BM25 over character trigrams of whole segments, in place
# of BM25 over the words of parts: trigrams match across inflections and across languages
# ("backpropagation" / "retropropagação"); English stems well and its questions share
# the videos' words. It is the slow list on a large table (figures in benchmarks/README.md).
TRIGRAM_LANGUAGES = frozenset({"portuguese"})
# The full-text indices a new table gets; an eval index made with others is built anew.
TEXT_INDICES = "words, part words, trigrams"


@dataclass(frozen=True)
class CourseInfo:
    """What a search needs to know of a course, cached per table version."""

    rows: int
    embedders: tuple[str, ...]
    languages: tuple[str, ...]
    has_ann_index: bool = False
    # False only for a table made before the trigram index, until its next ingest builds it.
    has_trigram_index: bool = False

    @property
    def embedder(self) -> str | None:
        """The embedder the course's vectors were made with; None when it has no rows.

        Several names (joined with " + ") only while an ingest with another embedder is
        half done: a search should then refuse, as for any other mismatch.
        """
        return " + ".join(self.embedders) or None


def sql_literal(value: str) -> str:
    """A SQL string literal for LanceDB filters (quotes doubled, so ids cannot inject)."""
    return "'" + value.replace("'", "''") + "'"


def use_ann(course_rows: int, threshold: int, has_ann_index: bool) -> bool:
    """Approximate search only pays for large courses. A small course in a large table is
    searched exactly: its rows are found through the course_id index, and an IVF index
    probing a few partitions would find few of them after the course filter."""
    return has_ann_index and course_rows >= threshold


def ann_partitions(rows: int) -> int:
    """IVF partitions: about sqrt(rows), the usual rule, at least 1."""
    return max(1, round(math.sqrt(rows)))


def hnsw_ef(limit: int) -> int:
    """How many candidates each probed partition's HNSW graph keeps while searching.

    A segment has 10-35 part vectors and the index holds parts, so the ``limit`` best
    segments need far more than ``limit`` part candidates. Measured against exact search
    on 100k segments x 12 parts (benchmarks/query_latency.py --keep-index): recall@10 was
    0.74 with LanceDB's default, 0.93-0.95 with ef 1000 and 0.985 with ef 2000 (+4 ms a
    query, +9 ms a hybrid search at 10k), each with the re-ranking below; the number of
    probed partitions changed nothing (20 to all 316).
    The scalar-quantised distances also mis-order near ties: re-ranking REFINE_FACTOR x k
    candidates on the stored vectors took recall@10 from 0.945 to 0.97 at 10k segments.
    """
    return max(MIN_HNSW_EF, HNSW_EF_PER_RESULT * limit)


class SegmentIndex:
    """Writes and scans are synchronous (ingest and the command line call them, or the
    service through a worker thread); ``search`` is async and runs on the caller's event
    loop through LanceDB's async API, so the lists of a hybrid search run at once (quiet
    2-core machine, 10k segments: 20 ms in turn, 15 ms at once) and no thread waits on it.
    LanceDB's sync API, kept for the synchronous callers, runs its async API on a thread
    of the library's own; no search goes through it.

    Reads are strongly consistent (``read_consistency_interval=0``): each query checks the
    table's latest version, so a long-running bot sees an ingest made by another process
    without a restart, at the cost of a manifest check per query.
    """

    def __init__(
        self,
        uri: str,
        *,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        rrf_k: int = DEFAULT_RRF_K_HYBRID,
        candidates: int = DEFAULT_CANDIDATES,
        fusion_weights: tuple[float, float, float] = DEFAULT_FUSION_WEIGHTS,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self.ann_threshold = ann_threshold
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.fusion_weights = fusion_weights
        self._db = lancedb.connect(
            uri, read_consistency_interval=timedelta(0), storage_options=storage_options
        )
        self._storage_options = storage_options
        self._table: Any = None
        self._async_db: Any = None  # LanceDB's async API, for searches
        self._async: Any = None
        self._info_cache: dict[str, tuple[int, CourseInfo]] = {}
        self._lock = threading.Lock()
        self._indices_checked = False

    # --- reading -------------------------------------------------------------------------

    def count(self, course_id: str) -> int:
        table = self._open()
        return 0 if table is None else table.count_rows(f"course_id = {sql_literal(course_id)}")

    async def course_info(self, course_id: str) -> CourseInfo:
        """Row count, embedders and languages of a course, cached per table version."""
        return await self._readable(self._course_info(course_id))

    async def _course_info(self, course_id: str) -> CourseInfo:
        table = await self._async_table()
        if table is None:
            return CourseInfo(0, (), ())
        version = await table.version()
        cached = self._info_cache.get(course_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        query = table.query().where(f"course_id = {sql_literal(course_id)}")
        rows = await query.select(["embedder", "language"]).to_arrow()
        indices = await table.list_indices()
        info = CourseInfo(
            rows=rows.num_rows,
            embedders=_distinct(rows.column("embedder")),
            languages=_distinct(rows.column("language")),
            has_ann_index=_has_ann_index(indices),
            has_trigram_index=_has_trigram_index(indices),
        )
        self._info_cache[course_id] = (version, info)
        return info

    def video_hashes(self, course_id: str) -> dict[str, str]:
        table = self._open()
        if table is None:
            return {}
        rows = self._scan(table, course_id, ["video_id", "video_hash"])
        return dict(zip(rows["video_id"], rows["video_hash"], strict=True))

    def all_segments(self, course_id: str) -> list[Segment]:
        table = self._open()
        if table is None:
            return []
        rows = self._scan(table, course_id, SEGMENT_COLUMNS)
        return sorted(segments_from(rows), key=lambda s: (s.video_id, s.start_s, s.id))

    def vectors(self, course_id: str) -> dict[str, np.ndarray]:
        """Each of the course's segment ids with its part vectors (benchmarks, exports)."""
        table = self._open()
        if table is None:
            return {}
        rows = self._scan(table, course_id, ["id", VECTORS])
        return {
            segment_id: np.asarray(parts, dtype=np.float32)
            for segment_id, parts in zip(rows["id"], rows[VECTORS], strict=True)
        }

    async def search(
        self,
        course_id: str,
        query_text: str,
        query_vector: np.ndarray | None,
        k: int,
        mode: SearchMode,
    ) -> list[Hit]:
        """The course's ``k`` best segments for the question, ranked 1..k.

        ``score`` is the cosine in dense mode, BM25 in fts mode, the RRF score in hybrid.
        ``dense_score`` is the cosine whenever a query vector is given.
        """
        if mode not in SEARCH_MODES:
            raise RetrievalError(f"unknown search mode {mode!r}: use one of {SEARCH_MODES}")
        if mode != "fts" and query_vector is None:
            raise RetrievalError(f"{mode} search needs the question's vector")
        return await self._readable(self._search(course_id, query_text, query_vector, k, mode))

    async def _search(
        self,
        course_id: str,
        query_text: str,
        query_vector: np.ndarray | None,
        k: int,
        mode: SearchMode,
    ) -> list[Hit]:
        table = await self._async_table()
        if k <= 0 or table is None:
            return []
        info = await self.course_info(course_id)
        vector = None if query_vector is None else np.asarray(query_vector, dtype=np.float32)
        pool = max(k, self.candidates) if mode == "hybrid" else k
        lists = await self._ranked_lists(table, course_id, info, query_text, vector, pool, mode)
        if mode == "hybrid":
            ids = [[row["id"] for row in found] for found in lists]
            fused = reciprocal_rank_fusion(ids, self.rrf_k, self.fusion_weights)[:k]
        else:
            score = "_cosine" if mode == "dense" else "_score"
            fused = [(row["id"], row[score]) for row in lists[0][:k]]
        wanted = [i for i, _ in fused]
        rows = await self._complete_rows(table, course_id, lists, wanted, vector is not None)
        # A row deleted between the searches and the fetch (a concurrent ingest) drops out.
        return ranked([(rows[i], score) for i, score in fused if i in rows], vector)

    # --- writing -------------------------------------------------------------------------

    def replace_video(
        self,
        course_id: str,
        video_id: str,
        content_hash: str,
        segments: Sequence[Segment],
        vectors: Sequence[np.ndarray],
        embedder_name: str,
        language: str,
        part_texts: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Make the video's rows exactly these segments, in one commit.

        ``vectors[i]`` holds segment i's part vectors, shape (parts, dim), or one vector of
        shape (dim,); a 2-D array of shape (segments, dim) gives each segment one vector.
        ``part_texts[i]`` are segment i's parts for part-level full-text search (default:
        the segment's text as its one part).

        Why ``merge_insert`` with ``when_not_matched_by_source_delete`` limited to the video:
        it upserts the new rows and deletes the video's rows that are gone in ONE table
        version, so a reader sees either the old video or the new one, never both or half.
        Add-then-delete would take two commits, with a window where a reader sees duplicate
        segments, and a crash between them would leave the duplicates behind.
        """
        if language not in STEMMERS:
            raise RetrievalError(
                f"language {language!r} is not supported: use one of {sorted(STEMMERS)}"
            )
        if len(segments) != len(vectors):
            raise RetrievalError(f"{len(segments)} segments but {len(vectors)} vectors")
        for segment in segments:
            if segment.course_id != course_id or segment.video_id != video_id:
                raise RetrievalError(
                    f"segment {segment.id!r} belongs to {segment.course_id}/{segment.video_id}, "
                    f"not {course_id}/{video_id}"
                )
        parts = [as_parts(v) for v in vectors]
        table = self._open_for_write(parts[0].shape[1] if parts else None)
        if table is None:  # no table yet and nothing to write
            return
        _check_dim(table, parts)
        texts = part_texts if part_texts is not None else [[s.text] for s in segments]
        if len(texts) != len(segments):
            raise RetrievalError(f"{len(segments)} segments but {len(texts)} part text lists")
        rows = rows_table(
            table.schema, segments, parts, texts, content_hash, embedder_name, language
        )
        video_rows = f"course_id = {sql_literal(course_id)} AND video_id = {sql_literal(video_id)}"
        (
            table.merge_insert(["course_id", "id"])
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(video_rows)
            .execute(rows)
        )

    def delete_video(self, course_id: str, video_id: str) -> None:
        table = self._open()
        if table is not None:
            table.delete(
                f"course_id = {sql_literal(course_id)} AND video_id = {sql_literal(video_id)}"
            )

    def optimize(self) -> None:
        """Fold new rows into the indices and compact small files; build the ANN index once
        the table reaches ``ann_threshold`` rows, and any text index a table made by an
        older version lacks. Call after an ingest, not per video."""
        table = self._open()
        if table is None:
            return
        _create_text_indices(table)
        if table.count_rows() >= self.ann_threshold and not self.has_ann_index():
            self.create_ann_index()
        table.optimize()

    def add_missing_indices(self) -> None:
        """Build the text indices a table made by an older version lacks (the trigrams),
        once per instance: at the first write, and by every ingest, even one with nothing
        to write. Until then its searches use the indices it has."""
        table = self._open()
        if table is not None and not self._indices_checked:
            _create_text_indices(table)
            self._indices_checked = True

    def has_ann_index(self) -> bool:
        table = self._open()
        return table is not None and _has_ann_index(table.list_indices())

    def create_ann_index(self) -> None:
        """IVF_HNSW_SQ: scalar-quantised vectors keep recall high without PQ's refine step."""
        table = self._open()
        if table is None:
            return
        config = HnswSq(distance_type="cosine", num_partitions=ann_partitions(table.count_rows()))
        table.create_index(VECTORS, config=config, replace=True)

    # --- internals -----------------------------------------------------------------------

    def _open(self) -> Any:
        with self._lock:
            if self._table is None:
                try:
                    self._table = self._db.open_table(TABLE_NAME)
                except ValueError:  # not created yet: no course was ever ingested here
                    return None
            return self._table

    def _open_for_write(self, dim: int | None) -> Any:
        self.add_missing_indices()
        table = self._open()
        if table is not None or dim is None:
            return table
        with self._lock:
            table = self._db.create_table(TABLE_NAME, schema=schema(dim), exist_ok=True)
            _create_text_indices(table)
            self._table = table
            return table

    def _scan(
        self, table: Any, course_id: str, columns: list[str], extra: str = ""
    ) -> dict[str, list[Any]]:
        where = f"course_id = {sql_literal(course_id)}" + (f" AND ({extra})" if extra else "")
        result: pa.Table = table.search().where(where).select(columns).limit(None).to_arrow()
        return {name: result.column(name).to_pylist() for name in columns}

    async def _ranked_lists(
        self,
        table: Any,
        course_id: str,
        info: CourseInfo,
        text: str,
        vector: np.ndarray | None,
        pool: int,
        mode: SearchMode,
    ) -> list[list[dict[str, Any]]]:
        """Each list the mode fuses, best first: dense (best part), BM25 of segments, and
        BM25 of parts or (``TRIGRAM_LANGUAGES``) of the segments' trigrams. They run at
        once: LanceDB spreads them over the cores."""
        where = f"course_id = {sql_literal(course_id)}"
        searches: list[Awaitable[list[dict[str, Any]]]] = []
        if mode in ("dense", "hybrid"):
            searches.append(self._dense(table, where, info, vector, pool))
        if mode in ("fts", "hybrid"):
            searches.append(self._fts(table, where, info, text, pool, "words"))
        if mode == "hybrid":
            searches.append(self._fts(table, where, info, text, pool, third_list(info)))
        return list(await asyncio.gather(*searches))

    async def _dense(
        self, table: Any, where: str, info: CourseInfo, vector: Any, limit: int
    ) -> list[dict[str, Any]]:
        query = (
            table.query()
            .nearest_to(vector)
            .column(VECTORS)
            .distance_type("cosine")
            .where(where)
            .select([*SEGMENT_COLUMNS, VECTORS, "_distance"])  # named, or Lance warns per query
            .limit(limit)
        )
        if use_ann(info.rows, self.ann_threshold, info.has_ann_index):
            query = query.nprobes(ANN_PROBES).ef(hnsw_ef(limit)).refine_factor(REFINE_FACTOR)
        else:
            query = query.bypass_vector_index()
        rows = result_rows(await query.to_arrow())
        # The cosine is recomputed from the parts: with an ANN index on a multivector
        # column LanceDB's _distance is on another scale than 1 - cosine.
        for row in rows:
            row["_cosine"] = best_cosine(row[VECTORS], vector)
        rows.sort(key=lambda row: -row["_cosine"])
        return rows

    async def _fts(
        self, table: Any, where: str, info: CourseInfo, text: str, limit: int, kind: FtsKind
    ) -> list[dict[str, Any]]:
        """BM25 over the words of whole segments, over their trigrams, or over the words of
        their parts, each segment ranked by its best part. The part search returns only ids:
        it yields several rows per segment, and selecting their vectors made a 4 ms search
        take 15 ms; the segments of the final top k found by it alone are fetched once after."""
        if not info.languages or not text.strip():
            return []
        language = info.languages[0]
        parts = kind == "parts"
        # A MatchQuery takes the text as words (no query syntax to trip on); OR of the terms.
        if parts:
            granularity = DocumentGranularity.LIST_ELEMENT
            match = MatchQuery(text, PART_FTS_COLUMNS[language], document_granularity=granularity)  # type: ignore[call-arg]
        elif kind == "trigrams":
            match = MatchQuery(text, TRIGRAM_FTS_COLUMN)  # type: ignore[call-arg]
        else:
            match = MatchQuery(text, FTS_COLUMNS[language])  # type: ignore[call-arg]
        query = (
            table.query()
            .nearest_to_text(match)
            .where(where)
            .select(["id", "_score"] if parts else [*SEGMENT_COLUMNS, VECTORS, "_score"])
            .limit(limit * PART_HITS_PER_SEGMENT if parts else limit)
        )
        found = result_rows(await query.to_arrow())
        best: dict[str, dict[str, Any]] = {}
        for row in found:  # one hit per matching part: keep each segment's best
            best.setdefault(row["id"], row)
        return list(best.values())[:limit]

    async def _complete_rows(
        self,
        table: Any,
        course_id: str,
        lists: Sequence[Sequence[dict[str, Any]]],
        ids: Sequence[str],
        need_vectors: bool,
    ) -> dict[str, dict[str, Any]]:
        """The rows of ``ids`` with their segment columns (and part vectors when a cosine
        is wanted): taken from the dense or segment-level lists, which select them, and
        fetched in one query for the rest (hits only the part-level search found)."""
        known = {row["id"]: row for found in lists for row in found if "text" in row}
        missing = [i for i in ids if i not in known or (need_vectors and VECTORS not in known[i])]
        if missing:
            id_list = ", ".join(sql_literal(i) for i in missing)
            where = f"course_id = {sql_literal(course_id)} AND id IN ({id_list})"
            query = table.query().where(where).select([*SEGMENT_COLUMNS, VECTORS])
            known.update({row["id"]: row for row in result_rows(await query.to_arrow())})
        return known

    async def _readable(self, reading: Awaitable[T]) -> T:
        """``reading``, with LanceDB's failures on a missing or damaged directory raised as
        ``IndexUnavailableError``. The table is opened anew on the next read, so an index
        put back or rebuilt (by this process or another) is used at once."""
        try:
            return await reading
        except (RuntimeError, OSError) as error:
            if isinstance(error, RuntimeError) and "lance" not in str(error).lower():
                raise  # not the files: a bug of ours or of the loop
            self._async = None
            self._info_cache.clear()
            raise IndexUnavailableError(self.uri, _short(error)) from error

    async def _async_table(self) -> Any:
        """The table through LanceDB's async API, opened on first use; None while no course
        was ever ingested here. Searches on one loop may race to open it: each opens the
        same table, and the last one kept is as good as the first."""
        if self._async is None:
            if self._async_db is None:
                self._async_db = await lancedb.connect_async(
                    self.uri,
                    read_consistency_interval=timedelta(0),
                    storage_options=self._storage_options,
                )
            try:
                self._async = await self._async_db.open_table(TABLE_NAME)
            except ValueError:  # not created yet
                return None
        return self._async


# Where in LanceDB's Rust source an error was raised: noise in a message for a person.
_RUST_LOCATION = re.compile(r",?\s*/\S+\.rs:\d+:\d+")


def _short(error: Exception) -> str:
    return _RUST_LOCATION.sub("", str(error)).strip()


def third_list(info: CourseInfo) -> FtsKind:
    """The full-text list a hybrid search fuses third for this course (see
    ``TRIGRAM_LANGUAGES``); the parts' words while a table lacks the trigram index."""
    trigrams = info.has_trigram_index and bool(info.languages)
    if trigrams and info.languages[0] in TRIGRAM_LANGUAGES:
        return "trigrams"
    return "parts"


def _has_ann_index(indices: Sequence[Any]) -> bool:
    return any(index.columns == [VECTORS] for index in indices)


def _has_trigram_index(indices: Sequence[Any]) -> bool:
    return any(index.columns == [TRIGRAM_FTS_COLUMN] for index in indices)


def _distinct(column: pa.ChunkedArray) -> tuple[str, ...]:
    return tuple(sorted(pc.unique(column).to_pylist()))


def _create_text_indices(table: Any) -> None:
    names = {index.name for index in table.list_indices()}
    if "course_id_idx" not in names:
        table.create_index("course_id", config=Bitmap(), replace=False)
    for language, column in FTS_COLUMNS.items():
        if f"{column}_idx" not in names:
            # LanceDB's native inverted index (not tantivy), stemmed in the column's language.
            config = FTS(language=STEMMERS[language], stem=True, remove_stop_words=True)
            table.create_index(column, config=config, replace=False)
    for language, column in PART_FTS_COLUMNS.items():
        if not any(name.startswith(column) for name in names):
            # Each list element is a document of its own: BM25 of a part, not of the row.
            config = FTS(
                language=STEMMERS[language],
                stem=True,
                remove_stop_words=True,
                document_granularity=DocumentGranularity.LIST_ELEMENT,
            )
            table.create_index(column, config=config, replace=False)
    if f"{TRIGRAM_FTS_COLUMN}_idx" not in names:
        # Lance's default trigrams, lower-cased and without accents; no stemmer, no stop words.
        config = FTS(base_tokenizer="ngram", stem=False, remove_stop_words=False)
        table.create_index(TRIGRAM_FTS_COLUMN, config=config, replace=False)


def _check_dim(table: Any, parts: Sequence[np.ndarray]) -> None:
    dim = vector_dim(table.schema)
    wrong = next((p.shape[1] for p in parts if p.shape[1] != dim), None)
    if wrong is not None:
        raise RetrievalError(
            f"the index holds {dim}-dimensional vectors but the embedder gives {wrong}: use "
            f"another LANCEDB_URI for this embedder, or delete the index and re-ingest every "
            f"course"
        )
