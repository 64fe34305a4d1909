"""`titan-eval run`: evaluate one loaded model on tasks in one or more modes and store the run.

Data flow: validate options → seed → each task produces a `TaskOutput` (lm-eval tasks per mode through
`tasks.lm_eval_run`, then each lm-eval group of theirs from its leaves' results by `tasks.group_results`; native
suites through their runner in `tasks.catalog.NATIVE_TASKS`) → its lines go to
samples.jsonl as soon as it finishes → one `RunRecord` (lm-eval layout + provenance) is written as run.json.
No task touches the record; the runner assembles it from what the tasks return.
"""

from __future__ import annotations

import importlib
import signal
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from titan_eval.distributed import SINGLE, Dist, broadcast, exchange
from titan_eval.errors import ModelError, RunInterrupted
from titan_eval.interrupts import uninterruptible
from titan_eval.loading import LoadedModel
from titan_eval.progress import ProgressLike, RunProgress, as_progress
from titan_eval.provenance import environment
from titan_eval.records import RunRecord, TaskOutput
from titan_eval.run_lock import RunLock
from titan_eval.run_options import MODES, RunOptions  # noqa: F401 (re-exported)
from titan_eval.seeding import seed_everything
from titan_eval.store import RunWriter, make_run_id
from titan_eval.tasks.catalog import NATIVE_TASKS, SHARDED_NATIVE_TASKS, quiet_libraries


def run(loaded: LoadedModel, options: RunOptions, progress: ProgressLike = None,
        dist: Dist = SINGLE, lock: RunLock | None = None,
        suites: dict[Any, Any] | None = None) -> tuple[Path | None, RunRecord]:
    """Evaluate and store; returns (run folder, record). `progress` (a `progress.RunProgress`, or a callable told
    about generated tokens only) hears of every task's documents and of generated tokens.

    A failure after the run folder exists leaves run.json with `status: error` and the message, and every sample
    line written so far; documents with non-finite log-likelihoods fail the run (`ModelError`, exit 3) after it
    finished scoring, unless `allow_invalid`. A `KeyboardInterrupt` (Ctrl-C, or `RunInterrupted` from a signal the
    CLI caught) leaves `status: interrupted` instead; `RunInterrupted.run_dir` then names the folder. The folder's
    lock is released however the run ends, unless the caller took it and handed it in (`lock`, for
    `options.output_dir`; the CLI locks before the model loads), which it then releases itself.

    Distributed (`dist.active`): every rank evaluates its shard of the lm-eval documents and receives all lines;
    only rank 0 has a run folder and writes (other ranks return (None, record)); reasoning85 and fact_margins
    shard their items too, bpb runs on rank 0 only. A failure on any rank fails every rank (`RankFailure`) and
    rank 0 marks the run `error`.

    `suites`: a dict the caller keeps across runs (`titan-eval sweep`): the lm-eval tasks built for the same task
    names, data, few-shot and generation settings are taken from it instead of being built again."""
    quiet_libraries()  # before lm-eval / datasets / tqdm are imported
    options.validate()
    progress = as_progress(progress)
    started = time.time()
    seeds = seed_everything(options.seed)
    model_provenance = loaded.provenance()
    identity = {"options": options.identity(), "model": model_provenance}
    writer = _writer(loaded, options, identity, dist, lock)
    code = _code_session(options)
    try:
        writer.write_status("running")
        outputs, timings = _run_tasks(loaded, options, writer, progress, dist, suites)
        timings["total_s"] = round(time.time() - started, 3)
        invalid = {r.key: list(r.meta.get("invalid_docs") or []) for o in outputs for r in o.results}
        invalid = {k: v for k, v in invalid.items() if v}
        if invalid and not options.allow_invalid:
            named = "; ".join(f"{k}: doc ids {', '.join(map(str, v[:20]))}{' …' if len(v) > 20 else ''}"
                              for k, v in invalid.items())
            raise ModelError(f"non-finite log-likelihoods (NaN/Inf logits) in {sum(map(len, invalid.values()))} "
                             f"document(s) — {named}; rerun with --allow-invalid to score the others")
        extra: dict[str, Any] = {"resumed_docs": len(writer.previous)} if writer.previous else {}
        if code is not None:
            extra["code"] = code.record()
        if options.telemetry:
            from titan_eval.telemetry.report import run_telemetry

            extra["telemetry"] = run_telemetry(loaded, options, writer.dir) if dist.is_main else {}
        if dist.active:
            extra["distributed"] = dist.to_dict()
            writer.rewrite_samples([ln for o in outputs for ln in o.lines])  # selection order, as one process
        record = RunRecord(
            run_id=writer.run_id, status="complete", results=tuple(r for o in outputs for r in o.results),
            created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            options={**asdict(options), "tasks": list(options.tasks), "modes": list(options.modes)},
            model=model_provenance, seeds=seeds, environment=environment(), timings=timings,
            config={"model": "titan-eval", "model_args": model_args(loaded.card.name, options),
                    "batch_size": options.batch_size, "limit": options.limit, "bootstrap_iters": 100000,
                    **{k: v for k, v in seeds.items() if k != "seed"}},
            extra={"scoring": scoring_mode(options), **extra})
        writer.write_run(record)
    except KeyboardInterrupt as err:  # a stop signal (RunInterrupted) or Ctrl-C: resumable, not a failure
        if isinstance(err, RunInterrupted) and dist.is_main:
            err.run_dir = writer.dir
        by = err.signum if isinstance(err, RunInterrupted) else signal.SIGINT
        try:
            with uninterruptible():
                writer.write_status("interrupted", {"interrupted_by": signal.Signals(by).name})
        except RunInterrupted:  # a second signal while the first is handled: the run is stopping already
            pass
        raise
    except BaseException as err:
        writer.write_status("error", {"error": f"{type(err).__name__}: {err}"})
        raise
    finally:
        writer.close()
    return (writer.dir if dist.is_main else None), record


def _code_session(options: RunOptions) -> Any:
    """A fresh `code.session.CodeSession` for a run with code tasks (their sandbox and limits), else None (and
    no session left from an earlier run in this process)."""
    from titan_eval.code.session import configure, reset

    if not options.code_tasks():
        reset()
        return None
    return configure(options.code_settings())


def model_args(card: str, options: RunOptions) -> str:
    """lm-eval's `model_args` string for this run (`lm_eval --model titan-eval --model_args ...`)."""
    return f"card={card}" + (",deterministic=true" if options.deterministic else "")


def scoring_mode(options: RunOptions) -> dict[str, Any]:
    """run.json's `titan_eval.scoring`: which engine path produced the numbers (`engine.invariance`)."""
    if options.deterministic:
        return {"deterministic": True, "rows_per_model_call": 1,
                "batch_invariant": "bitwise: one request per model call, whatever batch_size says"}
    return {"deterministic": False, "rows_per_model_call": options.batch_size,
            "batch_invariant": "up to float rounding: batched and padded calls"}


def _writer(loaded: LoadedModel, options: RunOptions, identity: dict[str, Any], dist: Dist,
            lock: RunLock | None = None) -> RunWriter:
    """Rank 0's run folder; other ranks get a writer that writes nothing but knows the resumed lines. A rank 0
    that cannot open the folder (e.g. a run to resume that does not match) fails every rank."""
    if not dist.active:
        return RunWriter(Path(options.output_dir) if options.output_dir else None,
                         make_run_id(loaded.card.name, options.seed), identity, options.resume, lock)
    writer: RunWriter | None = None
    error = None
    if dist.is_main:
        try:
            writer = RunWriter(Path(options.output_dir) if options.output_dir else None,
                               make_run_id(loaded.card.name, options.seed), identity, options.resume, lock)
        except Exception as err:  # reported to every rank
            error = err
    exchange(dist, None, error)
    previous = broadcast(dist, writer.previous if writer is not None else None)
    return writer if writer is not None else NullWriter(previous)


class NullWriter(RunWriter):
    """A non-zero rank's writer: holds the lines rank 0 resumes from, writes nothing."""

    def __init__(self, previous: list[dict[str, Any]]) -> None:  # no folder: nothing of RunWriter's set-up
        self.run_id, self.dir, self.previous = "", Path(), list(previous)

    def keep_previous(self, keep: Any) -> None:
        self.previous = [dict(x) for x in keep]

    def add_samples(self, lines: Any) -> None:
        return None

    def rewrite_samples(self, lines: Any) -> None:
        return None

    def write_status(self, status: str, extra: Any = None) -> Path:
        return self.dir

    def write_run(self, record: RunRecord) -> Path:
        return self.dir

    def close(self) -> None:
        return None


def _run_tasks(loaded: LoadedModel, options: RunOptions, writer: RunWriter, progress: RunProgress,
               dist: Dist = SINGLE, suites: dict[Any, Any] | None = None) -> tuple[list[TaskOutput], dict[str, float]]:
    """Every task's output, lines appended as they finish; a resumed run reuses its completed lm-eval chunks and
    reruns native suites whole (sharded across ranks where `SHARDED_NATIVE_TASKS` says so, else on rank 0)."""
    from titan_eval.tasks.lm_eval_run import completed_chunks

    include = Path(options.include_path) if options.include_path else None
    lm_names = [t for t in options.tasks if t not in NATIVE_TASKS]
    suite = None
    if lm_names:  # built once for every mode and the resume check (task building reads and converts the data)
        from titan_eval.tasks.catalog import load_lm_eval_suite
        from titan_eval.tasks.fewshot import FewShot

        fewshot = FewShot(options.num_fewshot, options.effective_fewshot_seed)
        built_for = (tuple(lm_names), options.data_dir, str(include), fewshot, options.gen_kwargs)
        suite = (suites or {}).get(built_for)
        if suite is None:
            suite = load_lm_eval_suite(lm_names, options.data_dir, include, fewshot, options.gen_kwargs)
            if suites is not None:
                suites[built_for] = suite
    task_dict: dict[str, Any] = dict(suite.tasks) if suite is not None else {}
    lm_tasks = list(task_dict)  # tags and groups → their tasks
    selections = _group_selections(suite, options)
    lm_keys = {t if m == "ll" else f"{t}_cot" for t in lm_tasks for m in options.modes}
    previous: dict[str, list[dict[str, Any]]] = {}
    for line in writer.previous:
        if line.get("task") in lm_keys:
            previous.setdefault(line["task"], []).append(line)
    if writer.previous:
        previous = {k: _whole_chunks(task_dict, options, k, v, completed_chunks, selections)
                    for k, v in previous.items()}
        writer.keep_previous([ln for v in previous.values() for ln in v])
    outputs: list[TaskOutput] = []
    timings: dict[str, float] = {}
    for mode in options.modes if lm_tasks else ():
        from titan_eval.tasks.lm_eval_run import run_lm_eval_tasks

        t0 = time.time()
        done = run_lm_eval_tasks(loaded, options, mode, lm_tasks, previous, writer.add_samples, progress, dist,
                                 task_dict, selections)
        outputs += done
        if suite is not None and suite.groups:
            from titan_eval.tasks.group_results import group_results

            leaves = [r for o in done for r in o.results]
            outputs.append(TaskOutput((), tuple(group_results(suite.groups, leaves, mode))))
        timings[f"lm_eval_{mode}_s"] = round(time.time() - t0, 3)
    for name in (t for t in options.tasks if t in NATIVE_TASKS and (dist.is_main or t in SHARDED_NATIVE_TASKS)):
        module_name, fn_name = NATIVE_TASKS[name].split(":")
        t0 = time.time()
        progress.task_started(name, None)  # native suites run whole: their start and finish are what is known
        fn = getattr(importlib.import_module(module_name), fn_name)
        suite_options = replace(options, batch_size=options.engine_batch_size)  # --deterministic: one row per call
        output = fn(loaded, suite_options, dist) if name in SHARDED_NATIVE_TASKS else fn(loaded, suite_options)
        timings[name] = round(time.time() - t0, 3)
        writer.add_samples(output.lines)
        progress.task_finished(name)
        outputs.append(output)
    return outputs, timings


def _group_selections(suite: Any, options: RunOptions) -> dict[str, Any]:
    """The documents of stratified groups' leaves (`tasks.selection.run_selections`); {} for everything else."""
    if suite is None:
        return {}
    from titan_eval.tasks.selection import run_selections

    return run_selections(suite.tasks, {g: suite.leaves(g) for g in suite.requested_groups}, options.limit,
                          options.stratify, options.seed)


def _whole_chunks(task_dict: Mapping[str, Any], options: RunOptions, key: str, lines: list[dict[str, Any]],
                  completed_chunks: Callable[..., set[Any]],
                  selections: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The lines of `key` that form whole write chunks of its document selection (the rest is redone)."""
    from titan_eval.tasks.selection import select_docs

    name = key[: -len("_cot")] if key.endswith("_cot") else key
    task = task_dict[name]
    chosen = (selections or {}).get(name)
    doc_ids = chosen.doc_ids if chosen is not None else \
        select_docs(name, task.eval_docs, options.limit, options.stratify, options.seed).doc_ids
    keep = completed_chunks(doc_ids, {ln["doc_id"] for ln in lines})
    return [ln for ln in lines if ln["doc_id"] in keep]
