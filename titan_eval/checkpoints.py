"""Reading checkpoints safely and loading them strictly.

Files are memory-mapped, not read whole (`mapped_weights`). Sources: a `.pt`/`.bin` pickle (read with
`torch.load(weights_only=True)`; anything needing arbitrary unpickling
requires `trust=True`), a `.safetensors` file, a model directory (`model.safetensors`, sharded safetensors with an
index, or `pytorch_model.bin`, plus an optional `config.json`), or `hf://org/repo/file` (fetched through
huggingface_hub when online).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import warnings
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from torch import Tensor, nn

from titan_eval.errors import CheckpointError
from titan_eval.file_digests import file_sha256
from titan_eval.pickle_globals import imported_globals, pickle_bytes
from titan_eval.textfiles import one_line

STATE_DICT_ENTRIES = ("model", "model_state_dict", "state_dict")
STRIPPED_PREFIXES = ("_orig_mod.", "module.")
TENSOR_GLOBALS = ("torch.", "collections.OrderedDict", "_codecs.encode")
"""Globals every weights-only torch pickle may use (prefixes); the others are named when a file is refused."""


@dataclass(frozen=True)
class CheckpointFiles:
    """Where a checkpoint's tensors (and optional HF-style config) live; `sha256` covers all weight files."""

    weights: tuple[Path, ...]
    config: dict[str, Any] | None
    sha256: str


def _fetch_hf(spec: str) -> Path:
    """hf://org/repo/path/in/repo → a local cached file (needs network or a populated HF cache)."""
    parts = spec[len("hf://") :].split("/")
    if len(parts) < 3:
        raise CheckpointError(f"checkpoint {spec!r}: expected hf://org/repo/file")
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:])))
    except Exception as err:  # network, auth, missing file: all one user-facing failure
        raise CheckpointError(f"checkpoint {spec!r} could not be fetched: {type(err).__name__}: {err}") from err


def locate(spec: str | Path) -> CheckpointFiles:
    """Resolve a checkpoint spec to its weight files and config; `CheckpointError` if absent."""
    path = _fetch_hf(spec) if isinstance(spec, str) and spec.startswith("hf://") else Path(spec).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    config = None
    if path.is_dir():
        if (path / "config.json").exists():
            config = json.loads((path / "config.json").read_text())
        index = path / "model.safetensors.index.json"
        if index.exists():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            weights = tuple(path / s for s in shards)
        else:
            found = [path / n for n in ("model.safetensors", "pytorch_model.bin", "model.pt") if (path / n).exists()]
            if not found:
                raise CheckpointError(f"checkpoint directory {path} holds no model.safetensors or pytorch_model.bin")
            weights = (found[0],)
    else:
        weights = (path,)
    digest = hashlib.sha256()
    shas = [file_sha256(w) for w in weights]
    for one in shas:
        digest.update(one.encode())
    sha = shas[0] if len(weights) == 1 else digest.hexdigest()
    return CheckpointFiles(weights=weights, config=config, sha256=sha)


def read_file(path: Path, trust: bool = False, safe_globals: Iterable[Any] = ()) -> Any:
    """Load one weight file. Pickles go through torch's weights-only unpickler (plus `safe_globals`) unless
    `trust` is set; a refusal is a `CheckpointError` that names what the pickle asked for and says how to
    proceed; a truncated or corrupt file is one sentence with its size."""
    if path.suffix == ".safetensors":
        from titan_eval.mapped_weights import map_safetensors

        try:
            return map_safetensors(path)
        except Exception as err:
            raise _unreadable(path, "safetensors file", err) from err
    globals_list = list(safe_globals)
    ctx = torch.serialization.safe_globals(globals_list) if globals_list else nullcontext()
    try:
        with ctx, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=not trust, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        raise _refusal(path, err, globals_list) from err
    except Exception as err:
        raise _unreadable(path, "checkpoint", err) from err


def _refusal(path: Path, err: pickle.UnpicklingError, allowed: list[Any]) -> CheckpointError:
    """The weights-only unpickler's refusal, naming the globals the file asked for: from torch's message, else
    read from the pickle's opcodes (torch stops at an opcode it does not support before reaching any global)."""
    named = list(dict.fromkeys(re.findall(r"GLOBAL ([\w.]+)", str(err))))
    if not named:
        allowed_names = {f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', '')}" for g in allowed}
        allowed_names |= {g[1] for g in allowed if isinstance(g, tuple)}
        named = [g for g in imported_globals(pickle_bytes(path))
                 if not g.startswith(TENSOR_GLOBALS) and g not in allowed_names]
    if named:
        what = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    else:
        lines = str(err).strip().splitlines()
        detail = next((ln for ln in lines if "Unsupported" in ln), lines[0] if lines else "").strip()
        what = f"objects beyond tensors ({detail})"
    return CheckpointError(f"{path}: refusing to unpickle {what} (a checkpoint read without trust may hold "
                           "tensors and plain data only); pass --trust-checkpoint only if you trust where this "
                           "file came from")


def _unreadable(path: Path, kind: str, err: Exception) -> CheckpointError:
    """One sentence for a file the reader cannot parse: its size and the reader's first clause, not the reader's
    paragraph of advice."""
    try:
        size = f"{path.stat().st_size:,} bytes"
    except OSError:
        size = "size unknown"
    first = one_line(err).split(". ")[0].rstrip(".")[:160] or type(err).__name__
    return CheckpointError(f"{path}: not a readable {kind}; it looks truncated or corrupt ({size}; {first})")


def extract_state_dict(obj: Any, entries: Iterable[str] = STATE_DICT_ENTRIES) -> dict[str, Tensor]:
    """The tensor mapping inside a loaded checkpoint: the object itself or its first `entries` key found,
    with `_orig_mod.` / `module.` prefixes stripped."""
    if isinstance(obj, Mapping):
        for key in entries:
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(
            f"checkpoint holds no state dict (looked for the file itself or an entry among {list(entries)})"
        )
    return {strip_prefixes(k): v for k, v in obj.items()}


def strip_prefixes(key: str) -> str:
    """Remove torch.compile / DataParallel prefixes, repeatedly."""
    changed = True
    while changed:
        changed = False
        for prefix in STRIPPED_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


@dataclass
class KeyReport:
    """Differences between a checkpoint's tensors and a module's state dict."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    misshaped: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped)

    def summary(self, limit: int = 3) -> str:
        """One line: counts and the first `limit` names of each kind."""

        def part(label: str, names: list[str]) -> str:
            more = f", +{len(names) - limit} more" if len(names) > limit else ""
            return f"{len(names)} {label} ({', '.join(names[:limit])}{more})"

        pieces = []
        if self.missing:
            pieces.append(part("missing", self.missing))
        if self.unexpected:
            pieces.append(part("unexpected", self.unexpected))
        if self.misshaped:
            shown = [f"{k}: checkpoint {list(c)} vs model {list(m)}" for k, c, m in self.misshaped]
            pieces.append(part("mis-shaped", shown))
        return "; ".join(pieces)


def compare_keys(expected: Mapping[str, Tensor], given: Mapping[str, Tensor]) -> KeyReport:
    """Key-set and shape comparison (order of the expected mapping is kept in the report)."""
    report = KeyReport()
    for key, tensor in expected.items():
        if key not in given:
            report.missing.append(key)
        elif tuple(given[key].shape) != tuple(tensor.shape):
            report.misshaped.append((key, tuple(given[key].shape), tuple(tensor.shape)))
    report.unexpected = [k for k in given if k not in expected]
    return report


def check_fits(model: nn.Module, state_dict: Mapping[str, Tensor], source: str = "checkpoint") -> None:
    """`CheckpointError` with the readable report unless `state_dict` has exactly `model`'s keys and shapes (a
    model on the meta device works: only shapes are read)."""
    report = compare_keys(model.state_dict(), state_dict)
    if not report.ok:
        raise CheckpointError(f"{source} does not fit {type(model).__name__}: {report.summary()}")


def load_strict(model: nn.Module, state_dict: Mapping[str, Tensor], source: str = "checkpoint") -> None:
    """Copy `state_dict` into `model` (dtype converted to each parameter's), requiring an exact key set and
    shapes; `CheckpointError` with the readable report otherwise."""
    check_fits(model, state_dict, source)
    expected = model.state_dict()
    with torch.no_grad():
        for key, target in expected.items():
            target.copy_(state_dict[key].to(dtype=target.dtype))
