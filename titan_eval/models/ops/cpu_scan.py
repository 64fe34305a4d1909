"""The compiled CPU selective scan (`csrc/selective_scan_cpu.cpp`), built on first use with torch's own extension
machinery (`torch.utils.cpp_extension.load`: the system C++ compiler and ninja) and cached under torch's extension
folder (`$TORCH_EXTENSIONS_DIR`, default `~/.cache/torch_extensions`), keyed by the source's hash.

Used for the CPU scan when the kernel policy is not `torch` and the build works; anything that stops it (no
compiler, no ninja, a failed build, `TITAN_EVAL_CPU_SCAN=0`) leaves the pure-PyTorch fused loop
(`selective_scan.selective_scan_fused`), and the run records which one ran (`backend`: `cpu-scan` among the
kernels). Compiled with -O3 -march=native and GCC's vector math (the N-wide exp in SIMD lanes); equal to the
PyTorch path within fp32 rounding (tests/test_cpu_scan.py). The first build takes about a minute; a one-line note
says so on stderr.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from importlib import resources
from typing import Any

import torch
from torch import Tensor

SOURCE = "selective_scan_cpu.cpp"
FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp-simd"]
ENV_SWITCH = "TITAN_EVAL_CPU_SCAN"


def _source() -> tuple[str, str]:
    text = (resources.files("titan_eval.models.ops") / "csrc" / SOURCE).read_text(encoding="utf-8")
    # torch's install path too: the build's ninja file names that torch's headers, so two environments sharing one
    # build folder would each rebuild the other's kernel on first use (measured: 21 s on a load after a CI run)
    digest = hashlib.sha256((text + " ".join(FLAGS) + torch.__version__ + os.path.dirname(torch.__file__)).encode()
                            ).hexdigest()[:12]
    return text, digest


@lru_cache(maxsize=None)
def compiled() -> Any | None:
    """The built extension module, or None when it cannot be had (module docstring)."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        from torch.utils import cpp_extension

        text, digest = _source()
        name = f"titan_eval_cpu_scan_{digest}"
        build_dir = os.path.join(cpp_extension.get_default_build_root(), name)
        os.makedirs(build_dir, exist_ok=True)
        if not any(f.endswith(".so") for f in os.listdir(build_dir)):
            print(f"titan-eval: compiling the CPU selective-scan kernel once (about a minute; cached in "
                  f"{build_dir}; {ENV_SWITCH}=0 skips it)", file=sys.stderr, flush=True)
        return cpp_extension.load_inline(name, cpp_sources=text, extra_cflags=FLAGS, build_directory=build_dir,
                                         verbose=False)
    except Exception as err:  # no compiler / ninja, a failed build: the PyTorch loop stays
        print(f"titan-eval: CPU selective-scan kernel unavailable ({type(err).__name__}: "
              f"{str(err).splitlines()[0][:200] if str(err) else ''}); using the PyTorch loop",
              file=sys.stderr, flush=True)
        return None


def available() -> bool:
    return compiled() is not None


def cpu_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
             h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """`selective_scan_ref`'s contract (u, delta [Bt, D, L]; A [D, N]; B, C [Bt, N, L]; D [D]; h0 [Bt, D, N]) →
    (y [Bt, D, L] in u's dtype, h_last [Bt, D, N] fp32), through the compiled kernel (which must be available)."""
    module = compiled()
    assert module is not None
    batch, channels, _ = u.shape
    h = torch.zeros(batch, channels, A.shape[1]) if h0 is None else h0.float().contiguous()
    skip = D.float().contiguous() if D is not None else torch.empty(0)
    y, h_last = module.scan(u.float().contiguous(), delta.float().contiguous(), A.float().contiguous(),
                            B.float().transpose(1, 2).contiguous(), C.float().transpose(1, 2).contiguous(), skip, h)
    return y.to(u.dtype), h_last
