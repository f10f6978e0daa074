"""One writing command per workspace at a time.

Two `translate` runs on one workspace would each send every request (neither sees the other's
answers until they are committed). So a writing command takes an exclusive `flock` on
ROOT/writer.lock, holding its pid, command and start time; a second one is refused at once with
one line naming the first. The kernel drops an flock when its process ends, however it ends, so a
`kill -9` leaves no stale lock: the next command takes it over. Readers never take it (SQLite's WAL
lets them read while a writer writes).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError

LOCK_NAME = "writer.lock"


class WorkspaceBusy(UserError):
    """Another process is writing to the workspace."""


class WriterLock:
    """An exclusive lock on a workspace; `release()` (or the process's end) frees it."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, root: Path, command: str) -> WriterLock:
        """Take the lock for `command`, or raise WorkspaceBusy naming the holder."""
        path = root / LOCK_NAME
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise WorkspaceBusy(
                    f"workspace {root} is being written by {holder}; wait for it to finish (or stop it), then run "
                    "this again: two writers would repeat each other's work. Reading commands (status, export, "
                    "leaderboard) work meanwhile") from None
            if _same_file(fd, path):  # not a file a releasing holder unlinked just before we locked it
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\t{command}\t{utc_now()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        """Unlink while still holding the lock, then let go: no lock file is left behind."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _holder(fd: int) -> str:
    """"pid 123 (`tipr-bench translate`, since ...)" from the lock file; the holder writes it just
    after locking, so an empty file is read again for a moment."""
    for _ in range(20):
        fields = os.pread(fd, 4096, 0).decode(errors="replace").strip().split("\t")
        if len(fields) == 3:
            pid, command, since = fields
            return f"pid {pid} (`{command}`, since {since})"
        time.sleep(0.05)
    return "another process"
