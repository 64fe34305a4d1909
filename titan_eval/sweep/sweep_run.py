"""`titan-eval sweep`'s evaluation loop: every checkpoint not yet done, in step order, through the ordinary run
machinery (`runner.run`, with its resume), one run folder per step under the sweep folder, `sweep.json` updated
after each step.

Incremental: a step whose run folder holds a complete run of the same checkpoint file is not evaluated again; a
step left `running` (a killed sweep) resumes inside its run from the sample lines it wrote. The lm-eval tasks are
built once per sweep process (`runner.run`'s `suites`), the model once (`weights.ModelSlot`: later checkpoints are
copied into it). A checkpoint that does not fit the card, or a run that fails with a model error, fails only its
step (status `error`, the message kept); the sweep goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from titan_eval.errors import IncomparableRunsError, ModelError
from titan_eval.models.registry import get_architecture
from titan_eval.run_lock import RunLock
from titan_eval.run_options import RunOptions
from titan_eval.sweep.discovery import Checkpoint, discover
from titan_eval.sweep.sweep_record import FINGERPRINT_FIELDS, StepEntry, SweepRecord, check_same_sweep, read_record
from titan_eval.sweep.weights import LoadSettings, ModelSlot

Notice = Callable[[str], None]


@dataclass(frozen=True)
class SweepConfig:
    """specs: `--checkpoints` values; options: the run options every step shares (their `output_dir` unused);
    step_regex: None = the checkpoint's step field, else its name's last number; settle_s: how long discovery
    watches sizes for files still being written."""

    specs: tuple[str, ...]
    folder: Path
    options: RunOptions
    load: LoadSettings
    step_regex: str | None = None
    settle_s: float = 1.0


@dataclass
class SweepOutcome:
    """What one `sweep` invocation did: steps evaluated now, steps failed now (step → message), files skipped
    (path → reason), models built, and the record as it stands."""

    record: SweepRecord
    evaluated: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    builds: int = 0


def run_folder_name(step: int) -> str:
    """`step_0000030000`: zero-padded so folders sort in step order."""
    return f"step_{step:010d}"


def _stored_status(run_dir: Path) -> tuple[str | None, str | None]:
    """(status, checkpoint path) of the run.json in `run_dir`; (None, None) without one."""
    path = run_dir / "run.json"
    if not path.exists():
        return None, None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    section = raw.get("titan_eval") or {}
    return section.get("status"), ((section.get("model") or {}).get("checkpoint"))


def _fingerprints(run_dir: Path) -> dict[str, dict[str, Any]]:
    raw = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    tasks = (raw.get("titan_eval") or {}).get("tasks") or {}
    return {k: {f: v.get(f) for f in FINGERPRINT_FIELDS} for k, v in tasks.items()}


def check_fingerprints(record: SweepRecord, step: int, found: dict[str, dict[str, Any]]) -> None:
    """`IncomparableRunsError` (exit 2) naming the key, field and both values when `found` differs from the
    sweep's fingerprints (`record.fingerprints`, taken from its first step)."""
    first = record.complete()[0].step if record.complete() else None
    for key, want in record.fingerprints.items():
        have = found.get(key)
        if have is None:
            raise IncomparableRunsError(f"step {step} has no result for {key}, which step {first} has")
        for name in FINGERPRINT_FIELDS:
            if have.get(name) != want.get(name):
                raise IncomparableRunsError(
                    f"step {step} is not comparable with step {first} on {key}: {name} {have.get(name)} vs "
                    f"{want.get(name)} (different {'text or probes' if name == 'data_sha256' else 'documents or prompts'});"
                    f" a sweep measures every step on the same data")


def _done(record: SweepRecord, ckpt: Checkpoint, folder: Path) -> bool:
    """Whether `ckpt`'s step is already evaluated: its run folder holds a complete run. A checkpoint of the same
    step with another size than the one evaluated is refused (`UsageError`); the same file moved elsewhere is the
    same step (paths are recorded, not compared)."""
    entry = record.entry(ckpt.step)
    status, _ = _stored_status(folder / run_folder_name(ckpt.step))
    if entry is not None and entry.size is not None and entry.size != ckpt.size:
        from titan_eval.errors import UsageError

        raise UsageError(f"step {ckpt.step}: {ckpt.path} ({ckpt.size} bytes) is not the checkpoint the sweep "
                         f"evaluated for it ({entry.checkpoint}, {entry.size} bytes); sweep it into another --output")
    return status == "complete" and (entry is None or entry.status == "complete")


def run_sweep(config: SweepConfig, progress: Any = None, notice: Notice = lambda _: None,
              slot: ModelSlot | None = None) -> SweepOutcome:
    """Evaluate the sweep's new checkpoints (module docstring) and return what happened. `slot`: a model slot to
    reuse (tests, or a caller sweeping repeatedly in one process); `notice` hears one line per skipped file and
    failed step. `IncomparableRunsError` when a step's fingerprints differ from the sweep's (that step is marked
    `incomparable`); `KeyboardInterrupt` leaves the step `running`, resumable."""
    from titan_eval.runner import run

    folder = config.folder
    folder.mkdir(parents=True, exist_ok=True)
    card = config.load.card
    card_name = card.name if hasattr(card, "name") else str(card)
    identity = config.options.identity()
    lock = RunLock.acquire(folder)
    try:
        record = read_record(folder)
        if record is None:
            record = SweepRecord(card_name, config.options.tasks, identity)
        check_same_sweep(record, card_name, identity, folder)
        record.write(folder)
        arch = get_architecture(card.arch) if hasattr(card, "arch") else None
        known = {Path(e.checkpoint).name: (e.size, e.step) for e in record.steps if e.size is not None}
        found = discover(config.specs, config.step_regex, config.settle_s, config.load.trust,
                         arch.safe_globals if arch is not None else (), known)
        slot = slot or ModelSlot(config.load)
        builds_before = slot.builds
        outcome = SweepOutcome(record, skipped={str(p): why for p, why in found.skipped})
        for path, why in found.skipped:
            notice(f"skipped {path}: {why}; the next sweep picks it up")
        suites: dict[Any, Any] = {}
        for ckpt in found.checkpoints:
            if _done(record, ckpt, folder):
                continue
            record = _evaluate_step(config, record, ckpt, slot, suites, progress, outcome, notice, run)
            outcome.record = record
        outcome.builds = slot.builds - builds_before
        return outcome
    finally:
        lock.release()


def _evaluate_step(config: SweepConfig, record: SweepRecord, ckpt: Checkpoint, slot: ModelSlot,
                   suites: dict[Any, Any], progress: Any, outcome: SweepOutcome, notice: Notice,
                   run: Callable[..., Any]) -> SweepRecord:
    """One step: mark it running, load its weights, run (resuming what a killed sweep left), check its
    fingerprints against the sweep's; returns the updated record (written)."""
    folder = config.folder
    name = run_folder_name(ckpt.step)
    entry = StepEntry(ckpt.step, str(ckpt.path), name, "running", ckpt.step_source, ckpt.size)
    record = record.with_entry(entry)
    record.write(folder)
    status, _ = _stored_status(folder / name)
    try:
        if status != "complete":  # a run killed after run.json said complete but before sweep.json did: keep it
            loaded = slot.load(ckpt.path)
            run(loaded, replace(config.options, output_dir=str(folder / name)), progress, suites=suites)
    except ModelError as err:  # does not fit, unreadable, NaN logits: this step only
        record = record.with_entry(replace(entry, status="error", error=str(err)))
        record.write(folder)
        outcome.failed[ckpt.step] = str(err)
        notice(f"step {ckpt.step} ({ckpt.path}) failed: {err}")
        return record
    prints = _fingerprints(folder / name)
    sha = json.loads((folder / name / "run.json").read_text())["titan_eval"]["model"].get("checkpoint_sha256")
    try:
        check_fingerprints(record, ckpt.step, prints)
    except IncomparableRunsError as err:
        record.with_entry(replace(entry, status="incomparable", error=str(err), checkpoint_sha256=sha)).write(folder)
        raise
    if not record.fingerprints:
        record = replace(record, fingerprints=prints)
    record = record.with_entry(replace(entry, status="complete", checkpoint_sha256=sha))
    record.write(folder)
    outcome.evaluated.append(ckpt.step)
    return record
