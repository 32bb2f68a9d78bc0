"""An index on disk: immutable version folders published atomically through a `CURRENT` pointer.

A build writes everything into `.tmp-*`, fsyncs it, renames it to `v-*`, then replaces `CURRENT`
with `os.replace`. A crash at any point leaves the previous version untouched, and a reader that
has read `CURRENT` sees one complete version, never a mix. Each version names the one it replaced
(`PREVIOUS`); those two are kept, and the next writer removes any other. Writers hold an exclusive lock on the
folder (`.lock`) from the start of a build to its publication: a second writer waits its turn.
Readers take no lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import mmap
import os
import shutil
import sqlite3
import time
import uuid
import zlib
from itertools import accumulate
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Sequence

import numpy as np

from ..text.articles import article_key
from ..errors import PolicySearchError
from ..records import Chunk, Document, DocumentInfo, Filters, kind_of, named_sources

FORMAT_VERSION = 9
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
DATABASE = "passages.sqlite"
DOCUMENT_STARTS = "document_starts.npy"
DOCUMENT_TEXT = "text.bin"  # every document's text in UTF-32, back to back: character n is at byte 4n
PASSAGE_LABELS = "passages.bin"  # each passage's document id, article and heading in UTF-8, back to back
PASSAGE_ROWS = "passages.npy"  # int64, a row of PASSAGE_COLUMNS per passage (a plain matrix: cheaper to read)
PASSAGE_COLUMNS = ("at", "ordinal", "start", "end", "article_start", "article_end", "article_parts",
                   "doc_id", "article", "heading", "labels_end")  # `at`: where its text starts in DOCUMENT_TEXT
# (in characters); then its Chunk's numbers; the last four: where its labels start and end in PASSAGE_LABELS
ENCODING = "utf-32-le"
LOCK = ".lock"
PREVIOUS = "PREVIOUS"  # in each version folder: the version it replaced, kept for readers still on that one

log = logging.getLogger("policysearch")
_held: dict[Path, int] = {}  # index roots whose writer lock this process holds, with nesting depth


class Store:
    """The folder `root` (e.g. `indexes/default`) holding versions of one index."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def current(self) -> Path:
        """The published version folder; a clear error if there is none."""
        broken = PolicySearchError(f"{self.root}: the index pointer is broken; rebuild with "
                                   f"`policysearch index --rebuild --index {self.root}`")
        try:
            name = (self.root / CURRENT).read_bytes().decode("ascii").strip()
        except (FileNotFoundError, NotADirectoryError):
            raise PolicySearchError(f"{self.root}: no index here; "
                                    f"build one with `policysearch index PATHS --index {self.root}`") from None
        except (OSError, UnicodeDecodeError):
            raise broken from None
        folder = self.root / name
        if not name.startswith("v-") or "/" in name or not folder.is_dir():
            raise broken
        if (self.root / CURRENT).is_symlink() or folder.is_symlink():
            raise PolicySearchError(f"{self.root}: the index pointer or version folder is a symbolic link, which an index "
                                    f"never holds; rebuild with `policysearch index --rebuild --index {self.root}`")
        return folder

    def exists(self) -> bool:
        return (self.root / CURRENT).is_file()

    def _published(self) -> str | None:
        """The current version's name, or None when there is none or the pointer is broken."""
        try:
            return self.current().name if self.exists() else None
        except PolicySearchError:
            return None

    def identity(self) -> str:
        """A random id of this index, made on first use and kept in `ID`; it names the index's
        Milvus collections, so they can be told from other indexes' on a shared server."""
        path = self.root / "ID"
        try:
            if not path.is_file():
                path.write_text(uuid.uuid4().hex[:12] + "\n", encoding="ascii")
            return path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise write_error(self.root, err) from None

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's exclusive writer lock for the block; wait (saying so) while another
        process holds it. Re-entrant within one process, so an update may call a build. Taking
        the lock removes what killed writers left (every run cleans, also when nothing changed)."""
        created = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            key = self.root.resolve()
            fd = None if key in _held else os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise write_error(self.root, err) from None
        if fd is None:
            yield
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("%s: another process is writing this index; waiting for it to finish", self.root)
                fcntl.flock(fd, fcntl.LOCK_EX)
            _held[key] = fd
            try:
                self.clean_stale()  # the only writer now: what other writers left behind is stale
                yield
            finally:
                del _held[key]
                if created and not self.exists():  # a first build that failed leaves no folder behind
                    shutil.rmtree(self.root, ignore_errors=True)
        finally:
            os.close(fd)  # closing releases the lock

    @contextlib.contextmanager
    def write(self) -> Iterator[Path]:
        """Yield an empty folder to write a version into; publish it only if the block succeeds.
        Runs under the writer lock; a failed write (a full disk) is one clear error."""
        with self.writer():
            tmp = self.root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                tmp.mkdir()
                yield tmp
                (tmp / PREVIOUS).write_text((self._published() or "") + "\n", encoding="ascii")
                for file in tmp.iterdir():
                    _fsync(file)
                version = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
                os.rename(tmp, self.root / version)
                _fsync(self.root)
                self._point_at(version)
            except (OSError, sqlite3.Error) as err:
                shutil.rmtree(tmp, ignore_errors=True)
                raise write_error(self.root, err) from None
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._drop_old()

    def _point_at(self, version: str) -> None:
        """Replace `CURRENT` atomically; if that fails, the new version folder goes too."""
        pointer = self.root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        try:
            pointer.write_text(version + "\n", encoding="utf-8")
            _fsync(pointer)
            os.replace(pointer, self.root / CURRENT)
        except BaseException:
            pointer.unlink(missing_ok=True)
            shutil.rmtree(self.root / version, ignore_errors=True)
            raise
        _fsync(self.root)

    def clean_stale(self) -> None:
        """Remove temporary folders left by builds whose process is gone (e.g. killed); called
        under the writer lock, so no other writer's pointer file is live."""
        for entry in self.root.glob(".tmp-*"):
            pid = entry.name.split("-")[1]
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(entry, ignore_errors=True)
        for entry in self.root.glob(f".{CURRENT}.*"):
            entry.unlink(missing_ok=True)
        self._drop_old()

    def _drop_old(self) -> None:
        """Delete every version but the published one and the one it replaced (readers may still be
        on that); this also removes versions a killed build renamed but never published. A version
        that does not name the one it replaced (built before `PREVIOUS` existed) drops nothing."""
        published = self._published()
        try:
            previous = (self.root / published / PREVIOUS).read_text(encoding="ascii").strip() if published else None
        except (OSError, UnicodeDecodeError):
            return
        if previous is None:
            return
        for entry in self.root.glob("v-*"):
            if entry.name not in (published, previous):
                shutil.rmtree(entry, ignore_errors=True)


def write_error(root: Path, err: BaseException) -> PolicySearchError:
    """One line for a failed write (a full disk above all); the previous version is untouched."""
    text = str(err)
    reason = getattr(err, "strerror", None) or text or type(err).__name__
    full = getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "requested and" in text or (
        isinstance(err, sqlite3.Error) and "full" in text)
    if full:
        hint = "the disk is full); free some disk space and run again"
    elif isinstance(err, sqlite3.Error) and "I/O" in text:
        hint = "is the disk full?); free some disk space and run again"
    else:
        hint = "); check the folder's permissions and free space"
    return PolicySearchError(f"{root}: cannot write the index ({reason}; {hint} (the previous version is intact)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Record every file's size and CRC-32 next to the settings, then write the manifest."""
    manifest = dict(manifest, format_version=FORMAT_VERSION, files={
        file.name: {"size": file.stat().st_size, "crc32": _crc32(file)}
        for file in sorted(folder.iterdir()) if file.name != MANIFEST
    })
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


REQUIRED_FILES = (DATABASE, DOCUMENT_STARTS, DOCUMENT_TEXT, PASSAGE_LABELS, PASSAGE_ROWS, "bm25_indptr.npy",
                  "bm25_indices.npy", "bm25_weights.npy", "bm25_text_df.npy", "bm25_terms.npy", "bm25_long_terms.json")
MILVUS_FILES = ("bm25_terms.npy", "bm25_long_terms.json", "bm25_term_ids.npy", "bm25_df.npy", "bm25_text_df.npy",
                "bm25_stats.json")  # the rest of a Milvus index is in its collections


def read_manifest(folder: Path, root: Path, verify: bool = False) -> dict[str, Any]:
    """The manifest of a version folder, refused if it is not a manifest of this format, names
    too few files, or a file is missing or of another size; with `verify`, also if a file's
    CRC-32 changed (that reads every byte, so opening an index skips it: `policysearch verify`)."""
    rebuild = f"rebuild it with `policysearch index --rebuild --index {root}`"
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        raise PolicySearchError(f"{root}: the index manifest is missing or damaged; {rebuild}") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise PolicySearchError(f"{root}: index format {version} is not format {FORMAT_VERSION} of this policysearch; {rebuild}")
    problem = _manifest_problem(manifest)
    if problem:
        raise PolicySearchError(f"{root}: the index manifest is damaged ({problem}); {rebuild}")
    for name, info in manifest["files"].items():
        path = folder / name
        if path.is_symlink() or (folder / MANIFEST).is_symlink():
            raise PolicySearchError(f"{root}: index file {name} is a symbolic link, which an index never holds "
                                    f"(it may point anywhere); {rebuild}")
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise PolicySearchError(f"{root}: index file {name} is missing or truncated; {rebuild}")
        if verify and _crc32(path) != info["crc32"]:
            raise PolicySearchError(f"{root}: index file {name} has been changed or damaged; {rebuild}")
    return manifest


def _manifest_problem(manifest: dict[str, Any]) -> str:
    """What is wrong with a manifest's shape, or "" when every field a reader uses is sound."""
    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if not isinstance(manifest.get("settings"), dict):
        return "'settings' is not an object"
    if not (count(manifest.get("chunks")) and count(manifest.get("documents"))):
        return "'chunks' or 'documents' is not a count"
    model = manifest.get("model")
    if model is not None and not (isinstance(model, dict) and isinstance(model.get("name"), str)
                                  and isinstance(model.get("fingerprint"), str) and count(model.get("dim"))
                                  and model.get("precision", "fp32") in ("fp32", "bf16", "int8")):
        return "'model' is not a model record"
    terms = manifest.get("terms")
    if not (isinstance(terms, list) and all(isinstance(t, list) and all(isinstance(w, str) for w in t) for t in terms)):
        return "terms must be lists of words"
    milvus = manifest.get("milvus")
    if milvus is not None and not (isinstance(milvus, dict) and isinstance(milvus.get("uri"), str)
                                   and isinstance(milvus.get("collection"), str)
                                   and all(count(milvus.get(k)) for k in ("version", "next_row", "next_document"))):
        return "'milvus' is not a collection record"
    files = manifest.get("files")
    if not (isinstance(files, dict) and all(isinstance(i, dict) and count(i.get("size")) and count(i.get("crc32"))
                                            for i in files.values())
            and all("/" not in name and "\\" not in name and not name.startswith(".") for name in files)):
        return "'files' is not a list of sizes and checksums"
    needed = MILVUS_FILES if milvus is not None else REQUIRED_FILES + (("vectors.npy",) if model is not None else ())
    missing = [name for name in needed if name not in files]
    return f"it does not list {', '.join(missing)}" if missing else ""


def _crc32(path: Path) -> int:
    value = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            value = zlib.crc32(block, value)
    return value


def write_passages(folder: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Documents' metadata, and which passage is which article, in one SQLite file (for filters,
    listings and citations); the text and the passages in flat files a search reads by row
    without a query (`Passages`); beside them the first row of each document, so a ranking can
    tell rows' documents apart."""
    at, total = {}, 0  # where each document's text starts in DOCUMENT_TEXT, in characters
    for doc in documents:
        at[doc.id], total = total, total + len(doc.text)
    db = sqlite3.connect(folder / DATABASE)
    try:
        _fill(db, documents, chunks, at)
    finally:
        db.close()
    with open(folder / DOCUMENT_TEXT, "wb") as out:
        for doc in documents:
            out.write(doc.text.encode(ENCODING, "surrogatepass"))
    rows = np.zeros((len(chunks), len(PASSAGE_COLUMNS)), dtype=np.int64)
    end = 0
    with open(folder / PASSAGE_LABELS, "wb") as out:
        for row, c in enumerate(chunks):
            labels = [label.encode("utf-8", "surrogatepass") for label in (c.doc_id, c.article, c.heading)]
            offsets = list(accumulate((len(label) for label in labels), initial=end))
            rows[row] = (at[c.doc_id] + c.start, c.ordinal, c.start, c.end, *(c.article_span or (0, 0, 0)), *offsets)
            out.write(b"".join(labels))
            end = offsets[-1]
    np.save(folder / PASSAGE_ROWS, rows)
    starts = [row for row, chunk in enumerate(chunks) if row == 0 or chunk.doc_id != chunks[row - 1].doc_id]
    np.save(folder / DOCUMENT_STARTS, np.asarray(starts, dtype=np.int64))


def _fill(db: sqlite3.Connection, documents: Sequence[Document], chunks: Sequence[Chunk], at: dict[str, int]) -> None:
    with db:
        db.execute("CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT, date TEXT, source TEXT,"
                   " path TEXT, body_start INTEGER, meta TEXT, text_at INTEGER, length INTEGER)")
        db.execute("CREATE TABLE chunks (row INTEGER PRIMARY KEY, doc_id TEXT, article_key TEXT)")
        db.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)", [
            (d.id, d.title, d.date, d.source, d.path, d.body_start, json.dumps(d.meta, ensure_ascii=False),
             at[d.id], len(d.text))
            for d in documents
        ])
        db.executemany("INSERT INTO chunks VALUES (?,?,?)", [
            (row, c.doc_id, article_key(c.article) if c.article else "") for row, c in enumerate(chunks)
        ])
        db.execute("CREATE INDEX chunks_by_document ON chunks (doc_id, article_key)")


DOCUMENT_COLUMNS = "id, title, date, source, path, body_start, meta, text_at, length"
CACHED_DOCUMENTS = 20_000  # documents (title, date, metadata) kept by a reader


def _document(row: tuple, text: str) -> Document:
    """A document from its row of the documents table (`DOCUMENT_COLUMNS`) and its text."""
    doc_id, title, date, source, path, body_start, meta = row[:7]
    return Document(id=doc_id, text=text, title=title, date=date, source=source, path=path, body_start=body_start,
                    meta=json.loads(meta))


def _map(path: Path) -> mmap.mmap | bytes:
    """A file's bytes, memory-mapped (an empty file cannot be: its bytes are b"")."""
    with open(path, "rb") as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(file.fileno()).st_size else b""


class Passages:
    """Read side of an index's passages: chunks and their documents by row number from the flat
    files, metadata queries from the SQLite file."""

    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(f"file:{folder / DATABASE}?mode=ro", uri=True, check_same_thread=False)
        self.starts = np.load(folder / DOCUMENT_STARTS, mmap_mode="r").view(np.ndarray)  # plain: cheaper to search
        self.rows = np.load(folder / PASSAGE_ROWS, mmap_mode="r").view(np.ndarray)
        self.text, self.labels = _map(folder / DOCUMENT_TEXT), _map(folder / PASSAGE_LABELS)
        self.heads: dict[str, tuple[Document, int]] = {}  # by id, as hits read them: a document without its text,
        # and where its text starts in DOCUMENT_TEXT (shared with other threads: replaced, never cleared, when full)

    def document_numbers(self, rows: np.ndarray) -> np.ndarray:
        """The document (numbered in index order) each row belongs to."""
        return np.searchsorted(self.starts, rows, side="right") - 1

    def close(self) -> None:
        self.db.close()
        for mapped in (self.text, self.labels):
            if isinstance(mapped, mmap.mmap):
                mapped.close()

    def _text(self, at: int, length: int) -> str:
        """`length` characters of the text file from character `at`."""
        return self.text[4 * at:4 * (at + length)].decode(ENCODING, "surrogatepass")

    def _chunks(self, rows: np.ndarray | slice) -> list[Chunk]:
        """The chunks of these rows, in that order (`_text` written out: this is a search's inner loop)."""
        text, labels = self.text, self.labels
        return [Chunk(labels[d:a].decode("utf-8", "surrogatepass"), ordinal, start, end,
                      text[4 * at:4 * (at + end - start)].decode(ENCODING, "surrogatepass"),
                      labels[a:h].decode("utf-8", "surrogatepass"), labels[h:e].decode("utf-8", "surrogatepass"),
                      (article_start, article_end, parts) if parts else None)
                for at, ordinal, start, end, article_start, article_end, parts, d, a, h, e in self.rows[rows].tolist()]

    def _heads(self, doc_ids: set[str]) -> dict[str, tuple[Document, int]]:
        """The cached documents, with those of `doc_ids` it lacked read in."""
        known = self.heads
        missing = [doc_id for doc_id in doc_ids if doc_id not in known]
        if missing:
            if len(known) + len(missing) > CACHED_DOCUMENTS:
                self.heads = known = {doc_id: known[doc_id] for doc_id in doc_ids if doc_id in known}
            for row in self.db.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents"
                                       f" WHERE id IN ({','.join('?' * len(missing))})", missing):
                known[row[0]] = (_document(row, ""), row[7])
        return known

    def chunks(self, rows: Sequence[int]) -> list[tuple[Chunk, Document]]:
        """The chunks of these rows, in that order, each with its document (without its text)."""
        chunks = self._chunks(np.asarray(rows, dtype=np.int64))
        known = self._heads({c.doc_id for c in chunks})
        return [(chunk, known[chunk.doc_id][0]) for chunk in chunks]

    def texts(self, spans: Sequence[tuple[str, int, int]]) -> list[str]:
        """`document.text[start:end]` for each (document id, start, end)."""
        known = self._heads({doc_id for doc_id, _, _ in spans})
        return [self._text(known[doc_id][1] + start, end - start) for doc_id, start, end in spans]

    def document(self, doc_id: str) -> Document | None:
        row = self.db.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else _document(row, self._text(row[7], row[8]))

    def documents(self) -> list[Document]:
        """Every document with its text, in index order."""
        return [_document(row, self._text(row[7], row[8]))
                for row in self.db.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents ORDER BY rowid")]

    def listing(self) -> list[DocumentInfo]:
        """Every document's id, type, title, date, source and passage count, in index order."""
        rows = self.db.execute(
            "SELECT d.id, d.path, d.title, d.date, d.source, COUNT(c.row) FROM documents d"
            " LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id ORDER BY d.rowid")
        return [DocumentInfo(doc_id, kind_of(path or doc_id), title, date, source, passages)
                for doc_id, path, title, date, source, passages in rows]

    def titles(self) -> dict[str, tuple[str, str]]:
        """doc id → (title, status) for every document, for citation lookup."""
        return {doc_id: (title, json.loads(meta).get("status", ""))
                for doc_id, title, meta in self.db.execute("SELECT id, title, meta FROM documents")}

    def article_rows(self, doc_ids: Sequence[str], key: str, filters: Filters | None = None) -> list[int]:
        """Rows of the chunks of the article with canonical `key` (第12条, see `articles.article_key`)
        in the first of `doc_ids` that has it (and passes `filters`)."""
        for doc_id in doc_ids:
            rows = [row for (row,) in self.db.execute(
                "SELECT row FROM chunks WHERE doc_id = ? AND article_key = ? ORDER BY row", (doc_id, key))]
            if rows and filters:
                rows = np.intersect1d(rows, self.rows_where(filters)).tolist()
            if rows:
                return rows
        return []

    def document_chunks(self) -> dict[str, list[tuple[int, Chunk]]]:
        """Every document's chunks with their rows, in order: what an update keeps of unchanged documents."""
        out: dict[str, list[tuple[int, Chunk]]] = {}
        for row, chunk in enumerate(self._chunks(slice(None))):
            out.setdefault(chunk.doc_id, []).append((row, chunk))
        return out

    def rows_where(self, filters: Filters) -> np.ndarray:
        """Passage rows of the documents that pass `filters`, ascending."""
        clauses, args = [], []
        if filters.source:
            named = named_sources(filters.source, self.sources())
            clauses.append(f"d.source IN ({', '.join('?' * len(named))})" if named else "0")
            args += named
        if filters.date_from:
            clauses.append("d.date != '' AND d.date >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            clauses.append("d.date != '' AND substr(d.date, 1, ?) <= ?")
            args += [len(filters.date_to), filters.date_to]
        if filters.kind:
            clauses.append("lower(d.path) LIKE ?")
            args.append(f"%.{filters.kind.lower().lstrip('.')}")
        if filters.number:
            clauses.append("instr(coalesce(json_extract(d.meta, '$.number'), ''), ?) > 0")
            args.append(filters.number)
        where = " AND ".join(clauses) or "1"
        rows = self.db.execute(f"SELECT c.row FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}"
                               " ORDER BY c.row", args).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def undated(self) -> int:
        """How many documents have no date (a date filter leaves them out)."""
        return self.db.execute("SELECT COUNT(*) FROM documents WHERE date = ''").fetchone()[0]

    def sources(self) -> list[str]:
        """The distinct non-empty sources, for a filter menu."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM documents WHERE source != '' ORDER BY source")]

    def count(self) -> tuple[int, int]:
        """Documents and passages, or -1 passages when the SQLite file and the passage files disagree."""
        docs = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return docs, chunks if chunks == len(self.rows) else -1
