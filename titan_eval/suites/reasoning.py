"""reasoning85: open questions answered in think mode, scored strictly and author-compatibly
(tasks/reasoning85/README.md).

Result keys (the run table prints one block per key):
    reasoning85                 the scored prompts: strict, author (substring over the answer), author_full
                                (substring over the whole continuation, the original's span), terminated,
                                attractor_lock (means ± stderr), median_think_length
    reasoning85:<category>      strict, author, terminated, median_think_length per category (unscored categories:
                                termination metrics only)
    reasoning85:all_prompts     termination metrics over every prompt, scored or not
    reasoning85:clean / :flagged  strict, author, author_full on the scored prompts outside / inside a contamination
                                list (`--contamination FILE`)
Samples: one line per prompt; `task` is `reasoning85` for scored prompts and `reasoning85:unscored` for the rest,
so every line of a key carries the same per-document metrics. A prompt whose suite item names a `cluster` (a
paraphrase: its original's id) carries it; every key declares the cluster key `cluster`, so its CIs, compare and
gate treat a paraphrase and its original as one cluster (docs/gates.md "Clustered standard errors").
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from titan_eval.distributed import SINGLE, Dist, map_shards
from titan_eval.engine.batching import chunks, pad_right
from titan_eval.loading import LoadedModel
from titan_eval.suites.contamination import read_flagged
from titan_eval.records import TaskFingerprint, TaskOutput, TaskResult
from titan_eval.suites.results import mean_result
from titan_eval.suites.scorers import author_score, strict_score
from titan_eval.suites.suite_file import SuiteItem, load_suite, slug
from titan_eval.suites.think_answer import ThinkAnswer, ThinkAnswerSettings, settings_record, think_then_answer
from titan_eval.hashing import sha256_file, sha256_json
from titan_eval.think_stats import attractor_period, think_statistics

TASK = "reasoning85"
SCORER = "reasoning-strict-v1+author-substring-v1"
SCORES = ("strict", "author", "author_full")
ALL_COLUMNS = (*SCORES, "terminated", "attractor_lock")
CLUSTER_KEY = "cluster"
"""The suite field (and samples field) naming an item's cluster; an item without it is its own cluster."""
ACC = {"strict": True, "author": True, "author_full": True, "terminated": True, "attractor_lock": False}


def run_reasoning85(loaded: LoadedModel, options: Any, dist: Dist = SINGLE) -> TaskOutput:
    """Native-task entry point (see `titan_eval.runner`): every prompt's line and every result key. In a
    distributed run each rank generates for its shard of the prompts (balanced by prompt tokens) and every rank
    returns the whole output."""
    path, items = load_suite(options.native.get("suite"))
    if options.limit is not None:
        items = items[: options.limit]
    flagged, flag_sha = (None, None)
    if options.native.get("contamination"):
        flagged, flag_sha = read_flagged(options.native["contamination"])
    settings = ThinkAnswerSettings.from_run(loaded, options.think, options.native.get("answer_budget"))
    configs: dict[str, Any] = {}

    def answer(shard: list[SuiteItem]) -> list[ThinkAnswer]:
        found, used = think_then_answer(loaded, settings, TASK, [i.id for i in shard], [i.prompt for i in shard],
                                        options.seed, options.batch_size, options.reuse_prefix)
        configs.update(used)
        return found

    costs = [len(loaded.tokenizer.encode(settings.prompt(i.prompt))) for i in items]
    outputs = map_shards(dist, items, costs, answer)
    lines = [sample_line(it, out, flagged) for it, out in zip(items, outputs)]
    mode = "cot" if settings.thinking else "generate"
    data_sha = sha256_file(path)
    results: list[TaskResult] = []

    def put(key: str, group: Sequence[dict[str, Any]], scored_only: bool, cols: Sequence[str],
            meta: dict[str, Any] | None = None) -> None:
        rows = [ln for ln in group if ln["scored"]] if scored_only else list(group)
        if not rows:
            return
        cols = [c for c in cols if scored_only or c not in SCORES]
        columns = {c: [ln[c] for ln in rows if c in ln] for c in cols}
        lengths = [ln["think"]["length"] for ln in rows if ln.get("think")]
        fingerprint = TaskFingerprint(
            task=TASK, mode=mode, scorer=SCORER, data_sha256=data_sha,
            prompt_sha256=sha256_json([[ln["doc_id"], ln["question"], ln["answers"]] for ln in rows]),
            doc_ids_sha256=sha256_json([ln["doc_id"] for ln in rows]))
        results.append(mean_result(key, columns, len(rows), fingerprint, {"suite_file": str(path), **(meta or {})},
                                   {"median_think_length": float(np.median(lengths)) if lengths else None},
                                   {**ACC, "median_think_length": False}, cluster_key=CLUSTER_KEY,
                                   clusters=[ln.get(CLUSTER_KEY, ln["doc_id"]) for ln in rows]))

    put(TASK, lines, True, ALL_COLUMNS, main_meta(loaded, options, settings, configs, items, outputs, lines,
                                                  flagged, flag_sha))
    for cat in dict.fromkeys(ln["category"] for ln in lines):
        group = [ln for ln in lines if ln["category"] == cat]
        put(f"{TASK}:{slug(cat)}", group, any(ln["scored"] for ln in group), ("strict", "author", "terminated"))
    put(f"{TASK}:all_prompts", lines, False, ALL_COLUMNS)
    if flagged is not None:
        put(f"{TASK}:clean", [ln for ln in lines if not ln["contaminated"]], True, SCORES)
        put(f"{TASK}:flagged", [ln for ln in lines if ln["contaminated"]], True, SCORES)
    return TaskOutput(tuple(lines), tuple(results))


def main_meta(loaded: LoadedModel, options: Any, settings: ThinkAnswerSettings, configs: dict[str, Any],
              items: Sequence[SuiteItem], outputs: Sequence[ThinkAnswer], lines: Sequence[dict[str, Any]],
              flagged: set[str] | None, flag_sha: str | None) -> dict[str, Any]:
    """What the `reasoning85` key records beyond its numbers: decoding, think statistics, contamination, routing."""
    meta: dict[str, Any] = {"decoding": settings_record(settings, configs), "limit": options.limit}
    if settings.thinking:
        budget = settings.think.think_budget
        meta["think_stats"] = think_statistics([ln["think"] for ln in lines], budget)
        meta["think_stats_by_category"] = {slug(c): think_statistics([ln["think"] for ln in lines if ln["category"] == c], budget)
                                           for c in dict.fromkeys(ln["category"] for ln in lines)}
    if flagged is not None:
        meta["contamination"] = {"file": options.native["contamination"], "sha256": flag_sha,
                                 "flagged_in_suite": sorted(i.id for i in items if i.id in flagged)}
    if loaded.model.capabilities.routing:
        meta["routing"] = routing_by_category(loaded, items, outputs, options.batch_size)
    return meta


def sample_line(item: SuiteItem, out: ThinkAnswer, flagged: set[str] | None) -> dict[str, Any]:
    """The samples.jsonl line of one prompt."""
    line: dict[str, Any] = {
        "task": TASK if item.scored else f"{TASK}:unscored", "doc_id": item.id, "category": item.category,
        "question": item.prompt, "prompt": out.prompt, "answers": list(item.answers), "scored": item.scored,
        "scorer": item.scorer, "think": out.think, "answer": out.answer, "continuation": out.continuation,
        "seeds": out.seeds,
        "terminated": float(out.think is not None and out.think["stop_reason"] == "closed"),
        "attractor_lock": float(out.think is not None and attractor_period(out.think["ids"]) is not None),
    }
    if item.cluster is not None:
        line[CLUSTER_KEY] = item.cluster
    if item.scored:
        line["strict"] = float(strict_score(out.answer, item.answers, item.scorer, item.prompt))
        line["author"] = float(author_score(out.answer, item.answers))
        line["author_full"] = float(author_score(out.continuation, item.answers))
    if flagged is not None:
        line["contaminated"] = item.id in flagged
    return line


@torch.no_grad()
def routing_by_category(loaded: LoadedModel, items: Sequence[SuiteItem], outputs: Sequence[ThinkAnswer],
                        batch_size: int) -> dict[str, Any]:
    """Mean route weight per arm, per category and routing layer, over two spans of each prompt's final sequence
    (prompt + trace + closer + answer, one extra forward pass): `prompt` (the formatted question and opener) and
    `generated` (everything after it). Positions are pooled within a category."""
    from titan_eval.telemetry.routing import RouteRecorder

    model, device = loaded.model, next(loaded.model.parameters()).device
    seqs = [out.full_ids for out in outputs]
    starts: list[int] = []
    with RouteRecorder(model) as rec:
        for start, batch in zip(range(0, len(seqs), batch_size), chunks(seqs, batch_size)):
            ids, lengths = pad_right(batch, device)
            model(ids, lengths)
            starts.append(start)
    cats = [slug(i.category) for i in items]
    names = list(dict.fromkeys(cats))
    cat_of_item = torch.tensor([names.index(c) for c in cats])
    prompt_len = torch.tensor([len(o.prompt_ids) for o in outputs])
    out: dict[str, Any] = {"spans": {"prompt": "the formatted question with the think opener",
                                     "generated": "trace, closer, answer cue and answer"}, "layers": {}}
    for layer in rec.layers:
        trace = rec.trace(layer)
        item = torch.tensor(starts)[trace.call] + trace.row
        in_prompt = trace.position < prompt_len[item]
        per_cat: dict[str, Any] = {}
        for c, cat in enumerate(names):
            mine = cat_of_item[item] == c
            per_cat[cat] = {span: (trace.weights[mine & sel].mean(0).tolist() if bool((mine & sel).any()) else None)
                            for span, sel in (("prompt", in_prompt), ("generated", ~in_prompt))}
        out["layers"][layer] = per_cat
    return out
