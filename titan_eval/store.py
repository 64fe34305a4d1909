"""Writing a run: `results/<run_id>/run.json` (lm-eval layout + a `titan_eval` section) and `samples.jsonl`,
one line per document, appended as tasks finish. Layout: docs/results-format.md."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any, Iterable

from titan_eval.errors import UsageError
from titan_eval.paths import RESULTS_DIR

SCHEMA_VERSION = 1


def make_run_id(card_name: str, seed: int) -> str:
    """<UTC time>-<card>-s<seed>; unique enough per second and readable."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]+', '_', card_name)}-s{seed}"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf → None, tuples → lists, numpy/torch scalars → Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return _clean(value.item())
        except (ValueError, RuntimeError):
            return str(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


class RunWriter:
    """Creates the run folder; appends sample lines; writes run.json (atomically) at the end."""

    def __init__(self, out_dir: Path | None, run_id: str) -> None:
        self.run_id = run_id
        self.dir = Path(out_dir) if out_dir is not None else RESULTS_DIR / run_id
        if (self.dir / "run.json").exists():
            raise UsageError(f"{self.dir} already holds a run; choose another --output")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.samples_path = self.dir / "samples.jsonl"
        self.samples_path.write_text("")

    def add_samples(self, lines: Iterable[dict[str, Any]]) -> None:
        with open(self.samples_path, "a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(_clean(line), ensure_ascii=False, sort_keys=True) + "\n")

    def write_run(self, run: dict[str, Any]) -> Path:
        path = self.dir / "run.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_clean(run), indent=2, ensure_ascii=False, sort_keys=False) + "\n")
        tmp.replace(path)
        return path
