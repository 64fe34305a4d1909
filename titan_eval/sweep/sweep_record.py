"""`sweep.json`: what a sweep folder holds (docs/results-format.md "sweep.json"): the card, the run options every
step shares, the per-key fingerprints every step must match, and one entry per step with its checkpoint and run
folder. Written atomically after every step, so a killed sweep knows every step it finished."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from titan_eval.errors import DataError, UsageError
from titan_eval.store import atomic_write_json, clean_json

SCHEMA = "titan-eval/sweep/v1"
FILE = "sweep.json"
FINGERPRINT_FIELDS = ("data_sha256", "prompt_sha256", "doc_ids_sha256", "mode", "scorer")


@dataclass(frozen=True)
class StepEntry:
    """One checkpoint of the sweep.

    step: the training step; step_source: `field` (the checkpoint's own) or `name` (`--step-regex`);
    checkpoint: its resolved path; size: its bytes when evaluated; checkpoint_sha256: from the run;
    run: the run folder, relative to the sweep folder; status: complete | error | running (being evaluated or
    killed: the next sweep resumes it) | incomparable (its fingerprints differ from the sweep's); error: the
    message of a failed step."""

    step: int
    checkpoint: str
    run: str
    status: str
    step_source: str = "name"
    size: int | None = None
    checkpoint_sha256: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SweepRecord:
    """The whole sweep.json. `options`: `RunOptions.identity()` shared by every step; `fingerprints`: {key:
    {field: value}} of the first completed step, which every later step must equal."""

    card: str
    tasks: tuple[str, ...]
    options: Mapping[str, Any]
    fingerprints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    steps: tuple[StepEntry, ...] = ()
    schema: str = SCHEMA

    def entry(self, step: int) -> StepEntry | None:
        return next((e for e in self.steps if e.step == step), None)

    def with_entry(self, new: StepEntry) -> "SweepRecord":
        """This record with `new` replacing the entry of its step (or added), steps kept in step order."""
        kept = [e for e in self.steps if e.step != new.step]
        return replace(self, steps=tuple(sorted([*kept, new], key=lambda e: e.step)))

    def complete(self) -> list[StepEntry]:
        return [e for e in self.steps if e.status == "complete"]

    def to_json(self) -> dict[str, Any]:
        return clean_json({"schema": self.schema, "updated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "card": self.card, "tasks": list(self.tasks), "options": dict(self.options),
                           "fingerprints": {k: dict(v) for k, v in self.fingerprints.items()},
                           "steps": [{k: v for k, v in asdict(e).items() if v is not None} for e in self.steps]})

    def write(self, folder: Path) -> Path:
        return atomic_write_json(folder / FILE, self.to_json())


def read_record(folder: Path) -> SweepRecord | None:
    """The sweep.json in `folder`, None when there is none; `DataError` naming the file when it is malformed."""
    path = folder / FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("schema") != SCHEMA:
            raise DataError(f"{path}: schema {raw.get('schema')!r}, expected {SCHEMA}")
        steps = tuple(StepEntry(**{k: v for k, v in s.items() if k in StepEntry.__dataclass_fields__})
                      for s in raw["steps"])
        return SweepRecord(raw["card"], tuple(raw["tasks"]), raw["options"], raw.get("fingerprints") or {}, steps)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{path}: not a readable sweep record ({type(err).__name__}: {err})") from err


def check_same_sweep(record: SweepRecord, card: str, options: Mapping[str, Any], folder: Path) -> None:
    """`UsageError` naming what differs when a sweep is re-run into `folder` with another card or other run
    options than the steps it holds were evaluated with (their numbers could not be compared)."""
    options, stored = clean_json(dict(options)), clean_json(dict(record.options))
    if record.card != card:
        raise UsageError(f"{folder} holds a sweep of card {record.card}, not {card}; choose another --output")
    differs = sorted(k for k in set(stored) | set(options) if stored.get(k) != options.get(k))
    if differs:
        detail = "; ".join(f"{k}: {stored.get(k)!r} then, {options.get(k)!r} now" for k in differs)
        raise UsageError(f"{folder}: its steps were evaluated with different run options ({detail}); "
                         "choose another --output for a new sweep")
