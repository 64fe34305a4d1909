"""What reading a real Helix training checkpoint needs (spec §2.1, §6.2–6.3; vectors README "Differences").

A `step_N.pt` / `best.pt` is a full `torch.save` pickle: `model` (the state dict), `optimizer`, `scheduler`,
`state`, `metadata`, `scaler` and `rng` = {torch, numpy, python, cuda}. Everything but the numpy RNG state (and
numpy scalars that may sit in the plain metadata) is already admitted by torch's weights-only unpickler. The
numpy parts need only array/scalar reconstruction and plain numeric dtypes (under their numpy ≥ 2 names and
the numpy 1.x names older files were written with); `metadata.torch_version` may hold `torch.__version__`, a
`TorchVersion` (a str subclass). These make up `TRAINING_GLOBALS`. Anything else — another class or a
callable — is still refused, and only `--trust-checkpoint` (`read_file(trust=True)`) unpickles it.

Mamba layout detection: `blocks.i.attn._impl.inner.*` keys mean the mamba_ssm kernel layout, other
`blocks.i.attn._impl.*` keys the native one. All Mamba blocks of a checkpoint must agree.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
from torch.torch_version import TorchVersion

from titan_eval.errors import CheckpointError

_NUMERIC_DTYPE_CODES = "? b h i l q B H I L Q e f d F D"


def _numpy_globals() -> tuple[Any, ...]:
    try:  # numpy ≥ 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    dtype_classes = {type(np.dtype(code)) for code in _NUMERIC_DTYPE_CODES.split()}
    aliases = [(fn, f"{prefix}.multiarray.{fn.__name__}") for fn in (_reconstruct, scalar)
               for prefix in ("numpy.core", "numpy._core")]
    return (np.ndarray, np.dtype, _reconstruct, scalar, *aliases,
            *sorted(dtype_classes, key=lambda c: c.__name__))


TRAINING_GLOBALS: tuple[Any, ...] = (*_numpy_globals(), TorchVersion)
"""Globals a Helix training checkpoint needs beyond torch's weights-only defaults (for `safe_globals`)."""

_MAMBA_KEY = re.compile(r"^blocks\.(\d+)\.attn\._impl\.(inner\.)?")


def detect_mamba_layout(state_dict: Mapping[str, Any]) -> str | None:
    """'kernel' | 'native' from the keys, None when no Mamba block is present; `CheckpointError` if mixed."""
    layouts: dict[str, set[int]] = {"native": set(), "kernel": set()}
    for key in state_dict:
        match = _MAMBA_KEY.match(key)
        if match:
            layouts["kernel" if match.group(2) else "native"].add(int(match.group(1)))
    if layouts["native"] and layouts["kernel"]:
        raise CheckpointError(
            "checkpoint mixes Mamba layouts: native `_impl.*` in blocks "
            f"{sorted(layouts['native'])} and kernel `_impl.inner.*` in blocks {sorted(layouts['kernel'])}"
        )
    return next((name for name, blocks in layouts.items() if blocks), None)


def resolve_mamba_layout(config: Mapping[str, Any], state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The config with `mamba_layout` set from the keys; `CheckpointError` if it names a different layout."""
    found = detect_mamba_layout(state_dict)
    stated = config.get("mamba_layout")
    if found is None:
        return dict(config)
    if stated not in (None, found):
        raise CheckpointError(f"config says mamba_layout {stated!r} but the checkpoint's keys are the {found!r} layout")
    return {**config, "mamba_layout": found}
