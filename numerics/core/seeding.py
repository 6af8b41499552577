"""Seeds: every random thing in the package takes one; same seed, same numbers on CPU."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch globally and return a CPU ``torch.Generator`` for ``seed``.

    Library code draws from explicit generators; the global seeding only guards third-party
    code (e.g. torch's default parameter initialisation inside ``nn.Module`` constructors).
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
