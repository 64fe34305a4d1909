"""lm-eval's tasks (hellaswag, arc_*, titan_sample, and the catalogue's tasks of every output type) in one mode:
select documents, run lm-eval's `evaluate` with `TitanEvalLM` (ll, or think for cot), and turn its per-document
records into titan-eval sample lines (`tasks.request_lines`, by output type) and `TaskResult`s (one per task).
Multiple-choice results are aggregated from the lines' acc/acc_norm; the other types' from lm-eval's own
per-document values (`tasks.doc_metrics`), per filter, with the task's own aggregations.

Fingerprints: `data_sha256` covers exactly the files this task read for this data dir (`tasks.data.data_files`);
`prompt_sha256` covers every document's id, lm-eval prompt, choices and gold, and in cot mode also the think prompt
(so the choice-listing form and the plain form never compare as equal). A task whose YAML declares a cluster key
(`tasks.clusters`) records it on its result key, and its CIs are cluster-robust.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping, Sequence

from titan_eval.distributed import SINGLE, Dist, exchange, partition
from titan_eval.errors import DataError, UsageError
from titan_eval.loading import LoadedModel
from titan_eval.progress import ProgressLike, as_progress
from titan_eval.records import TaskFingerprint, TaskOutput, TaskResult
from titan_eval.tasks.catalog import load_lm_eval_tasks
from titan_eval.tasks.chunk_costs import cache_template_compilation, index_doc_iterator
from titan_eval.tasks.fewshot_draws import fewshot_states, replayed_draws
from titan_eval.tasks.clusters import declared_cluster_key
from titan_eval.tasks.data import data_files
from titan_eval.hashing import sha256_json
from titan_eval.tasks.doc_metrics import aggregate_raw, per_doc_values
from titan_eval.tasks.line_fields import SCORERS
from titan_eval.tasks.request_lines import sample_lines
from titan_eval.tasks.selection import Selection, select_docs
from titan_eval.think_stats import think_statistics

SCORER = SCORERS["multiple_choice"]
NO_COT_TYPES = {"loglikelihood_rolling": "a rolling log-likelihood has nothing to answer",
                "loglikelihood": "think mode lists a document's choices, and a loglikelihood task's one choice is "
                                 "its answer"}
"""Output types `--cot` refuses, and why."""
DOCS_PER_WRITE = 32
"""Documents per lm-eval `evaluate` call; their sample lines are appended (and fsync'd) when the call returns.
The chunks form a fixed grid over each task's selected documents, so a resumed run batches exactly as an
uninterrupted one."""
METRICS = ("acc", "acc_norm")


def chunk_grid(doc_ids: Sequence[Any]) -> list[list[Any]]:
    """The selected documents in write order, cut into `DOCS_PER_WRITE` chunks."""
    return [list(doc_ids[i:i + DOCS_PER_WRITE]) for i in range(0, len(doc_ids), DOCS_PER_WRITE)]


def completed_chunks(doc_ids: Sequence[Any], done: set[Any]) -> set[Any]:
    """The documents of every chunk that `done` covers entirely (a partly written chunk is redone)."""
    return {d for chunk in chunk_grid(doc_ids) if all(x in done for x in chunk) for d in chunk}


def run_lm_eval_tasks(loaded: LoadedModel, options: Any, mode: str, names: Sequence[str],
                      previous: Mapping[str, Sequence[dict[str, Any]]], sink: Callable[[list[dict[str, Any]]], None],
                      progress: ProgressLike = None, dist: Dist = SINGLE,
                      tasks: Mapping[str, Any] | None = None,
                      selections: Mapping[str, Selection] | None = None) -> list[TaskOutput]:
    """Evaluate `names` in `mode` (ll | cot) with one adapter; one `TaskOutput` per task, in `names` order.

    `previous[key]` are lines a resumed run already holds (whole chunks only, see `completed_chunks`): those
    documents are not run again. Every newly finished chunk's lines go to `sink` at once. `progress` hears of each
    task as `<name> [<mode>]` (resumed documents count as done from its start), of every chunk's documents once
    they are written, and of generated tokens. `tasks` are the lm-eval Task objects the run built once for all its
    modes (built here when None). `selections` are documents chosen for a task beforehand (a stratified group's
    leaves, `tasks.selection.run_selections`); any other task chooses its own (`select_docs`).

    With `dist.active`, each rank evaluates only its shard (`distributed.partition`, balanced by token cost) of
    the documents still to do, one chunk per round; after each round every rank holds every rank's lines (so
    all ranks return the same outputs) or, if any rank failed, raises `RankFailure`."""
    from titan_eval.adapter import TitanEvalLM

    progress = as_progress(progress)
    built = tasks if tasks is not None else load_lm_eval_tasks(list(names), options.data_dir)
    check_cot(built, names, options.modes)
    task_dict = {n: index_doc_iterator(built[n]) for n in names}
    cache_template_compilation()  # both: per-chunk costs of lm-eval's evaluate (tasks.chunk_costs)
    think = _think_options(loaded, options) if mode == "cot" else None
    open_think = _think_options(loaded, options, open_questions=True) if mode == "cot" else None
    knobs = options.think or {}
    lm = TitanEvalLM(loaded=loaded, batch_size=options.batch_size, mode="think" if mode == "cot" else "ll",
                     reuse_prefix=options.reuse_prefix, seed=options.seed, progress=progress.tokens,
                     think_options=think, open_think_options=open_think, deterministic=options.deterministic,
                     sampling={k: knobs[k] for k in ("temperature", "top_p", "top_k") if knobs.get(k) is not None})
    k_samples = int(knobs.get("samples") or 1)
    pass_ks = tuple(getattr(options, "pass_k", None) or sorted({1, k_samples}))
    for name in names:  # K samples per document of a generate task: lm-eval's own `repeats`
        if built[name].OUTPUT_TYPE == "generate_until" and k_samples > 1:
            built[name].set_config(key="repeats", value=k_samples)
    outputs = []
    tokens = 0
    with routing_recorder(loaded) as recorder:
        for name in names:
            t0 = time.time()
            task = task_dict[name]
            key = name if mode == "ll" else f"{name}_cot"
            selection = (selections or {}).get(name) or select_docs(name, task.eval_docs, options.limit,
                                                                      options.stratify, options.seed)
            states = fewshot_states(task, selection.doc_ids, getattr(options, "effective_fewshot_seed", options.seed))
            old = {ln["doc_id"]: ln for ln in previous.get(key, ())}
            position = {d: i for i, d in enumerate(selection.doc_ids)}
            todo = [d for d in selection.doc_ids if d not in old]
            label = f"{name} [{mode}]"
            progress.task_started(label, len(selection.doc_ids), len(selection.doc_ids) - len(todo))
            shards = partition(todo, doc_costs(task, todo, loaded.tokenizer), dist.world_size) if dist.active \
                else [todo]
            mine = chunk_grid(shards[dist.rank])
            for i in range(max(len(chunk_grid(s)) for s in shards) if todo else 0):
                lines, error = [], None
                if i < len(mine):
                    try:
                        with replayed_draws(task, mine[i], states):
                            lines = _evaluate_chunk(lm, task, name, key, mode, mine[i], options, pass_ks)
                    except Exception as err:  # reported to every rank by `exchange`
                        error = err
                parts = exchange(dist, (lines, lm.counter.tokens), error)
                lines = sorted((ln for part, _ in parts for ln in part), key=lambda ln: position[ln["doc_id"]])
                tokens = sum(n for _, n in parts)
                sink(lines)
                progress.docs_done(label, len(lines))
                old.update((ln["doc_id"], ln) for ln in lines)
            progress.task_finished(label)
            lines = [old[d] for d in selection.doc_ids]
            outputs.append(_task_output(task, name, key, mode, lines, selection,
                                        open_think if task.OUTPUT_TYPE == "generate_until" else think, tokens, options,
                                        round(time.time() - t0, 3)))
    if recorder is not None:
        routing = routing_summary(recorder, list(names), dist)
        outputs = [TaskOutput(o.lines, tuple(replace(r, meta={**r.meta, "routing": routing}) for r in o.results),
                              o.seconds) for o in outputs]
    return outputs


def _evaluate_chunk(lm: Any, task: Any, name: str, key: str, mode: str, chunk: list[Any],
                    options: Any = None, pass_ks: tuple[int, ...] = (1,)) -> list[dict[str, Any]]:
    """One lm-eval `evaluate` call over `chunk` (doc ids) → its sample lines. The run's `system_instruction` goes
    before every prompt and `apply_chat_template` renders each prompt in the card's chat template with the few-shot
    examples as turns, as lm-eval's `--system_instruction` / `--apply_chat_template` (whose CLI turns on
    `fewshot_as_multiturn` with it) do."""
    from lm_eval.evaluator import evaluate

    chat = bool(getattr(options, "apply_chat_template", False))
    chunk = sorted(chunk)  # lm-eval numbers the chosen docs in dataset order
    lm.sample_ids = {name: chunk}
    try:
        out = evaluate(lm, {name: task}, samples={name: chunk}, log_samples=True, bootstrap_iters=0,
                       system_instruction=getattr(options, "system_instruction", None),
                       apply_chat_template=chat, fewshot_as_multiturn=chat, verbosity="ERROR")
    except (KeyError, ValueError, TypeError) as err:
        raise DataError(f"lm-eval could not evaluate {name}: {type(err).__name__}: {err}") from err
    return sample_lines(task, out["samples"][name], key, mode, lm.log, pass_ks)


def check_cot(tasks: Mapping[str, Any], names: Sequence[str], modes: Sequence[str]) -> None:
    """`UsageError` before anything runs when a cot mode is asked of a task whose output type it cannot serve
    (`NO_COT_TYPES`)."""
    if "cot" not in modes:
        return
    for name in names:
        why = NO_COT_TYPES.get(tasks[name].OUTPUT_TYPE)
        if why is not None:
            raise UsageError(f"{name} is a {tasks[name].OUTPUT_TYPE} task and --cot / --mode cot cannot run it "
                             f"({why}): run it in ll mode")



def doc_costs(task: Any, doc_ids: Sequence[Any], tok: Any) -> list[int]:
    """Each document's scoring work in tokens: its lm-eval prompt plus every choice, or plus its target for the
    other output types (what sharding balances)."""
    costs = []
    for d in doc_ids:
        doc = task.eval_docs[d]
        text = task.doc_to_text(doc)
        parts = task.doc_to_choice(doc) if task.OUTPUT_TYPE == "multiple_choice" else [task.doc_to_target(doc)]
        costs.append(len(tok.encode(str(text))) + sum(len(tok.encode(str(c))) for c in parts))
    return costs


def aggregate(task: Any, lines: Sequence[dict[str, Any]], metrics: Sequence[str] = METRICS) -> dict[str, Any]:
    """lm-eval's aggregation of per-document values (`task.aggregation()`, `stderr_for_metric` with lm-eval's
    default 100000 bootstrap iterations; "N/A" for fewer than 2 documents), over the valid lines."""
    from lm_eval.api.metrics import stderr_for_metric

    out: dict[str, Any] = {}
    for metric in metrics:
        values = [ln[metric] for ln in lines if ln.get(metric) is not None]
        if not values:
            continue
        agg = task.aggregation()[metric]
        out[f"{metric},none"] = agg(values)
        stderr = stderr_for_metric(agg, 100000)
        out[f"{metric}_stderr,none"] = stderr(values) if (stderr and len(values) > 1) else "N/A"
    return out


def _task_output(task: Any, name: str, key: str, mode: str, lines: list[dict[str, Any]], selection: Any,
                 think: Any, forward_tokens: int, options: Any, seconds: float) -> TaskOutput:
    valid = [ln for ln in lines if not ln.get("invalid")]
    multiple_choice = task.OUTPUT_TYPE == "multiple_choice"
    metrics = {"alias": key, **(aggregate(task, valid) if multiple_choice else aggregate_raw(task, valid))}
    files = data_files(name, options.data_dir, task)
    meta: dict[str, Any] = {"selection": selection.to_dict(), "forward_tokens": forward_tokens, "data_files": files,
                            "invalid_docs": [ln["doc_id"] for ln in lines if ln.get("invalid")]}
    per_doc = {m: [ln[m] for ln in valid] for m in METRICS if all(m in ln for ln in valid)} if multiple_choice \
        else per_doc_values(task, valid)
    if valid and all("sampled" in ln for ln in valid):  # --samples K on a generate task: avg@K, maj@K, pass@k
        from titan_eval.tasks.sampled_metrics import aggregate as aggregate_sampled

        sampled_results, sampled_per_doc = aggregate_sampled(valid)
        metrics.update(sampled_results)
        per_doc.update(sampled_per_doc)
    if think is not None:
        meta["think"] = think.to_dict()
        traces = [t for ln in lines for t in ln["think"].get("samples", [ln["think"]])]
        meta["think_stats"] = think_statistics(traces, think.think_budget)
        if think.samples > 1 and multiple_choice:
            trace_metrics, per_doc["acc_trace_mean"] = trace_accuracy(valid)
            metrics.update(trace_metrics)
    fingerprint = TaskFingerprint(
        task=name, mode=mode, scorer=SCORERS.get(task.OUTPUT_TYPE, SCORER),
        data_sha256=sha256_json(sorted(files.values())) if files else "hub",
        prompt_sha256=sha256_json([_prompt_fields(ln) for ln in lines] if multiple_choice else
                                  [_generation_settings(task)] + [_prompt_fields(ln) for ln in lines]),
        doc_ids_sha256=sha256_json([ln["doc_id"] for ln in lines]))
    cluster_key = declared_cluster_key(task)
    clusters = [str(ln.get("cluster", ln["doc_id"])) for ln in valid] if cluster_key is not None else None
    result = TaskResult(key=key, metrics=metrics, n=len(valid), n_original=selection.total, fingerprint=fingerprint,
                        higher_is_better=dict(task.higher_is_better()), meta=meta, per_doc=per_doc,
                        version=task.VERSION, config=dict(task.dump_config()), cluster_key=cluster_key,
                        clusters=clusters)
    return TaskOutput(tuple(lines), (result,), seconds)


def _prompt_fields(line: dict[str, Any]) -> list[Any]:
    if "choices" in line:
        fields = [line["doc_id"], line["prompt"], line["choices"], line["gold"]]
    else:  # loglikelihood, rolling, generate_until
        fields = [line["doc_id"], line["prompt"], line["target"]]
    if "think" in line:
        fields.append(line["think"]["prompt"])
    return fields


def _generation_settings(task: Any) -> Any:
    """A generate task's generation kwargs (stop strings and max_gen_toks change every answer); None otherwise."""
    kwargs = getattr(task.config, "generation_kwargs", None) if task.OUTPUT_TYPE == "generate_until" else None
    return {k: kwargs[k] for k in sorted(kwargs)} if kwargs else None


def _think_options(loaded: LoadedModel, options: Any, open_questions: bool = False) -> Any:
    """The run's think settings; for `open_questions` (generate_until tasks) no multiple-choice preamble unless
    --preamble gave one."""
    from titan_eval.think import ThinkOptions

    overrides = dict(options.think)
    if open_questions and overrides.get("preamble") is None:
        overrides["preamble"] = ""
    return ThinkOptions.from_card(loaded.card, **overrides)


@contextmanager
def routing_recorder(loaded: LoadedModel) -> Iterator[Any]:
    """Streaming routing totals (`telemetry.route_totals.RouteTotals`) while lm-eval runs, for models that route
    (else None). It is fast-path safe: the prefix cache and cached decoding stay on."""
    if not loaded.model.capabilities.routing:
        yield None
        return
    from titan_eval.telemetry.route_totals import RouteTotals

    with RouteTotals(loaded.model) as rec:
        yield rec


ROUTING_SPAN = ("all real positions of every scoring forward pass (contexts and continuations; generation steps "
                "excluded; a context the prefix cache shares counts once where the router lies in the shared blocks)")


def routing_summary(recorder: Any, names: list[str], dist: Dist = SINGLE) -> dict[str, Any]:
    """Mean route weight per arm/expert (and pair frequencies, entropies) per routing layer, over `ROUTING_SPAN`
    of this mode's tasks (tasks pooled). In a distributed run this is this rank's shard only (rank 0's is the one
    stored)."""
    layers = {layer: recorder.summary(layer).to_dict() for layer in recorder.layers}
    span = ROUTING_SPAN
    if dist.active:
        span += f" of rank {dist.rank}'s shard (of {dist.world_size})"
    return {"span": span, "tasks_pooled": names, "layers": layers}


def trace_accuracy(lines: list[dict[str, Any]]) -> tuple[dict[str, float], list[float]]:
    """With K traces per doc: each doc's mean accuracy over its traces (argmax of the choice log-probs after
    each trace), then their mean and standard error over docs as "acc_trace_mean" metrics; returns (metrics,
    per-doc values)."""
    import numpy as np

    from titan_eval.suites.results import mean_stderr

    per_doc = []
    for ln in lines:
        table = ln["think"]["choice_logprobs"]
        k = len(next(iter(table.values())))
        preds = [int(np.argmax([table[i][j] for i in sorted(table)])) for j in range(k)]
        per_doc.append(float(np.mean([p == ln["gold"] for p in preds])))
    mean, stderr = mean_stderr(per_doc)
    return ({"acc_trace_mean,none": mean, "acc_trace_mean_stderr,none": float("nan") if stderr is None else stderr},
            per_doc)
