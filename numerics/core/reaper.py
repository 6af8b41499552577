"""Fate-sharing for process trees that SIGKILL would orphan.

A process killed with SIGKILL runs no clean-up, and the grandchildren of a library it started
(Ray's node agents, reparented to init) keep running. ``python -m numerics.core.reaper PID`` is a
watcher: while process ``PID`` lives it records PID's descendants (Linux ``/proc``, every
``INTERVAL`` seconds); once PID is gone it kills every recorded process that still runs with
the same start time (so a reused PID is never hit), then exits. :func:`start_reaper` starts
one for the calling process; stop it with ``.terminate()`` after a normal shutdown. On systems
without ``/proc`` the watcher records nothing and only waits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["INTERVAL", "descendants", "start_reaper", "watch"]

#: Seconds between two scans of the watched process's descendants.
INTERVAL = 0.2


def _stat(pid: int) -> tuple[int, int] | None:
    """``(parent pid, start time in clock ticks)`` of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every descendant of ``pid`` now running: ``{pid: start time}`` (empty without /proc)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    try:
        entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return {}
    for child in entries:
        stat = _stat(child)
        if stat is not None:
            parents.setdefault(stat[0], []).append(child)
            starts[child] = stat[1]
    out: dict[int, int] = {}
    frontier = [pid]
    while frontier:
        for child in parents.get(frontier.pop(), []):
            if child not in out:
                out[child] = starts[child]
                frontier.append(child)
    return out


def watch(parent: int) -> None:
    """Record ``parent``'s descendants until it dies, then SIGKILL those still running."""
    seen: dict[int, int] = {}
    me = os.getpid()
    while _stat(parent) is not None and os.getppid() == parent:
        seen.update({p: s for p, s in descendants(parent).items() if p != me})
        time.sleep(INTERVAL)
    for pid, start in seen.items():
        stat = _stat(pid)
        if stat is not None and stat[1] == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def start_reaper() -> subprocess.Popen[bytes]:
    """A watcher (:func:`watch`) of the calling process in a child process."""
    return subprocess.Popen([sys.executable, "-m", "numerics.core.reaper", str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the whole group: outlive it
    watch(int(sys.argv[1]))
