"""`Sandbox`: runs each file's reader in a worker process under a time and a memory limit, so a
file that crashes, hangs or exhausts its parser (a decompression bomb, a hostile PDF, a stuck
LibreOffice) costs one warning and never the build. Workers are plain Python processes in
sessions of their own, and a stopped worker first ends the process groups it started."""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from ..errors import PolicySearchError

log = logging.getLogger("policysearch")
_FRAME = struct.Struct("<Q")
_GRACE = 2.0  # seconds a worker told to stop has to end what it started before it is killed


@dataclass(frozen=True)
class Job:
    """One file to read: its name as messages show it, and the reader to call in a worker
    (a module-level function, sent by reference) with its arguments."""

    name: str
    read: Callable[..., Any]
    args: tuple


@dataclass
class Result:
    """What reading one file gave: the reader's value, or the reason it was skipped (`error`),
    and the warnings the reader logged."""

    value: Any
    error: str
    warnings: list[str]


class Sandbox:
    """A pool of `workers` processes reading files one at a time, each file within `seconds` of
    wall time and `memory_mb` of memory; a worker that breaks a limit or dies is replaced."""

    def __init__(self, workers: int, seconds: float, memory_mb: int) -> None:
        self.workers = workers
        self.seconds = seconds
        self.memory_mb = memory_mb

    def read(self, jobs: Sequence[Job]) -> Iterator[tuple[int, Result]]:
        """(position in `jobs`, result) for every job, in the order they finish."""
        pending = list(range(len(jobs)))[::-1]
        idle: list[_Worker] = []
        busy: dict[int, tuple[_Worker, int, float]] = {}  # fd → worker, job, deadline
        try:
            while pending or busy:
                while pending and len(busy) < min(self.workers, len(jobs)):
                    worker = idle.pop() if idle else _Worker(self.memory_mb)
                    position = pending.pop()
                    job = jobs[position]
                    if worker.send((job.name, job.read, job.args)):
                        busy[worker.fd] = (worker, position, time.monotonic() + self.seconds)
                    else:
                        yield position, Result(None, _died(job, worker), [])
                if not busy:
                    continue
                wait = max(0.0, min(deadline for _, _, deadline in busy.values()) - time.monotonic())
                ready, _, _ = select.select(list(busy), [], [], wait)
                for fd in ready:
                    worker, position, _ = busy.pop(fd)
                    reply = worker.receive()
                    if reply is None:
                        yield position, Result(None, _died(jobs[position], worker), [])
                        continue
                    result, finished = reply
                    if finished:
                        idle.append(worker)
                    else:
                        worker.stop()  # after a MemoryError its heap is not to be trusted
                    yield position, result
                now = time.monotonic()
                for fd, (worker, position, deadline) in list(busy.items()):
                    if now >= deadline:
                        del busy[fd]
                        worker.stop()
                        yield position, Result(None, f"{jobs[position].name}: reading took longer than {self.seconds:g} s, "
                                                     "the limit (settings.file_timeout, --file-timeout); "
                                                     "raise it if the file is real, or leave the file out", [])
        finally:
            for worker in idle + [worker for worker, _, _ in busy.values()]:
                worker.stop()


def _died(job: Job, worker: _Worker) -> str:
    """Why a worker that died reading `job` did (it is stopped here)."""
    code = worker.stop()
    how = f"exit status {code}"
    if code is not None and code < 0:
        how = f"signal {signal.Signals(-code).name}" if -code in signal.valid_signals() else f"signal {-code}"
    said = worker.last_words
    return (f"{job.name}: its reader crashed ({how}{': ' + said if said else ''}); the file is damaged or hostile: "
            "open and save it again, or leave it out")


class _Worker:
    """One worker process and the two pipes to it."""

    def __init__(self, memory_mb: int) -> None:
        package = str(Path(__file__).resolve().parents[2])  # this very copy of policysearch, whatever the cwd
        start = f"import sys; sys.path.insert(0, {package!r}); from policysearch.reading.sandbox import serve; serve({memory_mb})"
        self.errors = tempfile.TemporaryFile()  # what parsers and a dying runtime print, kept off the user's terminal
        self.process = subprocess.Popen([sys.executable, "-c", start], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.errors, start_new_session=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests: IO[bytes] = self.process.stdin
        self.replies: IO[bytes] = self.process.stdout
        self.fd = self.replies.fileno()
        self.last_words = ""

    def send(self, message: Any) -> bool:
        """Hand the worker a job; False when it is gone."""
        try:
            _write(self.requests, message)
            return True
        except OSError:
            return False

    def receive(self) -> tuple[Result, bool] | None:
        """The worker's reply (and whether it takes more jobs), or None when it died."""
        try:
            return _read(self.replies)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None

    def stop(self) -> int | None:
        """End the worker and every process it started; its exit status (negative: a signal)."""
        if self.process.poll() is None:
            _signal(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(_GRACE)
            except subprocess.TimeoutExpired:
                pass
        _signal(self.process.pid, signal.SIGKILL)  # the group: what it started, should it linger
        code = self.process.wait()
        self.errors.seek(0)
        lines = self.errors.read(4096).decode("utf-8", errors="replace").strip().splitlines()
        self.last_words = lines[0][:200] if lines else ""  # how a runtime says why it aborted
        for pipe in (self.requests, self.replies, self.errors):
            try:
                pipe.close()
            except OSError:
                pass
        return code


def _signal(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _write(pipe: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_FRAME.pack(len(data)) + data)
    pipe.flush()


def _read(pipe: IO[bytes]) -> Any:
    head = pipe.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (size,) = _FRAME.unpack(head)
    data = pipe.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class _Collect(logging.Handler):
    """The warnings a reader logs while it reads one file."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def serve(memory_mb: int) -> None:
    """A worker's loop (its process runs nothing else): take a job, run its reader, send back the
    value or the reason; memory above `memory_mb` raises MemoryError in the reader."""
    import resource

    limit = memory_mb * 2**20
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ValueError, OSError):  # a system that cannot cap a process's heap: the time limit still holds
        pass
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what parsers print goes to stderr, never into the replies
    requests = sys.stdin.buffer
    signal.signal(signal.SIGTERM, lambda *_: (_end_children(), os._exit(1)))
    collect = _Collect()
    log.addHandler(collect)
    log.propagate = False
    while True:
        try:
            name, read, args = _read(requests)
        except EOFError:
            return
        collect.messages = []
        finished = True
        try:
            result = Result(read(*args), "", collect.messages)
        except PolicySearchError as err:
            result = Result(None, str(err), collect.messages)
        except MemoryError:
            result = Result(None, f"{name}: reading needs more than {memory_mb} MB, the limit (settings.file_memory, "
                                  "--file-memory); raise it if the file is real, or leave the file out", collect.messages)
            finished = False
        except RecursionError:
            result = Result(None, f"{name}: nested too deeply to read; open and save it again, or leave it out",
                            collect.messages)
        except Exception as err:  # any parser's own failure on a file it cannot read
            result = Result(None, f"{name}: its reader failed ({type(err).__name__}: {str(err)[:200]}); "
                                  "open and save it again, or leave it out", collect.messages)
        _write(replies, (result, finished))
        if not finished:
            return


def _end_children() -> None:
    """Kill the process groups this worker's children lead (LibreOffice runs in one of its own)."""
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc (macOS): what the worker started is left to its own limits
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            _signal(int(entry), signal.SIGKILL)
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass
