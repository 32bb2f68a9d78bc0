"""An index on disk: immutable version folders published atomically through a `CURRENT` pointer.

A build writes everything into `.tmp-*`, fsyncs it, renames it to `v-*`, then replaces `CURRENT`
with `os.replace`. A crash at any point leaves the previous version untouched, and a reader that
has read `CURRENT` sees one complete version, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import PolicySearchError
from .records import Chunk, Document, Filters

FORMAT_VERSION = 3
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
DATABASE = "passages.sqlite"


class Store:
    """The folder `root` (e.g. `indexes/default`) holding versions of one index."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def current(self) -> Path:
        """The published version folder; a clear error if there is none."""
        try:
            name = (self.root / CURRENT).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            raise PolicySearchError(f"{self.root}: no index here; build one with `policysearch index PATHS --index {self.root}`") from None
        folder = self.root / name
        if not name.startswith("v-") or not folder.is_dir():
            raise PolicySearchError(f"{self.root}: the index pointer is broken; rebuild with `policysearch index --rebuild`")
        return folder

    def exists(self) -> bool:
        return (self.root / CURRENT).is_file()

    @contextlib.contextmanager
    def write(self) -> Iterator[Path]:
        """Yield an empty folder to write a version into; publish it only if the block succeeds."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.clean_stale()
        tmp = self.root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            yield tmp
            for file in tmp.iterdir():
                _fsync(file)
            version = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            os.rename(tmp, self.root / version)
            _fsync(self.root)
            pointer = self.root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
            pointer.write_text(version + "\n", encoding="utf-8")
            _fsync(pointer)
            previous = (self.root / CURRENT).read_text(encoding="utf-8").strip() if self.exists() else None
            os.replace(pointer, self.root / CURRENT)
            _fsync(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._drop_old(keep={version, previous})

    def clean_stale(self) -> None:
        """Remove temporary folders left by builds whose process is gone (e.g. killed)."""
        for entry in self.root.glob(".tmp-*"):
            pid = entry.name.split("-")[1]
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(entry, ignore_errors=True)
        for entry in self.root.glob(f".{CURRENT}.*"):
            entry.unlink(missing_ok=True)

    def _drop_old(self, keep: set[str | None]) -> None:
        """Delete versions older than the previous one; the previous stays for readers still on it."""
        for entry in self.root.glob("v-*"):
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


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


def read_manifest(folder: Path, root: Path) -> dict[str, Any]:
    """The manifest of a version folder, refused if the format is unknown or a file is missing,
    truncated or changed (sizes and CRC-32 checksums are checked on every open)."""
    rebuild = f"rebuild it with `policysearch index --rebuild --index {root}`"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise PolicySearchError(f"{root}: the index manifest is missing or damaged; {rebuild}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PolicySearchError(
            f"{root}: index format {manifest.get('format_version')} is not format {FORMAT_VERSION} of this policysearch; {rebuild}"
        )
    for name, info in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise PolicySearchError(f"{root}: index file {name} is missing or truncated; {rebuild}")
        if _crc32(path) != info["crc32"]:
            raise PolicySearchError(f"{root}: index file {name} has been changed or damaged; {rebuild}")
    return manifest


def _crc32(path: Path) -> int:
    value = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            value = zlib.crc32(block, value)
    return value


def write_passages(folder: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Documents with their metadata, and the chunks with their offsets and text, in one SQLite file."""
    db = sqlite3.connect(folder / DATABASE)
    with db:
        db.execute("CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT, date TEXT, source TEXT,"
                   " path TEXT, body_start INTEGER, meta TEXT, text TEXT)")
        db.execute("CREATE TABLE chunks (row INTEGER PRIMARY KEY, doc_id TEXT, ordinal INTEGER,"
                   " start INTEGER, end INTEGER, article TEXT, text TEXT)")
        db.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)", [
            (d.id, d.title, d.date, d.source, d.path, d.body_start, json.dumps(d.meta, ensure_ascii=False), d.text)
            for d in documents
        ])
        db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)", [
            (row, c.doc_id, c.ordinal, c.start, c.end, c.article, c.text) for row, c in enumerate(chunks)
        ])
        db.execute("CREATE INDEX chunks_by_document ON chunks (doc_id)")
    db.close()


class Passages:
    """Read side of the SQLite file: fetch chunks and their documents by row number."""

    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(f"file:{folder / DATABASE}?mode=ro", uri=True, check_same_thread=False)

    def chunks(self, rows: Sequence[int]) -> list[tuple[Chunk, Document]]:
        wanted = [int(r) for r in rows]
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        found = {
            r[0]: r for r in self.db.execute(
                "SELECT c.row, c.doc_id, c.ordinal, c.start, c.end, c.article, d.title, d.date, d.source, d.path,"
                " d.body_start, d.meta, c.text"
                f" FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.row IN ({marks})", wanted)
        }
        out = []
        for row in wanted:
            _, doc_id, ordinal, start, end, article, title, date, source, path, body_start, meta, text = found[row]
            doc = Document(id=doc_id, text="", title=title, date=date, source=source, path=path,
                           body_start=body_start, meta=json.loads(meta))
            out.append((Chunk(doc_id, ordinal, start, end, text, article), doc))
        return out

    def document(self, doc_id: str) -> Document | None:
        row = self.db.execute("SELECT id, text, title, date, source, path, body_start, meta FROM documents"
                              " WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return Document(*row[:7], meta=json.loads(row[7]))

    def documents(self) -> list[Document]:
        """Every document with its text, in index order."""
        return [Document(*row[:7], meta=json.loads(row[7])) for row in self.db.execute(
            "SELECT id, text, title, date, source, path, body_start, meta FROM documents ORDER BY rowid")]

    def titles(self) -> dict[str, tuple[str, str]]:
        """doc id → (title, status) for every document, for citation lookup."""
        return {doc_id: (title, json.loads(meta).get("status", ""))
                for doc_id, title, meta in self.db.execute("SELECT id, title, meta FROM documents")}

    def article_rows(self, doc_ids: Sequence[str], article: str) -> list[int]:
        """Rows of the chunks of `article` (a 第N条 key) in the first of `doc_ids` that has it."""
        from .tokenize import ARTICLE, article_token

        for doc_id in doc_ids:
            rows = [row for row, name in self.db.execute(
                "SELECT row, article FROM chunks WHERE doc_id = ? AND article != '' ORDER BY row", (doc_id,))
                if (m := ARTICLE.fullmatch(name)) and article_token(m) == article]
            if rows:
                return rows
        return []

    def rows_where(self, filters: Filters) -> np.ndarray:
        """Passage rows of the documents that pass `filters`, ascending."""
        clauses, args = [], []
        if filters.source:
            clauses.append("instr(d.source, ?) > 0")
            args.append(filters.source)
        if filters.date_from:
            clauses.append("d.date != '' AND d.date >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            clauses.append("d.date != '' AND substr(d.date, 1, ?) <= ?")
            args += [len(filters.date_to), filters.date_to]
        if filters.kind:
            clauses.append("lower(d.path) LIKE ?")
            args.append(f"%.{filters.kind.lower().lstrip('.')}")
        where = " AND ".join(clauses) or "1"
        rows = self.db.execute(f"SELECT c.row FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}"
                               " ORDER BY c.row", args).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def sources(self) -> list[str]:
        """The distinct non-empty sources, for a filter menu."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM documents WHERE source != '' ORDER BY source")]

    def count(self) -> tuple[int, int]:
        docs = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return docs, chunks
