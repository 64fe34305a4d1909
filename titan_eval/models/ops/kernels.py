"""Optional CUDA kernels (mamba-ssm), imported lazily and only on request or on CUDA.

Policy: "torch" never uses kernels; "auto" uses them when the tensors are on CUDA and mamba-ssm imports;
"kernel" requires them and raises `ModelError` (exit 3) when they cannot be imported.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Callable, Literal

from titan_eval.errors import ModelError, UsageError

KernelPolicy = Literal["auto", "torch", "kernel"]
POLICIES: tuple[str, ...] = ("auto", "torch", "kernel")


@lru_cache(maxsize=None)
def _import_selective_scan() -> Callable | None:
    try:
        module = importlib.import_module("mamba_ssm.ops.selective_scan_interface")
    except Exception:  # ImportError, or a CUDA/ABI failure inside the extension
        return None
    return getattr(module, "selective_scan_fn", None)


def kernel_status() -> dict[str, bool]:
    """Which optional kernels import on this machine (for `titan-eval env`)."""
    status = {"mamba_ssm.selective_scan_fn": _import_selective_scan() is not None}
    try:
        importlib.import_module("causal_conv1d")
        status["causal_conv1d"] = True
    except Exception:
        status["causal_conv1d"] = False
    return status


def selective_scan_kernel(policy: str, on_cuda: bool) -> Callable | None:
    """The kernel to use under `policy`, or None for the PyTorch reference path."""
    if policy not in POLICIES:
        raise UsageError(f"unknown kernel policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if policy == "torch":
        return None
    fn = _import_selective_scan() if (on_cuda or policy == "kernel") else None
    if policy == "kernel":
        if fn is None:
            raise ModelError("mamba-ssm kernels were forced but do not import (install the 'cuda' extra on a CUDA machine)")
        if not on_cuda:
            raise ModelError("mamba-ssm kernels were forced but the model is not on a CUDA device")
    return fn


def active_scan_kernels(policy: str, on_cuda: bool) -> tuple[str, ...]:
    """What the selective scan runs on under `policy` (for `capabilities.kernels`, hence run.json's `backend`):
    mamba-ssm's kernel on CUDA, the compiled CPU scan (`cpu_scan`) on the CPU, or nothing (the PyTorch path)."""
    if selective_scan_kernel(policy, on_cuda) is not None:
        return ("mamba-ssm:selective_scan",)
    if not on_cuda and policy != "torch":
        from titan_eval.models.ops import cpu_scan

        if cpu_scan.available():
            return ("cpu-scan",)
    return ()
