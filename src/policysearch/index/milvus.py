"""An index whose passages live in Milvus, on a cluster (`http://host:19530`) or in Milvus Lite
(a file). The index folder keeps only the manifest and the query side of BM25 (`BM25Terms`);
passage text, metadata, BM25 weights and vectors are in a passage collection, and document text
in a document collection beside it.

Passages carry their BM25 weights from our own tokenizer as a sparse vector without the idf,
which the query brings, so a query's inner product is exactly the local BM25 score (policy
terms, stopwords and 第十二条 = 第12条 included, which Milvus' own analyzer would not know).

Versions: each row holds the index versions that see it, `since <= v < until`. An update inserts
the passages of new and changed documents with `since` = the new version and sets `until` on the
rows it replaces, in the live collection; the manifest that names the new version is published
last. A reader searches with its version's filter, so it sees the old or the new passages of a
document, never a mix. A full build writes a new pair of collections.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import PolicySearchError
from ..records import Chunk, Document, DocumentInfo, Filters, kind_of, named_sources
from .ranking import Ranked, top_k
from .sparse import BM25Terms

FOREVER = 2**62  # `until` of a row no version has replaced
TEXT_BYTES = 16_384
PART_CHARS = 16_000  # document text is stored in parts of this many characters (at most 64,000 bytes)
LONG_BYTES = 65_535
FIELD_BYTES = {"doc_id": 1024, "title": 1024, "date": 32, "source": 512, "path": 2048, "article": 64, "kind": 16,
               "number": 128, "article_key": 64, "heading": 1024}
PASSAGE_FIELDS = ["doc_id", "doc_no", "ordinal", "start", "end", "article", "heading", "text", "title", "date", "source",
                  "path", "number", "article_start", "article_end", "article_parts"]
DOCUMENT_FIELDS = ["doc_id", "doc_no", "part", "parts", "passages", "title", "date", "source", "path", "body_start",
                   "meta", "text"]
EMPTY_TERM = 2**32 - 2  # the one weight of a passage without terms (Milvus stores no empty sparse vector)
BATCH = 512
CACHED_PASSAGES = 20_000  # passages kept from search results, so hits need no second round trip

log = logging.getLogger("policysearch")


class MilvusStore:
    """The passage and document collections of one index build, and the calls that change them.
    Every call has a timeout; reads are retried; a failure is one line naming the server. The
    token comes from `$POLICYSEARCH_MILVUS_TOKEN`."""

    TIMEOUT = 30.0
    """Seconds one read may take before it counts as failed."""
    WRITE_TIMEOUT = 600.0
    """Seconds one write may take: a batch insert or a flush waits while the server seals segments
    (a 30-second limit failed a million-passage insert into a busy Milvus Lite)."""
    RETRIES = 2
    """Further tries of a failed read (a dropped connection), half a second apart and doubling."""
    EF_SEARCH = 128
    """Candidates an HNSW search keeps (at least the k asked for), as the local backend's graph does."""

    def __init__(self, uri: str, collection: str, token: str | None = None) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise PolicySearchError("the Milvus backend needs pymilvus (and milvus-lite for a local file): "
                                    "pip install 'policysearch[milvus]'") from None
        self.uri = uri
        self.collection = collection
        self.documents = f"{collection}_docs"
        token = token if token is not None else os.environ.get("POLICYSEARCH_MILVUS_TOKEN", "")
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # its own traceback; we say what happened
        for name in ("pymilvus", "grpc._server"):  # Milvus Lite lacks the call that times an iterator; it falls back
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client = MilvusClient(uri, token=token, timeout=self.TIMEOUT)
        except Exception as err:  # pymilvus raises its own exception types for every transport problem
            if _lite_in_use(uri):
                raise PolicySearchError(
                    f"the Milvus Lite file {uri} is in use by another process (a running `policysearch serve`?): "
                    "Milvus Lite opens a file in one process at a time; stop that process, or use a Milvus "
                    "server (--uri http://host:19530)") from None
            raise PolicySearchError(f"cannot reach Milvus at {uri}: {_reason(err)}") from None

    def read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A read call, tried again after a transport failure."""
        for attempt in range(self.RETRIES):
            try:
                return getattr(self.client, method)(*args, timeout=self.TIMEOUT, **kwargs)
            except Exception:  # pymilvus raises its own types, and grpc's, for every transport problem
                time.sleep(0.5 * 2**attempt)
        try:
            return getattr(self.client, method)(*args, timeout=self.TIMEOUT, **kwargs)
        except Exception as err:
            raise self._failure(method, err) from None

    def write(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A write call, not repeated (an insert that did land must not land twice)."""
        try:
            return getattr(self.client, method)(*args, timeout=self.WRITE_TIMEOUT, **kwargs)
        except Exception as err:
            raise self._failure(method, err) from None

    def _failure(self, method: str, err: BaseException) -> PolicySearchError:
        return PolicySearchError(f"Milvus at {self.uri} failed on {method.replace('_', ' ')} "
                                 f"({self.collection}): {_reason(err)}; check that the server is up and reachable, "
                                 "then run again")

    def create(self, dim: int | None, exact: bool = True) -> None:
        """Both collections and their indexes. Vectors get an exact FLAT index, or with `exact`
        off an HNSW graph (M=32, efConstruction=80)."""
        from pymilvus import DataType

        passages = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        passages.add_field("row", DataType.INT64, is_primary=True)
        documents = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        documents.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1200)
        for schema, names in ((passages, PASSAGE_FIELDS), (documents, DOCUMENT_FIELDS)):
            for name in names:
                if name in FIELD_BYTES:
                    schema.add_field(name, DataType.VARCHAR, max_length=FIELD_BYTES[name])
                elif name in ("text", "meta"):
                    schema.add_field(name, DataType.VARCHAR, max_length=TEXT_BYTES if schema is passages else LONG_BYTES)
                else:
                    schema.add_field(name, DataType.INT64)
            schema.add_field("since", DataType.INT64)
            schema.add_field("until", DataType.INT64)
        for name in ("kind", "article_key"):
            passages.add_field(name, DataType.VARCHAR, max_length=FIELD_BYTES[name])
        passages.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        documents.add_field("stub", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        indexes = self.client.prepare_index_params()
        indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        if dim:
            passages.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
            graph = {"index_type": "HNSW", "params": {"M": 32, "efConstruction": 80}}
            indexes.add_index("dense", metric_type="COSINE", **({"index_type": "FLAT"} if exact else graph))
        stub = self.client.prepare_index_params()
        stub.add_index("stub", index_type="FLAT", metric_type="L2")
        self.write("create_collection", self.collection, schema=passages, index_params=indexes, consistency_level="Strong")
        self.write("create_collection", self.documents, schema=documents, index_params=stub, consistency_level="Strong")

    def insert(self, documents: Sequence[Document], chunks: Sequence[Chunk], rows: Sequence[int],
               numbers: dict[str, int], sparse: Sequence[dict[int, float]], vectors: np.ndarray | None,
               version: int) -> None:
        """The documents (text in parts) and their passages, seen from `version` on, sent in
        batches; field sizes are checked in UTF-8 bytes, as a cluster counts them (Milvus Lite
        counts characters)."""
        from ..text.articles import article_key

        docs = {d.id: d for d in documents}
        counts: dict[str, int] = {}
        for chunk in chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        parts = []
        for doc in documents:
            if doc.id not in counts:
                continue
            pieces = [doc.text[i:i + PART_CHARS] for i in range(0, max(len(doc.text), 1), PART_CHARS)]
            for part, piece in enumerate(pieces):
                entity = {"key": f"{version}:{part}:{doc.id}", "doc_id": doc.id, "doc_no": numbers[doc.id], "part": part,
                          "parts": len(pieces), "passages": counts[doc.id], "title": doc.title, "date": doc.date,
                          "source": doc.source, "path": doc.path, "body_start": doc.body_start,
                          "meta": json.dumps(doc.meta, ensure_ascii=False) if part == 0 else "{}", "text": piece,
                          "since": version, "until": FOREVER, "stub": [0.0, 0.0]}
                _check_sizes(doc.id, entity, {**FIELD_BYTES, "meta": LONG_BYTES})
                parts.append(entity)
                if len(parts) == BATCH:
                    self.write("insert", self.documents, parts)
                    parts = []
        if parts:
            self.write("insert", self.documents, parts)
        for start in range(0, len(chunks), BATCH):
            batch = []
            for i in range(start, min(start + BATCH, len(chunks))):
                chunk, doc = chunks[i], docs[chunks[i].doc_id]
                key = article_key(chunk.article) if chunk.article else ""
                first, last, parts = chunk.article_span or (0, 0, 0)
                entity = {"row": rows[i], "doc_id": doc.id, "doc_no": numbers[doc.id], "ordinal": chunk.ordinal,
                          "start": chunk.start, "end": chunk.end, "article": chunk.article, "heading": chunk.heading[:300],
                          "text": chunk.text, "title": doc.title, "date": doc.date, "source": doc.source, "path": doc.path,
                          "number": doc.meta.get("number", ""), "kind": kind_of(doc.path),
                          "article_key": key, "article_start": first, "article_end": last, "article_parts": parts,
                          "since": version, "until": FOREVER, "sparse": sparse[i] or {EMPTY_TERM: 1.0}}
                _check_sizes(doc.id, entity, {**FIELD_BYTES, "text": TEXT_BYTES})
                if vectors is not None:
                    entity["dense"] = vectors[i].tolist()
                batch.append(entity)
            self.write("insert", self.collection, batch)
        for name in (self.documents, self.collection):
            self.write("flush", name)
        self.wait_indexed()

    def wait_indexed(self) -> None:
        """Wait until the server has indexed every inserted row (Milvus builds indexes after a
        flush, and a search meanwhile waits for it: past a million rows longer than a read may take)."""
        deadline = time.monotonic() + self.WRITE_TIMEOUT
        for field in self.read("list_indexes", self.collection):
            while True:
                state = self.read("describe_index", self.collection, field)
                if state.get("pending_index_rows", 0) == 0 and state.get("state", "Finished") == "Finished":
                    break
                if time.monotonic() > deadline:
                    raise PolicySearchError(f"Milvus at {self.uri} has not indexed {self.collection} after "
                                            f"{self.WRITE_TIMEOUT:.0f} s; check the server's load, then run again")
                time.sleep(1.0)

    def retire(self, doc_ids: Sequence[str], version: int) -> None:
        """Hide the rows of these documents that versions before `version` see from `version` on
        (those versions still see them)."""
        for start in range(0, len(doc_ids), BATCH):
            chosen = (f"doc_id in {json.dumps(list(doc_ids[start:start + BATCH]), ensure_ascii=False)} "
                      f"and since < {version} and until == {FOREVER}")
            for name, key in ((self.collection, "row"), (self.documents, "key")):
                found = self.rows(name, chosen, [key])
                for at in range(0, len(found), BATCH):
                    self.write("upsert", name, [{key: e[key], "until": version} for e in found[at:at + BATCH]],
                               partial_update=True)
        for name in (self.collection, self.documents):
            self.write("flush", name)

    def repair(self, version: int) -> None:
        """Undo what a writer killed while making a version after `version` left: its new rows go,
        the rows it hid are shown again."""
        for name, key in ((self.collection, "row"), (self.documents, "key")):
            self.write("delete", name, filter=f"since > {version}")
            hidden = self.rows(name, f"until > {version} and until < {FOREVER}", [key])
            for at in range(0, len(hidden), BATCH):
                self.write("upsert", name, [{key: e[key], "until": FOREVER} for e in hidden[at:at + BATCH]],
                           partial_update=True)

    def purge(self, version: int) -> None:
        """Delete the rows that neither `version` nor any later one sees."""
        for name in (self.collection, self.documents):
            self.write("delete", name, filter=f"until <= {version}")

    def rows(self, name: str, where: str, fields: list[str]) -> list[dict]:
        """Every entity of a collection that matches `where`, in batches (a query returns at most 16,384)."""
        iterator = self.read("query_iterator", name, batch_size=4096, filter=where, output_fields=fields)
        found: list[dict] = []
        while True:
            batch = iterator.next()
            if not batch:
                iterator.close()
                return found
            found += batch

    def load(self) -> None:
        for name in (self.collection, self.documents):
            if not self.read("has_collection", name):
                raise PolicySearchError(f"Milvus at {self.uri} has no collection '{name}'; "
                                        "rebuild the index with `policysearch index --rebuild --backend milvus`")
            self.read("load_collection", name)

    def drop(self) -> None:
        for name in (self.collection, self.documents):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def sweep(self, prefix: str, keep: set[str]) -> list[str]:
        """Drop the collections named `prefix…` other than `keep` (and their document collections):
        those of builds that were killed before a version pointed at them. Call it under the
        index's writer lock."""
        orphans = [name for name in self.client.list_collections()
                   if name.startswith(prefix) and name.removesuffix("_docs") not in keep]
        for name in orphans:
            self.client.drop_collection(name)
        return orphans


class MilvusIndex:
    """One published version of a Milvus index: it ranks passages (a `Backend`; a scope is a
    filter expression) and reads passages and documents (as `store.Passages` does locally)."""

    def __init__(self, store: MilvusStore, version: int, terms: BM25Terms) -> None:
        self.store = store
        self.version = version
        self.terms = terms
        self.visible = f"since <= {version} and until > {version}"
        self._passages: OrderedDict[int, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._documents: list[dict] | None = None

    def _where(self, *parts: str) -> str:
        return " and ".join([self.visible, *(p for p in parts if p)])

    def scope(self, filters: Filters | None) -> str:
        return filter_expression(filters, self.sources()) if filters else ""

    def sparse(self, terms: Sequence[str], k: int, scope: str) -> Ranked:
        """Passages by BM25: the inner product of the query's idf-weighted terms with the stored weights."""
        query = self.terms.query_terms(terms)
        if not query:
            return Ranked(np.zeros(0, np.int64), np.zeros(0))
        found = self.store.read("search", self.store.collection, data=[query], anns_field="sparse", limit=k,
                                filter=self._where(scope), search_params={"metric_type": "IP"},
                                output_fields=PASSAGE_FIELDS)[0]
        return self._ranked([h for h in found if h["distance"] > 0])

    def dense(self, vector: np.ndarray, k: int, scope: str) -> Ranked:
        found = self.store.read("search", self.store.collection, data=[vector.tolist()], anns_field="dense", limit=k,
                                filter=self._where(scope), search_params=self._dense_params(k),
                                output_fields=PASSAGE_FIELDS)[0]
        return self._ranked(found)

    def _dense_params(self, k: int) -> dict:
        return {"metric_type": "COSINE", "params": {"ef": max(self.store.EF_SEARCH, k)}}  # FLAT ignores ef

    def candidates(self, terms: Sequence[str], vector: np.ndarray, k: int,
                   scope: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Both rankings' top `k`, each completed with its exact other score, in one round trip:
        a hybrid search returns the union with its stored weights and vectors, scored here."""
        from pymilvus import AnnSearchRequest, RRFRanker

        query = self.terms.query_terms(terms)
        where = self._where(scope)
        requests = [AnnSearchRequest([vector.tolist()], "dense", self._dense_params(k), limit=k, expr=where)]
        if query:
            requests.append(AnnSearchRequest([query], "sparse", {"metric_type": "IP"}, limit=k, expr=where))
        found = self.store.read("hybrid_search", self.store.collection, requests, RRFRanker(), limit=2 * k,
                                output_fields=[*PASSAGE_FIELDS, "sparse", "dense"])[0]
        self._keep(found)
        ids = np.array([int(h["row"] if "row" in h else h["id"]) for h in found], dtype=np.int64)
        bm25 = np.array([sum(query.get(int(t), 0.0) * w for t, w in h["entity"]["sparse"].items()) for h in found])
        dense = np.array([np.dot(h["entity"]["dense"], vector) for h in found], dtype=np.float64)
        order = np.argsort(ids)
        return ids[order], bm25[order], dense[order]

    def vectors_of(self, rows: np.ndarray) -> None:
        """None: the vectors stay in the collection (the re-ranker does without its `duplicate` feature)."""
        return None

    def _ranked(self, found: list[dict]) -> Ranked:
        self._keep(found)
        rows = np.array([int(h["row"] if "row" in h else h["id"]) for h in found], dtype=np.int64)
        return top_k(rows, np.array([float(h["distance"]) for h in found], dtype=np.float64), len(rows))

    def _keep(self, found: Iterable[dict]) -> None:
        """Remember the passages of a search result (a row's content never changes)."""
        with self._lock:
            for hit in found:
                entity = hit.get("entity", hit)
                self._passages[int(hit["row"] if "row" in hit else hit["id"])] = {n: entity[n] for n in PASSAGE_FIELDS}
            while len(self._passages) > CACHED_PASSAGES:
                self._passages.popitem(last=False)

    def _entities(self, rows: Sequence[int]) -> dict[int, dict]:
        wanted = [int(r) for r in rows]
        with self._lock:
            known = {r: self._passages[r] for r in wanted if r in self._passages}
        missing = [r for r in wanted if r not in known]
        if missing:
            found = self.store.read("query", self.store.collection, filter=f"row in {missing}",
                                    output_fields=["row", *PASSAGE_FIELDS])
            self._keep(found)
            known.update({int(e["row"]): e for e in found})
        return known

    def document_numbers(self, rows: np.ndarray) -> np.ndarray:
        """The document each row belongs to (numbered in index order)."""
        entities = self._entities(rows)
        return np.array([entities[int(r)]["doc_no"] for r in rows], dtype=np.int64)

    def chunks(self, rows: Sequence[int]) -> list[tuple[Chunk, Document]]:
        entities = self._entities(rows)
        out = []
        for row in rows:
            e = entities[int(row)]
            doc = Document(id=e["doc_id"], text="", title=e["title"], date=e["date"], source=e["source"], path=e["path"],
                           meta={"number": e["number"]} if e["number"] else {})
            out.append((_chunk(e), doc))
        return out

    def texts(self, spans: Sequence[tuple[str, int, int]]) -> list[str]:
        """`document.text[start:end]` for each (document id, start, end), from the parts that hold them, in one call."""
        if not spans:
            return []
        wanted = [(doc_id, start // PART_CHARS, max(end - 1, start) // PART_CHARS) for doc_id, start, end in spans]
        either = " or ".join(f"(doc_id == {json.dumps(doc_id, ensure_ascii=False)} and part >= {first} and part <= {last})"
                             for doc_id, first, last in set(wanted))
        found = self.store.read("query", self.store.documents, output_fields=["doc_id", "part", "text"],
                                filter=self._where(f"({either})"))
        parts = {(p["doc_id"], p["part"]): p["text"] for p in found}
        out = []
        for (doc_id, start, end), (_, first, last) in zip(spans, wanted, strict=True):
            joined = "".join(parts.get((doc_id, part), "") for part in range(first, last + 1))
            out.append(joined[start - first * PART_CHARS:end - first * PART_CHARS])
        return out

    def document(self, doc_id: str) -> Document | None:
        parts = self.store.rows(self.store.documents, self._where(f"doc_id == {json.dumps(doc_id, ensure_ascii=False)}"),
                                DOCUMENT_FIELDS)
        return _document(sorted(parts, key=lambda p: p["part"])) if parts else None

    def documents(self) -> list[Document]:
        """Every document with its text, in index order."""
        parts = sorted(self.store.rows(self.store.documents, self.visible, DOCUMENT_FIELDS),
                       key=lambda p: (p["doc_no"], p["part"]))
        grouped: dict[str, list[dict]] = {}
        for part in parts:
            grouped.setdefault(part["doc_id"], []).append(part)
        return [_document(group) for group in grouped.values()]

    def _heads(self) -> list[dict]:
        """Each document's first part without its text, in index order (read once per version)."""
        if self._documents is None:
            fields = [f for f in DOCUMENT_FIELDS if f != "text"]
            heads = self.store.rows(self.store.documents, self._where("part == 0"), fields)
            self._documents = sorted(heads, key=lambda p: p["doc_no"])
        return self._documents

    def listing(self) -> list[DocumentInfo]:
        return [DocumentInfo(h["doc_id"], kind_of(h["path"] or h["doc_id"]), h["title"], h["date"], h["source"],
                             h["passages"]) for h in self._heads()]

    def titles(self) -> dict[str, tuple[str, str]]:
        return {h["doc_id"]: (h["title"], json.loads(h["meta"]).get("status", "")) for h in self._heads()}

    def sources(self) -> list[str]:
        return sorted({h["source"] for h in self._heads() if h["source"]})

    def undated(self) -> int:
        return sum(not h["date"] for h in self._heads())

    def count(self) -> tuple[int, int]:
        heads = self._heads()
        return len(heads), sum(h["passages"] for h in heads)

    def article_rows(self, doc_ids: Sequence[str], key: str, filters: Filters | None = None) -> list[int]:
        """Rows of the chunks of the article `key` in the first of `doc_ids` that has it (and passes `filters`)."""
        for doc_id in doc_ids:
            found = self.store.read("query", self.store.collection, output_fields=["row"], filter=self._where(
                f"doc_id == {json.dumps(doc_id, ensure_ascii=False)}", f"article_key == {json.dumps(key, ensure_ascii=False)}",
                self.scope(filters)))
            if found:
                return sorted(int(e["row"]) for e in found)
        return []

    def chunks_of(self, doc_ids: Sequence[str]) -> list[tuple[Chunk, str]]:
        """The passages of these documents with their titles, in order (what an update stops counting)."""
        found = []
        for start in range(0, len(doc_ids), BATCH):
            found += self.store.rows(self.store.collection, self._where(
                f"doc_id in {json.dumps(list(doc_ids[start:start + BATCH]), ensure_ascii=False)}"),
                ["row", "doc_id", "ordinal", "start", "end", "text", "article", "heading", "title", "article_start",
                 "article_end", "article_parts"])
        found.sort(key=lambda e: e["row"])
        return [(_chunk(e), e["title"]) for e in found]

    def health(self) -> dict:
        """The collection served, its rows (all versions' and this one's) and the server's version."""
        total = self.store.read("query", self.store.collection, filter="", output_fields=["count(*)"])[0]["count(*)"]
        seen = self.store.read("query", self.store.collection, filter=self.visible, output_fields=["count(*)"])[0]["count(*)"]
        return {"uri": self.store.uri, "collection": self.store.collection, "index_version": self.version,
                "rows": total, "passages": seen, "server_version": self.store.read("get_server_version")}

    def close(self) -> None:
        with self._lock:
            self._passages.clear()
        self.store.client.close()


def _chunk(e: dict) -> Chunk:
    span = (e["article_start"], e["article_end"], e["article_parts"]) if e["article_parts"] else None
    return Chunk(e["doc_id"], e["ordinal"], e["start"], e["end"], e["text"], e["article"], e["heading"], span)


def _document(parts: list[dict]) -> Document:
    head = parts[0]
    return Document(id=head["doc_id"], text="".join(p["text"] for p in parts), title=head["title"], date=head["date"],
                    source=head["source"], path=head["path"], body_start=head["body_start"], meta=json.loads(head["meta"]))


def _check_sizes(doc_id: str, entity: dict, limits: dict[str, int]) -> None:
    for name, size in limits.items():
        if name in entity and len(entity[name].encode("utf-8", "surrogatepass")) > size:
            raise PolicySearchError(f"{doc_id}: field '{name}' is over {size} bytes in UTF-8, the Milvus "
                                    f"schema's limit; shorten it or lower Settings.chunk_max")


def new_collection(uri: str, prefix: str, keep: set[str], dim: int | None, exact: bool) -> MilvusStore:
    """A new, empty pair of collections named `prefix…`, after dropping that index's orphans
    (any `prefix…` collection not in `keep`)."""
    store = MilvusStore(uri, f"{prefix}{uuid.uuid4().hex[:12]}")
    store.sweep(prefix, keep)
    store.create(dim, exact)
    return store


def filter_expression(filters: Filters, sources: list[str]) -> str:
    """The Milvus boolean expression for `Filters` (same meaning as the local SQL): the source
    filter becomes the list of the index's `sources` it names."""
    parts = []
    if filters.source:
        named = named_sources(filters.source, sources)
        parts.append(f"source in {json.dumps(named, ensure_ascii=False)}" if named else "doc_no < 0")
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


def _reason(err: BaseException) -> str:
    """The gist of a pymilvus error, on one line."""
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())[:300]


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

