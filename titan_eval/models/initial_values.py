"""Initial values of parameters and buffers that a model computes (not draws) in its constructor.

While a model is built on the meta device (the skeleton a checkpoint fills, `mapped_weights.meta_skeleton`), such a
value is only an empty meta tensor of its shape: on meta, torch runs elementwise arithmetic through its Python
reference ops, whose first call imports `torch._dynamo` (74 MB resident and ≈ 1.7 s, measured on a checkpoint load),
and the values would be overwritten anyway (by the checkpoint, or by `init_buffers()` for buffers it lacks).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def building_on_meta() -> bool:
    """True where new tensors land on the meta device (inside `torch.device("meta")`)."""
    return torch.empty(0).is_meta


def initial(make: Callable[[], Tensor], shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
    """`make()` (a tensor of `shape`), or an empty meta tensor of `shape` and `dtype` while building on meta."""
    if building_on_meta():
        return torch.empty(shape, dtype=dtype)
    return make()
