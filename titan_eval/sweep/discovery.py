"""Which checkpoints a sweep covers and at which training step each was taken.

SPEC (`--checkpoints`, repeatable): a glob (`ckpt/step_*.pt`), a folder (every checkpoint file in it and every
sub-folder holding `model.safetensors` / `pytorch_model.bin` / `model.pt`: an HF directory) or a list of files.

The step of a checkpoint comes from its own `step` field where its format has one (Titan / Helix / h64lm `.pt`
pickles: `{"step": N, "model": ...}`), else from its name: the first group of `--step-regex` matched against the
file (or HF folder) name, by default the last number in it (`step_30000.pt` → 30000).

A file still being written is not a checkpoint yet: one whose size changes while discovery looks at it (two looks
`settle_s` apart) or that fails to open is returned in `Discovery.skipped` with the reason, never read as a step.
"""

from __future__ import annotations

import glob
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from titan_eval.errors import CheckpointError, UsageError

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")
HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "model.pt")
DEFAULT_STEP_REGEX = r"(\d+)(?!.*\d)"  # the last number in the name


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the sweep: `path` (file or HF folder), its training `step` and where that came from
    (`field` or `name`), and its size in bytes (the weight files' sum) when discovered."""

    path: Path
    step: int
    step_source: str
    size: int


@dataclass(frozen=True)
class Discovery:
    """`checkpoints` in step order; `skipped`: (path, reason) for files still being written or unreadable."""

    checkpoints: tuple[Checkpoint, ...]
    skipped: tuple[tuple[Path, str], ...]


def _is_hf_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).exists() for n in HF_WEIGHT_FILES)


def expand_spec(specs: Sequence[str]) -> list[Path]:
    """Every checkpoint path SPEC names (glob, folder or file), each once, in the order named; `UsageError` when a
    spec names nothing."""
    found: list[Path] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if any(c in spec for c in "*?["):
            matches = [Path(p) for p in sorted(glob.glob(str(path)))]
            found += [p for p in matches if p.is_file() or _is_hf_dir(p)]
        elif _is_hf_dir(path):
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir()
                            if (p.is_file() and p.suffix in WEIGHT_SUFFIXES and not p.name.startswith("."))
                            or _is_hf_dir(p))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"--checkpoints {spec}: no such file, folder or matching glob")
    return list(dict.fromkeys(p.resolve() for p in found))


def _size(path: Path) -> int:
    files: Iterable[Path] = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
    return sum(p.stat().st_size for p in files)


def step_from_name(path: Path, step_regex: str = DEFAULT_STEP_REGEX) -> int | None:
    """The step `step_regex`'s first group (or whole match) reads from the file or folder name; None if no match."""
    name = path.stem if path.is_file() else path.name
    match = re.search(step_regex, name)
    if match is None:
        return None
    text = match.group(1) if match.groups() else match.group(0)
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--step-regex {step_regex!r} matched {text!r} in {name}, not a whole number") from None


def step_field(obj: Any) -> int | None:
    """The `step` entry of a loaded checkpoint object (a dict), when it holds a whole number."""
    if isinstance(obj, dict):
        value = obj.get("step")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if hasattr(value, "item") and callable(value.item):
            try:
                item = value.item()
            except (ValueError, RuntimeError):
                return None
            return item if isinstance(item, int) else None
    return None


def read_checkpoint(path: Path, trust: bool, safe_globals: Iterable[Any]) -> Any:
    """The first weight file's loaded object (memory-mapped; `checkpoints.read_file`): what a step field lives in.
    `CheckpointError` when it fails to open."""
    from titan_eval.checkpoints import locate, read_file

    files = locate(path)
    return read_file(files.weights[0], trust=trust, safe_globals=safe_globals)


def discover(specs: Sequence[str], step_regex: str | None = None, settle_s: float = 1.0, trust: bool = False,
             safe_globals: Iterable[Any] = (), known: dict[str, tuple[int, int]] | None = None) -> Discovery:
    """The sweep's checkpoints in step order (module docstring). `known` maps a file name to (size, step)
    found by an earlier sweep: a file of the same size is not opened again. `UsageError` when two checkpoints
    have the same step or a step cannot be read at all."""
    regex = step_regex or DEFAULT_STEP_REGEX
    try:
        re.compile(regex)
    except re.error as err:
        raise UsageError(f"--step-regex {regex!r} is not a regular expression ({err})") from None
    paths = expand_spec(specs)
    first = {p: _size(p) for p in paths}
    if settle_s > 0 and paths:
        time.sleep(settle_s)
    out: list[Checkpoint] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        size = _size(path)
        if size != first[path]:
            skipped.append((path, f"still being written (size {first[path]} → {size} bytes)"))
            continue
        cached = (known or {}).get(path.name)
        if cached is not None and cached[0] == size:
            out.append(Checkpoint(path, cached[1], "known", size))
            continue
        try:
            obj = read_checkpoint(path, trust, safe_globals)
        except CheckpointError as err:
            skipped.append((path, f"does not open ({err})"))
            continue
        step, source = step_field(obj) if step_regex is None else None, "field"
        del obj
        if step is None:
            step, source = step_from_name(path, regex), "name"
        if step is None:
            raise UsageError(f"{path}: no step field and no number in its name; give --step-regex")
        out.append(Checkpoint(path, step, source, size))
    out.sort(key=lambda c: c.step)
    for a, b in zip(out, out[1:]):
        if a.step == b.step:
            raise UsageError(f"{a.path} and {b.path} are both step {a.step}; give --step-regex or sweep one of them")
    return Discovery(tuple(out), tuple(skipped))
