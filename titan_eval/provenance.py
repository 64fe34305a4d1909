"""Environment provenance: package versions, git revision (+ dirty flag), machine."""

from __future__ import annotations

import importlib.metadata as md
import platform
import subprocess
import sys
from typing import Any

import torch

from titan_eval.models.ops.kernels import kernel_status
from titan_eval.paths import REPO_ROOT, build_info, installed_from_checkout

PACKAGES = ("titan-eval", "torch", "lm_eval", "datasets", "tokenizers", "sentencepiece", "safetensors", "numpy",
            "transformers", "mamba-ssm", "causal-conv1d")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def git_info() -> dict[str, Any]:
    """Commit and dirty flag of the titan-eval source: the checkout's (git), or for an installed wheel what its
    build step recorded (`source: "wheel"`); None where neither is known."""
    if not installed_from_checkout():
        info = build_info()
        return {"commit": info.get("commit"), "dirty": info.get("dirty"), "source": "wheel"}

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                                  check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def environment() -> dict[str, Any]:
    """Everything about the machine and software a result depends on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "git": git_info(),
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "kernels_importable": kernel_status(),
        "torch_threads": torch.get_num_threads(),
    }
