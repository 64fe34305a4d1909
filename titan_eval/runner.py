"""`titan-eval run`: evaluate one loaded model on tasks in one or more modes and store the run.

Data flow: seed → select docs per task → lm-eval `evaluate` with `TitanEvalLM` (mode ll, or think for `cot`)
→ per-document lines into samples.jsonl → run.json (lm-eval layout + provenance). Native suites plug in through
`titan_eval.tasks.catalog.NATIVE_TASKS` and write through the same `RunWriter`.
"""

from __future__ import annotations

import importlib
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from titan_eval.errors import DataError, UsageError
from titan_eval.loading import LoadedModel
from titan_eval.provenance import environment
from titan_eval.seeding import seed_everything
from titan_eval.store import SCHEMA_VERSION, RunWriter, make_run_id
from titan_eval.tasks import data as task_data
from titan_eval.tasks.catalog import (NATIVE_TASKS, check_task_names, lm_eval_task_names, load_lm_eval_tasks,
                                      quiet_libraries)
from titan_eval.tasks.fingerprint import sha256_json
from titan_eval.tasks.mc_samples import mc_sample_lines
from titan_eval.tasks.selection import select_docs
from titan_eval.think_stats import think_statistics

MODES = ("ll", "cot")


@dataclass(frozen=True)
class RunOptions:
    """Everything about a run that is not the model."""

    tasks: tuple[str, ...]
    modes: tuple[str, ...] = ("ll",)
    data_dir: str | None = None
    limit: int | None = None
    stratify: bool = False
    seed: int = 0
    batch_size: int = 8
    reuse_prefix: bool = True
    output_dir: str | None = None
    think: dict[str, Any] = field(default_factory=dict)  # ThinkOptions overrides for cot
    telemetry: bool = False  # extra mechanistic telemetry (titan_eval.telemetry.report) beside the results
    native: dict[str, Any] = field(default_factory=dict)  # options for native suites (suite/probes files, text)


def run(loaded: LoadedModel, options: RunOptions,
        progress: Callable[[int], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """Evaluate and store; returns (run folder, run.json content). `progress(n)` hears of generated tokens."""
    quiet_libraries()  # before lm-eval / datasets / tqdm are imported
    check_task_names(list(options.tasks))
    bad = [m for m in options.modes if m not in MODES]
    if bad:
        raise UsageError(f"unknown mode(s) {', '.join(bad)}; use ll and/or cot")
    started = time.time()
    seeds = seed_everything(options.seed)
    writer = RunWriter(Path(options.output_dir) if options.output_dir else None, make_run_id(loaded.card.name, options.seed))
    record: dict[str, Any] = {"results": {}, "n-samples": {}, "versions": {}, "higher_is_better": {}, "configs": {}}
    tasks_meta: dict[str, Any] = {}
    timings: dict[str, float] = {}
    lm_tasks = [t for t in options.tasks if t in lm_eval_task_names()]
    native = [t for t in options.tasks if t in NATIVE_TASKS]
    for mode in options.modes:
        if lm_tasks:
            _run_lm_eval(loaded, options, mode, lm_tasks, writer, record, tasks_meta, timings, progress)
    for name in native:
        module_name, fn_name = NATIVE_TASKS[name].split(":")
        runner = getattr(importlib.import_module(module_name), fn_name)
        t0 = time.time()
        runner(loaded, options, writer, record, tasks_meta)
        timings[name] = round(time.time() - t0, 3)
    timings["total_s"] = round(time.time() - started, 3)
    record["config"] = {"model": "titan-eval", "model_args": f"card={loaded.card.name}", "batch_size": options.batch_size,
                        "limit": options.limit, "bootstrap_iters": 100000, **{k: v for k, v in seeds.items() if k != "seed"}}
    record["titan_eval"] = {
        "schema_version": SCHEMA_VERSION, "run_id": writer.run_id, "status": "complete",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "options": {**asdict(options), "tasks": list(options.tasks), "modes": list(options.modes)},
        "tasks": tasks_meta, "model": loaded.provenance(), "seeds": seeds, "environment": environment(),
        "timings": timings,
    }
    if options.telemetry:
        from titan_eval.telemetry.report import run_telemetry

        record["titan_eval"]["telemetry"] = run_telemetry(loaded, options, writer.dir)
    writer.write_run(record)
    return writer.dir, record


def _run_lm_eval(loaded: LoadedModel, options: RunOptions, mode: str, names: list[str], writer: RunWriter,
                 record: dict[str, Any], tasks_meta: dict[str, Any], timings: dict[str, float],
                 progress: Callable[[int], None] | None = None) -> None:
    from lm_eval.evaluator import evaluate

    from titan_eval.adapter import TitanEvalLM

    task_dict = load_lm_eval_tasks(names, options.data_dir)
    selections = {n: select_docs(n, task_dict[n].eval_docs, options.limit, options.stratify, options.seed) for n in names}
    lm = TitanEvalLM(loaded=loaded, batch_size=options.batch_size, mode="think" if mode == "cot" else "ll",
                     reuse_prefix=options.reuse_prefix, seed=options.seed, progress=progress,
                     **_think_kwargs(loaded, options, mode))
    t0 = time.time()
    with routing_recorder(loaded) as recorder:
        try:
            out = evaluate(lm, task_dict, samples={n: list(s.doc_ids) for n, s in selections.items()},
                           log_samples=True, bootstrap_iters=100000, verbosity="ERROR")
        except (KeyError, ValueError, TypeError) as err:
            raise DataError(f"lm-eval could not evaluate {', '.join(names)}: {type(err).__name__}: {err}") from err
    timings[f"lm_eval_{mode}_s"] = round(time.time() - t0, 3)
    for name in names:
        key = name if mode == "ll" else f"{name}_cot"
        lines = mc_sample_lines(task_dict[name], out["samples"][name], key, mode, lm.log)
        writer.add_samples(lines)
        result = dict(out["results"][name])
        result["alias"] = key
        record["results"][key] = result
        record["n-samples"][key] = {"original": selections[name].total, "effective": len(lines)}
        record["versions"][key] = out["versions"].get(name)
        record["higher_is_better"][key] = out.get("higher_is_better", {}).get(name, {})
        record["configs"][key] = out.get("configs", {}).get(name, {})
        files = task_data.USED_FILES.get(name, {})
        tasks_meta[key] = {
            "task": name, "mode": mode, "scorer": "lm-eval-mc-v1",
            "data_files": files, "data_sha256": sha256_json(sorted(files.values())) if files else "hub",
            "prompt_sha256": sha256_json([[ln["doc_id"], ln["prompt"], ln["choices"], ln["gold"]] for ln in lines]),
            "doc_ids_sha256": sha256_json([ln["doc_id"] for ln in lines]),
            "selection": selections[name].to_dict(),
            "forward_tokens": lm.counter.tokens,
        }
        if recorder is not None:
            tasks_meta[key]["routing"] = routing_summary(recorder, names)
        if lm.think_options is not None:
            tasks_meta[key]["think"] = lm.think_options.to_dict()
            traces = [t for ln in lines if "think" in ln for t in ln["think"].get("samples", [ln["think"]])]
            tasks_meta[key]["think_stats"] = think_statistics(traces, lm.think_options.think_budget)
            if lm.think_options.samples > 1:
                result.update(trace_accuracy(lines))


@contextmanager
def routing_recorder(loaded: LoadedModel) -> Iterator[Any]:
    """A RouteRecorder over every scored position while lm-eval runs, for models that route (else None)."""
    if not loaded.model.capabilities.routing:
        yield None
        return
    from titan_eval.telemetry.routing import RouteRecorder

    with RouteRecorder(loaded.model) as rec:
        yield rec


def routing_summary(recorder: Any, names: list[str]) -> dict[str, Any]:
    """Mean route weight per arm/expert (and pair frequencies, entropies) per routing layer, over all real
    positions of every forward pass of this mode's tasks (contexts and continuations; tasks pooled)."""
    layers = {layer: recorder.summary(layer).to_dict() for layer in recorder.layers}
    return {"span": "all real positions of every scoring forward pass", "tasks_pooled": names, "layers": layers}


def trace_accuracy(lines: list[dict[str, Any]]) -> dict[str, float]:
    """With K traces per doc: each doc's mean accuracy over its traces (argmax of the choice log-probs after
    each trace), then mean and standard error over docs ("acc_trace_mean")."""
    import numpy as np

    per_doc = []
    for ln in lines:
        table = ln["think"]["choice_logprobs"]
        k = len(next(iter(table.values())))
        preds = [int(np.argmax([table[i][j] for i in sorted(table)])) for j in range(k)]
        per_doc.append(np.mean([p == ln["gold"] for p in preds]))
    values = np.array(per_doc, dtype=float)
    stderr = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return {"acc_trace_mean,none": float(values.mean()), "acc_trace_mean_stderr,none": stderr}


def _think_kwargs(loaded: LoadedModel, options: RunOptions, mode: str) -> dict[str, Any]:
    if mode != "cot":
        return {}
    from titan_eval.think import ThinkOptions

    return {"think_options": ThinkOptions.from_card(loaded.card, **options.think)}
