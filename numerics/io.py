"""Atomic writes (results never half-written) and safe checkpoint loading."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from numerics.errors import CheckpointError


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[Any]], object],
                 mode: str = "w") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then ``os.replace`` it.

    A crash or an exception mid-write leaves any previous ``path`` intact and no temporary
    file behind. ``mode``: ``"w"`` (text) or ``"wb"`` (binary, e.g. savefig, np.savez).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    atomic_write(path, lambda h: h.write(text), "w")


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (NaN/inf are written as strings)."""
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")


def atomic_torch_save(path: str | os.PathLike[str], obj: Any) -> None:
    """``torch.save`` atomically: a crash mid-write leaves the previous checkpoint intact."""
    atomic_write(path, lambda h: torch.save(obj, h), "wb")


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code execution)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several unrelated types for corrupt files
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.detach().cpu().tolist())
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # numpy scalars
        return _jsonable(obj.item())
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy arrays
        return _jsonable(obj.tolist())
    return obj
