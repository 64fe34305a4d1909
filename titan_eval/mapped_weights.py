"""Weights that are read once: checkpoint files memory-mapped, each tensor converted to the run dtype on its own
and its file pages dropped after, straight into a model built on the meta device.

Peak memory while loading is then the model in its run dtype plus one tensor (and, for a tensor already in the run
dtype, nothing more: the parameter is the file's own page-cache view). The checks stay those of `load_strict`: the
exact key set and shapes, else a `CheckpointError` listing what differs.

- `.safetensors`: the header is read and every tensor is a zero-copy view of a private (copy-on-write) mapping of
  the file (`torch.frombuffer`), so nothing is read before it is used.
- `.pt` / `.bin`: `torch.load(mmap=True)` (the zip format torch has written since 1.6; the old format is read whole).
- Page release: a tensor is converted into a new one a slice of at most `CONVERT_CHUNK_BYTES` at a time, and each
  slice's whole pages in the mapping are given back with `madvise(MADV_DONTNEED)` right after (Linux; elsewhere a
  no-op), so a 130 MB embedding never has its source resident beside its copy. The mapping is private and never
  written, so a page given back reads from the file again if touched.
- `meta_skeleton()`: the model is built on the meta device with its random initialisers skipped. On meta they
  compute nothing anyway, but `Tensor.normal_` there goes through torch's Python reference, whose first call
  imports `torch._dynamo` (74 MB of resident memory and ≈ 1.7 s, measured on the h64lm-249m load).
"""

from __future__ import annotations

import ctypes
import json
import mmap
import struct
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

SAFETENSORS_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
_MADV_DONTNEED = 4
_PAGE = mmap.PAGESIZE
CONVERT_CHUNK_BYTES = 16 << 20
_RANDOM_FILLS = frozenset({Tensor.normal_, Tensor.uniform_, Tensor.exponential_, Tensor.log_normal_,
                           Tensor.cauchy_, Tensor.geometric_, Tensor.bernoulli_, Tensor.random_})


class _SkipRandomFills(TorchFunctionMode):
    """Inside it, a random fill or `torch.nn.init` initialiser of a meta tensor returns the tensor untouched (there
    is nothing to fill)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _RANDOM_FILLS or getattr(func, "__module__", None) == "torch.nn.init":
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


@contextmanager
def meta_skeleton() -> Iterator[None]:
    """Build modules on the meta device (shapes and dtypes only, no memory) without running random fills."""
    with torch.device("meta"), _SkipRandomFills():
        yield


def map_safetensors(path: Path) -> dict[str, Tensor]:
    """{name: tensor} as views of a private mapping of `path` (nothing read yet). `ValueError` for a header that
    does not describe the file (truncated, corrupt, unknown dtype)."""
    with open(path, "rb") as handle:
        size = path.stat().st_size
        if size < 8:
            raise ValueError("shorter than a safetensors header")
        (header_len,) = struct.unpack("<Q", handle.read(8))
        if header_len > size - 8:
            raise ValueError(f"header of {header_len} bytes does not fit the file")
        header = json.loads(handle.read(header_len))
        data_start = 8 + header_len
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) if size > data_start else None
    out: dict[str, Tensor] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"tensor {name}: unsupported dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        count = 1
        for dim in shape:
            count *= dim
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - begin != count * itemsize:
            raise ValueError(f"tensor {name}: offsets {begin}..{end} do not match its shape {list(shape)}")
        if data_start + end > size:
            raise ValueError(f"past the end of the file: tensor {name} ends at byte {data_start + end:,}")
        if count == 0:
            out[name] = torch.empty(shape, dtype=dtype)
            continue
        assert mapped is not None
        out[name] = torch.frombuffer(mapped, dtype=dtype, count=count, offset=data_start + begin).view(shape)
    return out


def release_pages(tensor: Tensor) -> None:
    """Give back the whole memory pages inside `tensor`'s bytes (for a view of a file mapping: drop them from this
    process's resident set). Linux only; a no-op elsewhere and for tensors that do not own whole pages."""
    if not sys.platform.startswith("linux") or tensor.device.type != "cpu":
        return
    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    first = -(-start // _PAGE) * _PAGE
    last = end // _PAGE * _PAGE
    if last > first:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), ctypes.c_int(_MADV_DONTNEED))


def assign_weights(model: nn.Module, state_dict: Mapping[str, Tensor], dtype: torch.dtype) -> None:
    """Put `state_dict` (keys and shapes already checked against `model`, a model on the meta device) into
    `model`, each tensor in the dtype `model.to(dtype)` gives it (floating tensors in `dtype`, unless a module
    keeps its own, e.g. fp32 RoPE tables; the others as they are): a tensor already right is taken as is (no
    copy), any other is converted on its own and its source pages released. Parameters `model` shares between
    names (tied embeddings) stay shared: they take the value of the last of their names, as copying name by name
    would."""
    model.to(dtype=dtype)  # on meta: only the dtypes change, which say what each loaded tensor must become
    expected = model.state_dict(keep_vars=True)
    groups: dict[int, list[str]] = {}
    for key, tensor in expected.items():
        groups.setdefault(id(tensor), []).append(key)
    values: dict[str, Tensor] = {}
    for names in groups.values():
        target = expected[names[-1]]
        source = state_dict[names[-1]]
        value = source if source.dtype == target.dtype else _converted(source, target.dtype)
        for name in names:
            values[name] = value
    model.load_state_dict(values, strict=True, assign=True)
    for names in groups.values():
        if len(names) > 1 and isinstance(expected[names[0]], nn.Parameter):
            shared = model.get_parameter(names[0])
            for name in names[1:]:
                owner, _, attr = name.rpartition(".")
                setattr(model.get_submodule(owner), attr, shared)


def _converted(source: Tensor, dtype: torch.dtype) -> Tensor:
    """`source.to(dtype)` (same bits), built a slice of at most `CONVERT_CHUNK_BYTES` of the source at a time, each
    slice's source pages released once copied, so the source is never resident whole beside its copy."""
    if not source.is_contiguous() or source.numel() * source.element_size() <= CONVERT_CHUNK_BYTES:
        value = source.to(dtype=dtype, copy=True)
        release_pages(source)
        return value
    value = torch.empty(source.shape, dtype=dtype, device=source.device)
    flat_in, flat_out = source.view(-1), value.view(-1)
    step = max(1, CONVERT_CHUNK_BYTES // source.element_size())
    for start in range(0, flat_in.numel(), step):
        part = flat_in[start:start + step]
        flat_out[start:start + step].copy_(part)
        release_pages(part)
    return value


def meta_leftovers(model: nn.Module) -> list[str]:
    """Names of tensors still on the meta device (nothing loaded or computed them)."""
    named = [*model.named_parameters(), *model.named_buffers()]
    return [name for name, t in named if t.is_meta]
