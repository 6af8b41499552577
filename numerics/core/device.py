"""Device selection: ``auto`` picks CUDA when present, never a module-level global."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from numerics.core.errors import ConfigError


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


def bf16_autocast(device: torch.device) -> bool:
    """Whether bfloat16 autocast pays on ``device``: CUDA with bf16 support, or a CPU whose
    oneDNN has native bf16 kernels (AVX512-BF16 or AMX; emulated bf16 is slower than float32).

    Measured on the sprites ``cpu`` model (2-core CPU with AVX512-BF16, one thread): 8.7
    training steps per second with autocast against 5.0 without. Elsewhere (other CPUs, MPS)
    training stays in float32.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _flushing() -> bool:
    """Whether subnormal floats are flushed to 0 on this thread right now."""
    return torch.tensor(1e-40, dtype=torch.float32).item() == 0.0


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Inside the block, CPU floats below the normal range (|x| < 1.2e-38 in float32) are
    read and written as 0 on this thread; the previous setting is restored after it.

    Subnormal floats make x86 arithmetic 10-100x slower, and training produces them (e.g.
    sigmoid of a large negative pre-activation inside SiLU): measured on 4 slots x 2 latents
    at order 3, one ``iasym train`` took 20 CPU-minutes instead of 28 s. Flushing changes
    values only below 1.2e-38, far below what the losses resolve. The setting is per thread
    and inherited by threads started later, so it reaches torch's CPU worker threads when the
    block is entered before torch's first parallel operation (the CLI enters it at start-up;
    :func:`numerics.synthetic.training.train` enters it for the run).
    """
    before = _flushing()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if not before:
            torch.set_flush_denormal(False)
