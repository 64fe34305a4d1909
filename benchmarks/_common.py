"""Shared by the benchmark scripts: device/dtype options, interleaved repeats, medians, tables, and the one
random-initialised transformers Mamba-1 every side-by-side comparison uses."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TITAN_EVAL_SHARED", ROOT.parent / "shared"))
TOKENIZER = SHARED / "tokenizers" / "gpt-neox-20b" / "tokenizer.json"
DATA = SHARED / "data"


def add_device_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--dtype", default=None, help="float32 (CPU default) | bfloat16 (CUDA default)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats per side (median reported)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for every side (default 1: on a shared, oversubscribed machine "
                             "each multi-threaded op can wait a scheduler quantum for its sibling thread)")


def apply_threads(args: argparse.Namespace) -> None:
    """Same thread count for every side, in this process and (through the environment) in children."""
    import torch

    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    torch.set_num_threads(args.threads)


def resolve_dtype(args: argparse.Namespace) -> str:
    return args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")


def parse_device_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, resolve `args.dtype` (the device's default when not given) and apply the thread setting."""
    args = parser.parse_args()
    args.dtype = resolve_dtype(args)
    apply_threads(args)
    return args


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} "
            f"threads), Python {platform.python_version()}, {gpu}")


def interleave(sides: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Run every side once per repeat, alternating (a b a b ...), and return each side's wall times."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_times(xs: Sequence[float]) -> str:
    return " / ".join(f"{x:.2f}" for x in xs)


def hf_mamba_dir(out: Path, d_model: int = 256, n_layer: int = 4, seed: int = 0) -> Path:
    """Save (once) a seeded random transformers MambaForCausalLM with the GPT-NeoX vocabulary and tokenizer."""
    if (out / "config.json").exists():
        return out
    import torch
    import transformers

    cfg = transformers.MambaConfig(vocab_size=50280, hidden_size=d_model, state_size=16, num_hidden_layers=n_layer,
                                   expand=2, conv_kernel=4, eos_token_id=0, bos_token_id=0, pad_token_id=1)
    torch.manual_seed(seed)
    transformers.MambaForCausalLM(cfg).eval().save_pretrained(out)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER), eos_token="<|endoftext|>",
                                               bos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                               pad_token="<|padding|>")
    tok.save_pretrained(out)
    return out


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """--d-model / --n-layer (the saved Mamba's shape; 2048 × 48 is mamba-1.4b's) and --dir (where it is kept)."""
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--dir", help="Folder to keep the model in (reused when present; default: a temporary one).")


def mamba_dir_for(args: argparse.Namespace, tmp: str) -> Path:
    """`hf_mamba_dir` of the shape `add_model_args` parsed, kept in `args.dir` when given (else in `tmp`), so one
    real-size model serves several benchmarks."""
    folder = Path(args.dir or tmp)
    return hf_mamba_dir(folder / f"mamba-{args.d_model}x{args.n_layer}", args.d_model, args.n_layer)  # full_size.py's name too


def titan_eval_card() -> dict:
    """The card titan-eval loads the saved transformers weights with (-hf Mamba layout from config.json)."""
    return {"arch": "mamba", "tokenizer": {"kind": "hf", "path": str(TOKENIZER), "eos": "<|endoftext|>"}}


def run_child(argv: Sequence[str]) -> float:
    """Run a Python child process to completion (output discarded unless it fails); return its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(argv)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def arc_requests(tok, docs: int) -> list:
    """ScoreRequests (lm-eval's ARC prompt, causal split) for the first `docs` ARC-Easy test documents."""
    from titan_eval.engine import ScoreRequest

    reqs = []
    for line in (DATA / "arc" / "ARC-Easy-Test.jsonl").read_text().splitlines()[:docs]:
        doc = json.loads(line)
        ctx = f"Question: {doc['question']['stem']}\nAnswer:"
        ctx_ids = tok.encode(ctx)
        for choice in doc["question"]["choices"]:
            whole = tok.encode(ctx + " " + choice["text"])
            reqs.append(ScoreRequest(tuple(ctx_ids), tuple(whole[len(ctx_ids):])))
    return reqs


def timed_process(cmd: Sequence[str], env: dict[str, str]) -> float:
    """Wall seconds of one child process from start to exit; SystemExit with its stderr tail when it fails."""
    start = time.perf_counter()
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(list(cmd)[:4])} failed: {done.stderr[-2000:]}")
    return elapsed
