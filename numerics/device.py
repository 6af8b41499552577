"""Device selection: ``auto`` picks CUDA when present, never a module-level global."""

from __future__ import annotations

import torch

from numerics.errors import ConfigError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N" | "mps"`` into a usable ``torch.device``.

    ``auto`` means CUDA if available, else CPU. Asking for an unavailable device raises
    :class:`ConfigError` instead of failing later inside torch.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ConfigError(f"device must be a string such as 'auto' or 'cpu', got {spec!r}")
    name = spec.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N") from err
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {spec!r} cannot train or evaluate: use auto, cpu, cuda or "
                          f"cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {spec!r} requested but CUDA is not available; use --device cpu")
    if device.type == "cuda" and device.index is not None:
        if device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {spec!r}: only {torch.cuda.device_count()} GPU(s) present")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {spec!r} requested but MPS is not available")
    return device
