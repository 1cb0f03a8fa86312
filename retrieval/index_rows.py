"""The segment table's columns and the conversions between its rows and our values.

Pure pyarrow and numpy: ``retrieval.index`` (the only module that talks to LanceDB) writes
the tables built here and reads query results back through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from retrieval.errors import RetrievalError
from retrieval.models import Hit, Segment
from retrieval.text import storable_text

VECTORS = "vectors"  # multivector column: a segment's part vectors
# Our language names (retrieval.courses.detect_language) -> LanceDB stemmer names.
STEMMERS = {"english": "English", "portuguese": "Portuguese"}
FTS_COLUMNS = {language: f"text_{language}" for language in STEMMERS}
# The same parts that get vectors, as a list per row, indexed element by element.
PART_FTS_COLUMNS = {language: f"parts_{language}" for language in STEMMERS}
# The whole segment text, indexed a second way: as character trigrams, whatever the language.
TRIGRAM_FTS_COLUMN = "text"
# Languages whose word index reads the video's title before each segment's text: the title
# names the video's subject in the course's words, which a window in the middle of it may
# never say. Not English: there it cost more questions than it found (benchmarks/README.md).
TITLED_WORD_LANGUAGES = frozenset({"portuguese"})
SEGMENT_COLUMNS = ["id", "course_id", "video_id", "title", "url", "start_s", "end_s", "text"]


def schema(dim: int) -> pa.Schema:
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


def vector_dim(table_schema: pa.Schema) -> int:
    size: int = table_schema.field(VECTORS).type.value_type.list_size
    return size


def as_parts(vectors: np.ndarray) -> np.ndarray:
    """A segment's vectors as a (parts, dim) float32 array."""
    parts = np.asarray(vectors, dtype=np.float32)
    parts = parts.reshape(1, -1) if parts.ndim == 1 else parts
    if parts.ndim != 2 or len(parts) == 0:
        raise RetrievalError(f"a segment needs at least one vector, got shape {parts.shape}")
    return parts


def best_cosine(parts: Any, query_vector: Any) -> float:
    """The highest cosine between the query and any part (all unit length)."""
    return float(np.max(np.asarray(parts, dtype=np.float32) @ query_vector))


def result_rows(result: pa.Table) -> list[dict[str, Any]]:
    """Query result rows as dicts; part vectors, when selected, as one numpy array per row
    (to_pylist would build Python floats, thousands per row, costing more than the search)."""
    columns = {
        name: result.column(name).to_pylist() for name in result.column_names if name != VECTORS
    }
    rows = [{name: values[i] for name, values in columns.items()} for i in range(result.num_rows)]
    if VECTORS in result.column_names and result.num_rows:
        vectors = result.column(VECTORS).combine_chunks()
        dim = vectors.type.value_type.list_size
        flat = vectors.values.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
        offsets = vectors.offsets.to_numpy()
        for i, row in enumerate(rows):
            row[VECTORS] = flat[offsets[i] : offsets[i + 1]]
    return rows


def segments_from(rows: dict[str, list[Any]]) -> Iterable[Segment]:
    for values in zip(*(rows[name] for name in SEGMENT_COLUMNS), strict=True):
        yield Segment(*values)


def ranked(scored: Sequence[tuple[dict[str, Any], float]], query_vector: Any) -> list[Hit]:
    """Hits ranked 1.. in the given order; the dense cosine whenever there is a vector."""
    hits = []
    for rank, (row, score) in enumerate(scored, start=1):
        cosine = None
        if query_vector is not None:
            cosine = best_cosine(row[VECTORS], query_vector)
        segment = Segment(*(row[name] for name in SEGMENT_COLUMNS))
        hits.append(Hit(segment=segment, score=float(score), rank=rank, dense_score=cosine))
    return hits


def rows_table(
    table_schema: pa.Schema,
    segments: Sequence[Segment],
    parts: Sequence[np.ndarray],
    part_texts: Sequence[Sequence[str]],
    content_hash: str,
    embedder_name: str,
    language: str,
) -> pa.Table:
    dim = vector_dim(table_schema)
    if parts:
        flat = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32).reshape(-1)
    else:
        flat = np.zeros(0, dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int32)
    # Ingest cleans what it reads; this is the last line of defence (see retrieval.text).
    texts = [storable_text(s.text) for s in segments]
    columns: dict[str, Any] = {
        "id": [storable_text(s.id) for s in segments],
        "course_id": [storable_text(s.course_id) for s in segments],
        "video_id": [storable_text(s.video_id) for s in segments],
        "title": [storable_text(s.title) for s in segments],
        "url": [storable_text(s.url) for s in segments],
        "start_s": [float(s.start_s) for s in segments],
        "end_s": [float(s.end_s) for s in segments],
        "text": texts,
    }
    words = texts
    if language in TITLED_WORD_LANGUAGES:
        titles = [storable_text(s.title) for s in segments]
        words = [f"{title}. {text}" for title, text in zip(titles, texts, strict=True)]
    for other, column in FTS_COLUMNS.items():
        columns[column] = [text if other == language else "" for text in words]
    for other, column in PART_FTS_COLUMNS.items():
        columns[column] = [
            [storable_text(text) for text in part] if other == language else []
            for part in part_texts
        ]
    columns["language"] = [language] * len(segments)
    columns["video_hash"] = [content_hash] * len(segments)
    columns["embedder"] = [embedder_name] * len(segments)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dim)
    columns[VECTORS] = pa.ListArray.from_arrays(pa.array(offsets), vectors)
    return pa.Table.from_pydict(columns, schema=table_schema)
