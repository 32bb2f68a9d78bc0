"""`policysearch watch`: an index kept in step with folders. File-system events (`watchfiles`,
extra `[watch]`) are gathered into bursts; after each burst, once the changed files have stopped
growing, one incremental update makes the index hold exactly what the folders hold (only changed
files are read again). Editors' temporary and lock files never start an update."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from collections.abc import Callable, Sequence

from ..errors import PolicySearchError
from ..records import Changes
from ..search import PolicySearch

log = logging.getLogger("policysearch")

QUIET_MS = 800  # a burst ends after this long without a new event
SETTLE_SECONDS = 1.0  # a changed file must keep its size and time this long before it is read
SETTLE_LIMIT = 60.0  # at most this long is waited for files still being written
_TEMPORARY = ("~", ".tmp", ".temp", ".swp", ".swx", ".part", ".crdownload", ".download")


def wanted(path: str) -> bool:
    """Whether a change to `path` may change the index: not a hidden file, an Office or WPS lock
    file (~$报告.docx, .~lock.报告.docx#) or an editor's or browser's temporary file."""
    name = os.path.basename(path)
    return bool(name) and not name.startswith((".", "~$")) and not name.lower().endswith(_TEMPORARY)


class Watcher:
    """Keeps the index at `index_dir` holding exactly the documents under `paths`."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]], index_dir: str | os.PathLike[str],
                 report: Callable[[Changes], None] | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        missing = [str(p) for p in self.paths if not p.exists()]
        if missing:
            raise PolicySearchError(f"{', '.join(missing)}: no such file or folder to watch")
        self.engine = PolicySearch.open(index_dir)
        self.report = report or (lambda changes: log.info("%s", changes.summary()))
        self.stop = threading.Event()

    def sync(self) -> Changes:
        """One incremental update to what the folders hold now."""
        changes = self.engine.update(self.paths)
        self.report(changes)
        return changes

    def run(self, ready: Callable[[], None] | None = None) -> None:
        """Sync once the watcher runs (then `ready`), and again after every burst of changes,
        until `stop` is set (or Ctrl-C)."""
        try:
            from watchfiles import watch
        except ImportError:
            raise PolicySearchError("watching folders needs the watch extra: pip install 'policysearch[watch]'") from None
        started = False
        for batch in watch(*self.paths, watch_filter=lambda _change, path: wanted(path), step=QUIET_MS,
                           stop_event=self.stop, raise_interrupt=False, yield_on_timeout=True, rust_timeout=1000):
            if not started:  # the watcher runs now: what changed before it started is caught by this sync
                started = True
                self.sync()
                if ready:
                    ready()
                continue
            if not batch:
                continue
            self._settle({Path(path) for _, path in batch})
            try:
                self.sync()
            except PolicySearchError as err:
                log.warning("%s", err)

    def _settle(self, changed: set[Path]) -> None:
        """Wait until none of the changed files grows or is touched for `SETTLE_SECONDS` (a copy
        or a download still under way), at most `SETTLE_LIMIT`."""
        deadline = time.monotonic() + SETTLE_LIMIT
        before = _stamps(changed)
        while time.monotonic() < deadline and not self.stop.wait(SETTLE_SECONDS):
            now = _stamps(changed)
            if now == before:
                return
            before = now

    def close(self) -> None:
        self.stop.set()
        self.engine.close()


def _stamps(paths: set[Path]) -> dict[Path, tuple[int, int]]:
    """Size and modification time of each path that still exists."""
    out = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        out[path] = (stat.st_size, stat.st_mtime_ns)
    return out
