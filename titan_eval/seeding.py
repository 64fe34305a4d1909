"""One seed for python, numpy and torch (and the values lm-eval records)."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def seed_everything(seed: int) -> dict[str, int]:
    """Seed every RNG the run touches; returns the record for run.json."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return {"seed": seed, "random_seed": seed, "numpy_seed": seed, "torch_seed": seed, "fewshot_seed": seed}


def derived_seed(run_seed: int, *parts: object) -> int:
    """A stable 63-bit seed from the run seed and identifying parts (task, doc id, sample index), independent
    of batch composition, ordering and Python's hash randomisation."""
    text = "\x1f".join([str(run_seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1
