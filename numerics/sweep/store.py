"""The results file of a sweep: one JSON line per finished trial, appended by one writer.

Each line is written by the sweep's parent process only, with a single ``os.write`` on an
``O_APPEND`` descriptor followed by ``fsync``; a crash can at worst leave an unterminated last
line, which :func:`read_results` ignores and the next :class:`ResultsFile` truncates. An
advisory lock (``flock``) stops a second sweep from writing to the same file at the same time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from numerics.core.errors import DataError, SweepError
from numerics.core.jsonio import JSONDict, JSONValue, dumps

__all__ = ["ResultsFile", "latest_records", "read_results"]


def read_results(path: str | os.PathLike[str]) -> list[JSONDict]:
    """Records of a results file (JSON Lines) in the order written.

    A last line without its terminating newline is the trace of a write interrupted by a crash:
    it is ignored (its trial counts as not done). Any other unreadable line raises
    :class:`DataError` with its line number. A missing file has no records.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, _torn = lines[:-1], lines[-1]
    records = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}:{number}: not a JSON record ({err}); the results file was "
                            "edited or written by another program") from err
        if not isinstance(record, dict) or "id" not in record or "status" not in record:
            raise DataError(f"{path}:{number}: a record needs at least 'id' and 'status'")
        records.append(record)
    return records


def latest_records(records: Sequence[Mapping[str, JSONValue]]) -> dict[str, JSONDict]:
    """Map trial id -> its last record (a retried trial's newer record wins)."""
    return {record["id"]: dict(record) for record in records}


def _drop_torn_tail(fd: int) -> int:
    """Truncate an unterminated last line (left by a crash mid-write); returns bytes dropped."""
    size = os.lseek(fd, 0, os.SEEK_END)
    end = size
    chunk = 4096
    while end > 0:
        start = max(0, end - chunk)
        block = os.pread(fd, end - start, start)
        if end == size and block.endswith(b"\n"):
            return 0
        cut = block.rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        end = start
    else:
        keep = 0
    if keep < size:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    return size - keep


class ResultsFile:
    """The results file opened for appending, locked against a second concurrent sweep."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            pass
        else:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as err:
                os.close(self.fd)
                raise SweepError(f"results file {path} is being written by another running "
                                 "sweep; wait for it or choose another --results path") from err
        self.dropped = _drop_torn_tail(self.fd)

    def append(self, record: Mapping[str, JSONValue]) -> None:
        """Write ``record`` as one line with a single write on the O_APPEND descriptor, fsync."""
        line = (dumps(record, sort_keys=True) + "\n").encode()
        written = os.write(self.fd, line)
        if written != len(line):
            raise SweepError(f"short write to {self.path} ({written} of {len(line)} bytes); "
                             "is the disk full?")
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)
