"""fact_margins: contrastive NLL margins with hardness levels (tasks/fact_margins/README.md; the math in `margin_math`).

Result keys:
    fact_margins               strict, ok_<level> (means over probes), margin (mean margin at each probe's hardest
                               level), top10 (rank ≤ 10; per-level margins are in the samples); for Helix files also target_pass,
                               retention_pass and promotable (1.0 only if every probe of both splits passes)
    fact_margins:<category>    the same per category (Helix: per family)
    fact_margins:target / :retention   strict and margin per split (Helix files)
Samples: one line per probe (`task` fact_margins) with every continuation's NLL, each level's margin and ok, strict
and the first-token rank. `--limit N` keeps the first N probes.
"""

from __future__ import annotations

from typing import Any, Sequence

from titan_eval.distributed import SINGLE, Dist, exchange, map_shards
from titan_eval.engine import ScoreRequest, TokenCounter, score
from titan_eval.loading import LoadedModel
from titan_eval.suites.margin_math import Margins, first_token_ranks, lcp_split, margins, mean_nll
from titan_eval.suites.probe_files import LEVELS, Probe, load_probes
from titan_eval.records import TaskFingerprint, TaskOutput, TaskResult
from titan_eval.suites.results import mean_result
from titan_eval.suites.suite_file import slug
from titan_eval.hashing import sha256_file, sha256_json

TASK = "fact_margins"
SCORER = "margin-lcp-mean-nll-v1"
TOP_K = 10


def prompt_text(loaded: LoadedModel, probe: Probe) -> str:
    """raw: the prompt as written; chat: the card's prompt template around it."""
    return loaded.card.prompt.template.format(question=probe.prompt) if probe.prompt_style == "chat" else probe.prompt


def score_probes(loaded: LoadedModel, probes: Sequence[Probe], batch_size: int = 8,
                 reuse_prefix: bool = True, counter: TokenCounter | None = None) -> list[Margins]:
    """Margins of every probe (one engine `score` call for all continuations, one forward per context batch for
    the ranks)."""
    tok = loaded.tokenizer
    requests: list[ScoreRequest] = []
    index: list[list[tuple[str, str, int]]] = []  # per probe: (level or "correct", text, request index)
    for probe in probes:
        text = prompt_text(loaded, probe)
        rows = [("correct", probe.correct)] + [(lv, d) for lv in probe.levels() for d in probe.distractors[lv]]
        index.append([])
        for level, cont in rows:
            ctx, ids = lcp_split(tok, text, cont)
            index[-1].append((level, cont, len(requests)))
            requests.append(ScoreRequest(ctx, ids))
    results = score(loaded.model, requests, batch_size, reuse_prefix, counter)
    firsts = [requests[rows[0][2]] for rows in index]
    ranks = first_token_ranks(loaded.model, [r.context for r in firsts], [r.continuation[0] for r in firsts],
                              tok.size, batch_size)
    out = []
    for probe, rows, rank in zip(probes, index, ranks):
        nll_correct = mean_nll(results[rows[0][2]])
        by_level: dict[str, dict[str, float]] = {}
        for level, cont, k in rows[1:]:
            by_level.setdefault(level, {})[cont] = mean_nll(results[k])
        out.append(margins(nll_correct, by_level, probe.levels(), rank))
    return out


def sample_line(probe: Probe, m: Margins) -> dict[str, Any]:
    line: dict[str, Any] = {
        "task": TASK, "doc_id": probe.id, "category": probe.category, "lang": probe.lang, "split": probe.split,
        "prompt": probe.prompt, "prompt_style": probe.prompt_style, "correct": probe.correct,
        "distractors": {lv: list(t) for lv, t in probe.distractors.items()},
        "nll_correct": m.nll_correct, "nll_distractors": m.nll, "hardest_level": m.hardest,
        "strict": float(m.strict), "margin": m.margin[m.hardest], "rank": m.rank, "top10": float(m.rank <= TOP_K),
    }
    if m.levels_named():
        for lv, value in m.margin.items():
            line[f"margin_{lv}"] = value
            line[f"ok_{lv}"] = float(m.ok[lv])
    return line


def run_fact_margins(loaded: LoadedModel, options: Any, dist: Dist = SINGLE) -> TaskOutput:
    """Native-task entry point (see `titan_eval.runner`): every probe's line and every result key. In a
    distributed run each rank scores its shard of the probes (balanced by tokens) and every rank returns the
    whole output; `forward_tokens` sums the ranks."""
    path, probes = load_probes(options.native.get("probes"))
    if options.limit is not None:
        probes = probes[: options.limit]
    counter = TokenCounter()
    costs = [len(loaded.tokenizer.encode(prompt_text(loaded, p))) + sum(len(loaded.tokenizer.encode(t)) for t in
             [p.correct, *(d for lv in p.levels() for d in p.distractors[lv])]) for p in probes]
    found = map_shards(dist, probes, costs,
                       lambda shard: score_probes(loaded, shard, options.batch_size, options.reuse_prefix, counter))
    counter.tokens = sum(exchange(dist, counter.tokens))
    lines = [sample_line(p, m) for p, m in zip(probes, found)]
    data_sha = sha256_file(path)
    helix = any(p.split is not None for p in probes)
    results: list[TaskResult] = []

    def put(key: str, group: list[dict[str, Any]], extra: dict[str, float] | None = None,
            meta: dict[str, Any] | None = None) -> None:
        names = [f"ok_{lv}" for lv in LEVELS if f"ok_{lv}" in group[0]]
        cols = {c: [ln[c] for ln in group if c in ln] for c in ("strict", *names, "margin", "top10")}
        fingerprint = TaskFingerprint(
            task=TASK, mode="ll", scorer=SCORER, data_sha256=data_sha,
            prompt_sha256=sha256_json([[ln["doc_id"], ln["prompt"], ln["correct"], ln["distractors"]] for ln in group]),
            doc_ids_sha256=sha256_json([ln["doc_id"] for ln in group]))
        results.append(mean_result(key, cols, len(group), fingerprint, {"probe_file": str(path), **(meta or {})},
                                   extra, {c: True for c in cols}))

    extra: dict[str, float] = {}
    if helix:
        split = {s: [ln for ln in lines if ln["split"] == s] for s in ("target", "retention")}
        for s, group in split.items():
            if group:
                extra[f"{s}_pass"] = sum(ln["strict"] for ln in group) / len(group)
        extra["promotable"] = float(all(ln["strict"] == 1.0 for ln in lines) and all(split.values()))
    put(TASK, lines, extra, {"top_k": TOP_K, "forward_tokens": counter.tokens, "limit": options.limit,
                             "format": "helix-margin-probes" if helix else "fact-jsonl",
                             "promotable_rule": "every target and every retention probe passes (margin > 0); both splits present" if helix else None})
    for cat in dict.fromkeys(ln["category"] for ln in lines):
        put(f"{TASK}:{slug(cat)}", [ln for ln in lines if ln["category"] == cat])
    if helix:
        for s in ("target", "retention"):
            group = [ln for ln in lines if ln["split"] == s]
            if group:
                put(f"{TASK}:{s}", group)
    return TaskOutput(tuple(lines), tuple(results))
