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
column, and so the stemmer, of its own language.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, Bitmap, HnswSq
from lancedb.query import DocumentGranularity, MatchQuery

from retrieval.errors import RetrievalError
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.models import SEARCH_MODES, Hit, SearchMode, Segment

TABLE_NAME = "segments"
VECTORS = "vectors"  # multivector column: a segment's part vectors
# Our language names (retrieval.courses.detect_language) -> LanceDB stemmer names.
STEMMERS = {"english": "English", "portuguese": "Portuguese"}
FTS_COLUMNS = {language: f"text_{language}" for language in STEMMERS}
# The same parts that get vectors, as a list per row, indexed element by element.
PART_FTS_COLUMNS = {language: f"parts_{language}" for language in STEMMERS}
# Segments (each with ~10-35 part vectors) from which a course is searched through the ANN
# index: LanceDB's exact multivector search took ~0.2-0.5 s for 10k segments x 12 parts on
# this machine, the IVF_HNSW_SQ index ~20 ms (benchmarks/query_latency.py).
DEFAULT_ANN_THRESHOLD = 2_000
DEFAULT_CANDIDATES = 50  # per list fed to RRF in hybrid mode
# Hybrid fuses three lists: dense (best part), BM25 of segments, BM25 of parts. On pstuts dev
# k=30 and a 1.5 weight on dense were a little better than k=60 and equal weights on both
# halves of the videos (+0.004 MRR@10, +0.008 recall@5: within noise, but not against it).
DEFAULT_RRF_K_HYBRID = 30
DEFAULT_FUSION_WEIGHTS = (1.5, 1.0, 1.0)
PART_HITS_PER_SEGMENT = 4  # part-level FTS fetches this many hits per segment wanted

_SEGMENT_COLUMNS = ["id", "course_id", "video_id", "title", "url", "start_s", "end_s", "text"]


@dataclass(frozen=True)
class _CourseInfo:
    rows: int
    embedders: tuple[str, ...]
    languages: tuple[str, ...]
    has_ann_index: bool = False


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


class SegmentIndex:
    """Synchronous; the async core calls it through ``asyncio.to_thread``.

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
        self._table: Any = None
        self._info_cache: dict[str, tuple[int, _CourseInfo]] = {}
        self._lock = threading.Lock()

    # --- reading -------------------------------------------------------------------------

    def count(self, course_id: str) -> int:
        return self._course_info(course_id).rows

    def embedder_for(self, course_id: str) -> str | None:
        """The embedder the course's vectors were made with; None when it has no rows.

        Several names (joined with " + ") only while an ingest with another embedder is
        half done: a search should then refuse, as for any other mismatch.
        """
        embedders = self._course_info(course_id).embedders
        return " + ".join(embedders) if embedders else None

    def language_for(self, course_id: str) -> str | None:
        languages = self._course_info(course_id).languages
        return languages[0] if languages else None

    def video_hashes(self, course_id: str) -> dict[str, str]:
        table = self._open()
        if table is None:
            return {}
        rows = self._scan(table, course_id, ["video_id", "video_hash"])
        return dict(zip(rows["video_id"], rows["video_hash"], strict=True))

    def segments(self, course_id: str, ids: Sequence[str]) -> list[Segment]:
        """The course's segments with these ids, in the order asked (unknown ids left out)."""
        table = self._open()
        if table is None or not ids:
            return []
        id_list = ", ".join(sql_literal(i) for i in ids)
        rows = self._scan(table, course_id, _SEGMENT_COLUMNS, f"id IN ({id_list})")
        by_id = {segment.id: segment for segment in _segments_from(rows)}
        return [by_id[i] for i in ids if i in by_id]

    def all_segments(self, course_id: str) -> list[Segment]:
        table = self._open()
        if table is None:
            return []
        rows = self._scan(table, course_id, _SEGMENT_COLUMNS)
        return sorted(_segments_from(rows), key=lambda s: (s.video_id, s.start_s, s.id))

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

    def search(
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
        table = self._open()
        if table is None or k <= 0:
            return []
        info = self._course_info(course_id)
        if mode == "dense":
            found = self._dense(table, course_id, info, query_vector, k)
            return _ranked([(row, row["_cosine"]) for row in found], query_vector)
        if mode == "fts":
            found = self._fts(table, course_id, info, query_text, k)
            return _ranked([(row, row["_score"]) for row in found], query_vector)
        pool = max(k, self.candidates)
        lists = [
            self._dense(table, course_id, info, query_vector, pool),
            self._fts(table, course_id, info, query_text, pool),
            self._fts(table, course_id, info, query_text, pool, parts=True),
        ]
        rows = {row["id"]: row for found in lists for row in found}
        fused = reciprocal_rank_fusion(
            [[row["id"] for row in found] for found in lists], self.rrf_k, self.fusion_weights
        )
        return _ranked([(rows[i], score) for i, score in fused[:k]], query_vector)

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
        parts = [_as_parts(v) for v in vectors]
        table = self._open_for_write(parts[0].shape[1] if parts else None)
        if table is None:  # no table yet and nothing to write
            return
        _check_dim(table, parts)
        texts = part_texts if part_texts is not None else [[s.text] for s in segments]
        if len(texts) != len(segments):
            raise RetrievalError(f"{len(segments)} segments but {len(texts)} part text lists")
        rows = _rows_table(
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

    def delete_course(self, course_id: str) -> None:
        table = self._open()
        if table is not None:
            table.delete(f"course_id = {sql_literal(course_id)}")

    def optimize(self) -> None:
        """Fold new rows into the indices and compact small files; build the ANN index once
        the table reaches ``ann_threshold`` rows. Call after an ingest, not per video."""
        table = self._open()
        if table is None:
            return
        if table.count_rows() >= self.ann_threshold and not self.has_ann_index():
            self.create_ann_index()
        table.optimize()

    def has_ann_index(self) -> bool:
        table = self._open()
        return table is not None and any(
            index.columns == [VECTORS] for index in table.list_indices()
        )

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
        table = self._open()
        if table is not None or dim is None:
            return table
        with self._lock:
            table = self._db.create_table(TABLE_NAME, schema=_schema(dim), exist_ok=True)
            _create_text_indices(table)
            self._table = table
            return table

    def _course_info(self, course_id: str) -> _CourseInfo:
        """Row count, embedders and languages of a course, cached per table version."""
        table = self._open()
        if table is None:
            return _CourseInfo(0, (), ())
        version = table.version
        cached = self._info_cache.get(course_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = self._scan(table, course_id, ["embedder", "language"])
        info = _CourseInfo(
            rows=len(rows["embedder"]),
            embedders=tuple(sorted(set(rows["embedder"]))),
            languages=tuple(sorted(set(rows["language"]))),
            has_ann_index=self.has_ann_index(),
        )
        self._info_cache[course_id] = (version, info)
        return info

    def _scan(
        self, table: Any, course_id: str, columns: list[str], extra: str = ""
    ) -> dict[str, list[Any]]:
        where = f"course_id = {sql_literal(course_id)}" + (f" AND ({extra})" if extra else "")
        result: pa.Table = table.search().where(where).select(columns).limit(None).to_arrow()
        return {name: result.column(name).to_pylist() for name in columns}

    def _dense(
        self, table: Any, course_id: str, info: _CourseInfo, vector: Any, limit: int
    ) -> list[dict[str, Any]]:
        query = (
            table.search([np.asarray(vector, dtype=np.float32)], vector_column_name=VECTORS)
            .distance_type("cosine")
            .where(f"course_id = {sql_literal(course_id)}", prefilter=True)
            .select([*_SEGMENT_COLUMNS, VECTORS, "_distance"])
            .limit(limit)
        )
        if use_ann(info.rows, self.ann_threshold, info.has_ann_index):
            query = query.nprobes(20)  # ef: LanceDB derives it from k (multivector widens k)
        else:
            query = query.bypass_vector_index()
        rows = _rows(query.to_arrow())
        # The cosine is recomputed from the parts: with an ANN index on a multivector
        # column LanceDB's _distance is on another scale than 1 - cosine.
        for row in rows:
            row["_cosine"] = best_cosine(row[VECTORS], vector)
        rows.sort(key=lambda row: -row["_cosine"])
        return rows

    def _fts(
        self,
        table: Any,
        course_id: str,
        info: _CourseInfo,
        text: str,
        limit: int,
        parts: bool = False,
    ) -> list[dict[str, Any]]:
        """BM25 over whole segments, or (``parts``) over their parts, each segment ranked
        by its best part."""
        if not info.languages or not text.strip():
            return []
        language = info.languages[0]
        # A MatchQuery takes the text as words (no query syntax to trip on); OR of the terms.
        if parts:
            granularity = DocumentGranularity.LIST_ELEMENT
            match = MatchQuery(text, PART_FTS_COLUMNS[language], document_granularity=granularity)  # type: ignore[call-arg]
        else:
            match = MatchQuery(text, FTS_COLUMNS[language])  # type: ignore[call-arg]
        query = (
            table.search(match, query_type="fts")
            .where(f"course_id = {sql_literal(course_id)}", prefilter=True)
            .select([*_SEGMENT_COLUMNS, VECTORS, "_score"])
            .limit(limit * PART_HITS_PER_SEGMENT if parts else limit)
        )
        found = _rows(query.to_arrow())
        if parts:  # one hit per matching part: keep each segment's best
            best: dict[str, dict[str, Any]] = {}
            for row in found:
                best.setdefault(row["id"], row)
            found = list(best.values())[:limit]
        return found


def _rows(result: pa.Table) -> list[dict[str, Any]]:
    """Result rows as dicts; the part vectors as one numpy array per row (to_list would
    build Python floats, thousands per row, which costs more than the search)."""
    columns = {
        name: result.column(name).to_pylist() for name in result.column_names if name != VECTORS
    }
    vectors = result.column(VECTORS).combine_chunks()
    dim = vectors.type.value_type.list_size
    flat = vectors.values.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    offsets = vectors.offsets.to_numpy()
    return [
        {
            **{name: values[i] for name, values in columns.items()},
            VECTORS: flat[offsets[i] : offsets[i + 1]],
        }
        for i in range(result.num_rows)
    ]


def _schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("course_id", pa.string(), nullable=False),
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("title", pa.string()),
            pa.field("url", pa.string()),
            pa.field("start_s", pa.float64()),
            pa.field("end_s", pa.float64()),
            pa.field("text", pa.string()),
            *[pa.field(column, pa.string()) for column in FTS_COLUMNS.values()],
            *[pa.field(column, pa.list_(pa.string())) for column in PART_FTS_COLUMNS.values()],
            pa.field("language", pa.string()),
            pa.field("video_hash", pa.string()),
            pa.field("embedder", pa.string()),
            pa.field(VECTORS, pa.list_(pa.list_(pa.float32(), dim))),
        ]
    )


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


def _as_parts(vectors: np.ndarray) -> np.ndarray:
    parts = np.asarray(vectors, dtype=np.float32)
    parts = parts.reshape(1, -1) if parts.ndim == 1 else parts
    if parts.ndim != 2 or len(parts) == 0:
        raise RetrievalError(f"a segment needs at least one vector, got shape {parts.shape}")
    return parts


def _vector_dim(schema: pa.Schema) -> int:
    size: int = schema.field(VECTORS).type.value_type.list_size
    return size


def _check_dim(table: Any, parts: Sequence[np.ndarray]) -> None:
    dim = _vector_dim(table.schema)
    wrong = next((p.shape[1] for p in parts if p.shape[1] != dim), None)
    if wrong is not None:
        raise RetrievalError(
            f"the index holds {dim}-dimensional vectors but the embedder gives {wrong}: use "
            f"another LANCEDB_URI for this embedder, or delete the index and re-ingest every "
            f"course"
        )


def best_cosine(parts: Any, query_vector: Any) -> float:
    """The highest cosine between the query and any part (all unit length)."""
    return float(np.max(np.asarray(parts, dtype=np.float32) @ query_vector))


def _rows_table(
    schema: pa.Schema,
    segments: Sequence[Segment],
    parts: Sequence[np.ndarray],
    part_texts: Sequence[Sequence[str]],
    content_hash: str,
    embedder_name: str,
    language: str,
) -> pa.Table:
    dim = _vector_dim(schema)
    if parts:
        flat = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32).reshape(-1)
    else:
        flat = np.zeros(0, dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int32)
    columns: dict[str, Any] = {
        "id": [s.id for s in segments],
        "course_id": [s.course_id for s in segments],
        "video_id": [s.video_id for s in segments],
        "title": [s.title for s in segments],
        "url": [s.url for s in segments],
        "start_s": [float(s.start_s) for s in segments],
        "end_s": [float(s.end_s) for s in segments],
        "text": [s.text for s in segments],
    }
    for other, column in FTS_COLUMNS.items():
        columns[column] = [s.text if other == language else "" for s in segments]
    for other, column in PART_FTS_COLUMNS.items():
        columns[column] = [list(texts) if other == language else [] for texts in part_texts]
    columns["language"] = [language] * len(segments)
    columns["video_hash"] = [content_hash] * len(segments)
    columns["embedder"] = [embedder_name] * len(segments)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dim)
    columns[VECTORS] = pa.ListArray.from_arrays(pa.array(offsets), vectors)
    return pa.Table.from_pydict(columns, schema=schema)


def _segments_from(rows: dict[str, list[Any]]) -> Iterable[Segment]:
    for values in zip(*(rows[name] for name in _SEGMENT_COLUMNS), strict=True):
        yield Segment(*values)


def _ranked(scored: list[tuple[dict[str, Any], float]], query_vector: Any) -> list[Hit]:
    hits = []
    for rank, (row, score) in enumerate(scored, start=1):
        cosine = None
        if query_vector is not None:
            cosine = best_cosine(row[VECTORS], query_vector)
        segment = Segment(*(row[name] for name in _SEGMENT_COLUMNS))
        hits.append(Hit(segment=segment, score=float(score), rank=rank, dense_score=cosine))
    return hits
