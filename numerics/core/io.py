"""Atomic writes (results never half-written), locks, and safe checkpoint loading.

Torch-free at import (the command line reads :func:`package_version` from here): the two
checkpoint functions import torch when called. JSON is written by :mod:`numerics.core.jsonio`'s
policy (strict JSON, non-finite numbers as ``null``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from numerics.core.errors import CheckpointError, ConfigError
from numerics.core.jsonio import dumps

if TYPE_CHECKING:
    import torch

_HELD: dict[str, int] = {}


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[Any]], object],
                 mode: str = "w") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then ``os.replace`` it.

    A crash or an exception mid-write leaves any previous ``path`` intact and no temporary
    file behind; a temporary left by a writer that was killed (SIGKILL cannot be caught) is
    named ``.<name>.<pid>.<random>.tmp`` and removed by the next write of ``path`` once that
    process is gone. ``mode``: ``"w"`` (text) or ``"wb"`` (binary, e.g. savefig, np.savez).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _remove_orphans(path: Path) -> None:
    """Unlink temporaries of ``path`` whose writing process no longer runs."""
    prefix = f".{path.name}."
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = tmp.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    atomic_write(path, lambda h: h.write(text), "w")


def atomic_write_json(path: str | os.PathLike[str], obj: object) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically (numerics.core.jsonio's policy:
    non-finite numbers as ``null``)."""
    atomic_write_text(path, dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_torch_save(path: str | os.PathLike[str], obj: object) -> None:
    """``torch.save`` atomically: a crash mid-write leaves the previous checkpoint intact."""
    import torch

    atomic_write(path, lambda h: torch.save(obj, h), "wb")


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code execution)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several unrelated types for corrupt files
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err


def package_version() -> str:
    """The installed version of interaction-asymmetry ("unknown" when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("interaction-asymmetry")
    except PackageNotFoundError:
        return "unknown"


def check_output_path(path: str | os.PathLike[str], what: str, directory: bool = False
                      ) -> Path:
    """Check, before any work, that ``path`` can be written: no existing ancestor is a regular
    file, the nearest existing ancestor is a writable directory, and ``path`` itself is a
    directory (``directory=True``) or not one. Raises :class:`ConfigError` naming ``what``."""
    target = Path(path)
    if target.exists() and target.is_dir() != directory:
        kind = "a directory" if target.is_dir() else "a file"
        raise ConfigError(f"{what} {str(target)[:200]} is {kind}; give a "
                          f"{'directory' if directory else 'file'} path")
    parent = target if directory and target.exists() else target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{what} {str(target)[:200]}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {str(target)[:200]}: cannot write in {parent}")
    return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def hold_lock(path: str | os.PathLike[str], what: str = "run") -> Iterator[Path]:
    """Hold ``<path>.lock`` (a file with the holder's PID) for the duration of the block.

    A lock held by a live process raises :class:`ConfigError` (two runs must not share a
    checkpoint or an output folder); a lock left by a dead process is taken over. Re-entrant
    within one process.
    """
    target = Path(str(path) + ".lock")
    key = str(target.resolve()) if target.parent.exists() else str(target.absolute())
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield target
        finally:
            _HELD[key] -= 1
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(target.read_text().strip() or "0")
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                raise ConfigError(f"{what} {str(path)[:200]} is in use by process {holder} "
                                  f"(lock {target}); wait for it or choose another path"
                                  ) from None
            with contextlib.suppress(FileNotFoundError):
                target.unlink()  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    else:
        raise ConfigError(f"cannot take the lock {target}")
    _HELD[key] = 1
    try:
        yield target
    finally:
        _HELD.pop(key, None)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
