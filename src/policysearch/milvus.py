"""A Milvus collection as the search side of an index, on a cluster (`http://host:19530`) or in
Milvus Lite (a file): the same passages, their vectors, and their BM25 weights from our own
tokenizer as sparse vectors, so a query's inner product is exactly the local BM25 score (policy
terms, stopwords and 第十二条 = 第12条 included, which Milvus' own jieba analyzer would not know).

The index folder keeps the manifest and the documents (for `document()` and citations); each
index version writes its own collection, so publishing a version is as atomic as for local files.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from .errors import PolicySearchError
from .records import Chunk, Document, Filters, kind_of
from .ranking import Ranked, top_k
from .sparse import BM25

TEXT_BYTES = 16_384
FIELD_BYTES = {"doc_id": 1024, "title": 1024, "date": 32, "source": 512, "path": 2048, "article": 64, "kind": 16,
               "number": 128}
BATCH = 512


class MilvusStore:
    """One index version's collection, searched as a `Backend` (a scope is a filter expression);
    `bm25` maps query terms to the stored term ids. The token comes from `$POLICYSEARCH_MILVUS_TOKEN`."""

    EF_SEARCH = 128
    """Candidates an HNSW search keeps (at least the k asked for), as the local backend's graph does.
    With AUTOINDEX and default parameters, Milvus Lite missed a report's two best passages among 3,418."""

    def __init__(self, uri: str, collection: str, bm25: BM25 | None = None, token: str | None = None) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise PolicySearchError("the Milvus backend needs pymilvus (and milvus-lite for a local file): "
                                    "pip install 'policysearch[milvus]'") from None
        self.uri = uri
        self.collection = collection
        self.bm25 = bm25
        token = token if token is not None else os.environ.get("POLICYSEARCH_MILVUS_TOKEN", "")
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # its own traceback; we say what happened
        try:
            self.client = MilvusClient(uri, token=token) if token else MilvusClient(uri)
        except Exception as err:  # pymilvus raises its own exception types for every transport problem
            if _lite_in_use(uri):
                raise PolicySearchError(
                    f"the Milvus Lite file {uri} is in use by another process (a running `policysearch serve`?): "
                    "Milvus Lite opens a file in one process at a time; stop that process, or use a Milvus "
                    "server (--uri http://host:19530)") from None
            raise PolicySearchError(f"cannot reach Milvus at {uri}: {err}") from None

    def create(self, dim: int | None, exact: bool = True) -> None:
        """The collection and its indexes, if missing (calling it again changes nothing). Vectors
        get an exact FLAT index, or with `exact` off an HNSW graph (M=32, efConstruction=80)."""
        from pymilvus import DataType

        if self.client.has_collection(self.collection):
            return
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        for name, size in FIELD_BYTES.items():
            schema.add_field(name, DataType.VARCHAR, max_length=size)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        indexes = self.client.prepare_index_params()
        indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        if dim:
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
            graph = {"index_type": "HNSW", "params": {"M": 32, "efConstruction": 80}}
            indexes.add_index("dense", metric_type="COSINE", **({"index_type": "FLAT"} if exact else graph))
        self.client.create_collection(self.collection, schema=schema, index_params=indexes, consistency_level="Strong")

    def insert(self, documents: Sequence[Document], chunks: Sequence[Chunk], sparse: Sequence[dict[int, float]],
               vectors: np.ndarray | None) -> None:
        """Every chunk as one entity keyed by its row; field sizes checked in UTF-8 bytes first,
        as a cluster counts them (Milvus Lite counts characters)."""
        docs = {d.id: d for d in documents}
        entities = []
        for row, chunk in enumerate(chunks):
            doc = docs[chunk.doc_id]
            entity = {"row": row, "doc_id": doc.id, "title": doc.title, "date": doc.date, "source": doc.source,
                      "path": doc.path, "article": chunk.article, "kind": kind_of(doc.path),
                      "number": doc.meta.get("number", ""),
                      "start": chunk.start, "end": chunk.end, "text": chunk.text, "sparse": sparse[row]}
            for name, size in {**FIELD_BYTES, "text": TEXT_BYTES}.items():
                if len(entity[name].encode("utf-8")) > size:
                    raise PolicySearchError(f"{doc.id}: field '{name}' is over {size} bytes in UTF-8, the Milvus "
                                            f"schema's limit; shorten it or lower Settings.chunk_max")
            if vectors is not None:
                entity["dense"] = vectors[row].tolist()
            entities.append(entity)
        for start in range(0, len(entities), BATCH):
            self.client.insert(self.collection, entities[start:start + BATCH])
        self.client.flush(self.collection)

    def load(self) -> None:
        if not self.client.has_collection(self.collection):
            raise PolicySearchError(f"Milvus at {self.uri} has no collection '{self.collection}'; "
                                    "rebuild the index with `policysearch index --rebuild --backend milvus`")
        self.client.load_collection(self.collection)

    def drop(self) -> None:
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)

    def sweep(self, prefix: str, keep: set[str]) -> list[str]:
        """Drop the collections named `prefix…` other than `keep`: those of builds that were
        killed before a version pointed at them. Call it under the index's writer lock."""
        orphans = [name for name in self.client.list_collections() if name.startswith(prefix) and name not in keep]
        for name in orphans:
            self.client.drop_collection(name)
        return orphans

    def scope(self, filters: Filters | None) -> str:
        return filter_expression(filters) if filters else ""

    def sparse(self, terms: Sequence[str], k: int, scope: str) -> Ranked:
        """Passages by BM25: the inner product of the query's term counts with the stored weights."""
        query = self.bm25.query_terms(terms)
        if not query:
            return Ranked(np.zeros(0, np.int64), np.zeros(0))
        found = self.client.search(self.collection, data=[query], anns_field="sparse", limit=k, filter=scope,
                                   search_params={"metric_type": "IP"})[0]
        return _ranked([h for h in found if h["distance"] > 0])

    def dense(self, vector: np.ndarray, k: int, scope: str) -> Ranked:
        params = {"metric_type": "COSINE", "params": {"ef": max(self.EF_SEARCH, k)}}  # FLAT ignores ef
        found = self.client.search(self.collection, data=[vector.tolist()], anns_field="dense", limit=k,
                                   filter=scope, search_params=params)[0]
        return _ranked(found)

    def sparse_scores(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """Exact BM25 of the given passages, from their stored weights (a filtered search may skip some)."""
        query = self.bm25.query_terms(terms)
        weights = self._fetch(rows, "sparse")
        return np.array([sum(query.get(int(t), 0.0) * w for t, w in weights[r].items()) for r in rows.tolist()])

    def dense_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact cosine of the given passages, from their stored vectors."""
        vectors = self._fetch(rows, "dense")
        return np.array([vectors[r] for r in rows.tolist()], dtype=np.float32) @ vector.astype(np.float32)

    def _fetch(self, rows: np.ndarray, field: str) -> dict:
        found = self.client.query(self.collection, filter=f"row in {rows.tolist()}", output_fields=[field])
        return {int(entity["row"]): entity[field] for entity in found}


def publish(uri: str, prefix: str, keep: set[str], documents: Sequence[Document], chunks: Sequence[Chunk],
            bm25: BM25, vectors, dim: int | None, hnsw_threshold: int) -> dict:
    """Write one index version's passages into a new collection named `prefix…`, after dropping
    that index's orphans (any `prefix…` collection not in `keep`); the manifest then points at it.
    Below `hnsw_threshold` passages dense search is exact, as in the local backend."""
    import uuid

    target = MilvusStore(uri, f"{prefix}{uuid.uuid4().hex[:12]}")
    target.sweep(prefix, keep)
    target.create(dim, exact=len(chunks) < hnsw_threshold)
    try:
        unused = {len(bm25.vocab): 1.0}  # Milvus needs a nonzero weight; no query has this term id
        sparse = [row or unused for row in bm25.rows()]
        target.insert(documents, chunks, sparse, None if vectors is None else np.asarray(vectors.vectors))
    except BaseException:
        target.drop()
        raise
    return {"uri": uri, "collection": target.collection}


def filter_expression(filters: Filters) -> str:
    """The Milvus boolean expression for `Filters` (same meaning as the local SQL)."""
    parts = []
    if filters.source:
        literal = filters.source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts.append(f"source like {json.dumps('%' + literal + '%', ensure_ascii=False)}")
    if filters.date_from:
        parts.append(f'date != "" and date >= {json.dumps(filters.date_from)}')
    if filters.date_to:
        parts.append(f'date != "" and date <= {json.dumps(filters.date_to + "~")}')
    if filters.kind:
        parts.append(f"kind == {json.dumps(filters.kind.lower().lstrip('.'))}")
    if filters.number:
        literal = filters.number.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts.append(f"number like {json.dumps('%' + literal + '%', ensure_ascii=False)}")
    return " and ".join(parts)


def _lite_in_use(uri: str) -> bool:
    """Whether `uri` is a Milvus Lite file whose lock another process holds."""
    lock = Path(uri) / "LOCK"
    if "://" in uri or not lock.is_file():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _ranked(found: list[dict]) -> Ranked:
    rows = np.array([int(h.get("row", h.get("id"))) for h in found], dtype=np.int64)
    return top_k(rows, np.array([float(h["distance"]) for h in found], dtype=np.float64), len(rows))
