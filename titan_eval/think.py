"""The think pipeline, shared by `--cot` scoring (the adapter), the open-question suites (`suites.think_answer`)
and the probe: a prompt in the card's format, a think trace generated until the closer, EOS or the budget (then the
block is closed for the model and the trace marked `forced`), and what follows it.

`--cot` on multiple-choice tasks (`think_then_score`): per document, prompt = card template around
[preamble, the task's context, and — with `list_choices` (default) — a line `Choices: (A) c1 (B) c2 …`] plus the
think opener; one trace per unique context (K seeded traces with `samples` = K), then every choice is scored after
prompt + trace + closer + answer cue. With `list_choices`, a trailing `Answer:` of the task's prompt (lm-eval's ARC
`Question: …\nAnswer:`) is dropped from the question: the answer comes after the think block, after the card's cue. With K > 1 each
choice's log-likelihood is the mean over the K traces; the per-trace choice log-probs are kept so the runner can
report mean per-trace accuracy with its stderr.

Seeds: one per (run seed, task, doc id, sample index) via `derived_seed`, so a sampled trace never depends on
batching; with `deterministic` (one prompt and one request per model call, `engine.invariance`) no bit of a trace
or a score does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

from titan_eval.engine import Generation, ScoreRequest, ScoreResult, TokenCounter, generate, score
from titan_eval.models.base import LanguageModel
from titan_eval.seeding import derived_seed
from titan_eval.think_options import (CHOICE_LETTERS, DEFAULT_PREAMBLE, TASK_ANSWER_CUE,  # noqa: F401 (re-exported)
                                     ThinkOptions)
from titan_eval.tokenizers import Tokenizer


@dataclass(frozen=True)
class Trace:
    """One think trace: its text and ids (closer excluded), why it ended (closed | forced | eos), its length,
    the probability of the closer when it fired, and the seed it was sampled with."""

    text: str
    ids: tuple[int, ...]
    stop_reason: str
    length: int
    p_close: float | None
    seed: int | None = None

    @classmethod
    def from_generation(cls, gen: Generation, tok: Tokenizer, think_close: str, seed: int | None = None) -> "Trace":
        close_id = tok.special_ids.get(think_close)
        ids = list(gen.ids[:-1]) if gen.stop_reason == "stop_id" else list(gen.ids)
        if gen.stop_reason == "stop_string":  # closer spelled in several tokens: re-encode the cut text
            ids = tok.encode(gen.text)
        reason = "forced"
        if gen.stop_reason == "stop_string" or (gen.stop_reason == "stop_id" and gen.stop_id == close_id):
            reason = "closed"
        elif gen.stop_reason == "stop_id":
            reason = "eos"
        return cls(tok.decode(ids), tuple(ids), reason, len(ids), gen.p_stop if reason == "closed" else None, seed)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ids"] = list(self.ids)
        return out


def generate_traces(model: LanguageModel, tok: Tokenizer, opts: ThinkOptions, prompts: Sequence[Sequence[int]],
                    seeds: Sequence[int], batch_size: int, use_state: bool = True,
                    progress: Callable[[int], None] | None = None, deterministic: bool = False) -> list[Trace]:
    """One trace per prompt (ids), in input order; `seeds[i]` seeds prompt i's sampling; `deterministic`: one
    prompt per model call."""
    gens = generate(model, tok, prompts, opts.generation_config(tok), seeds, batch_size, use_state, progress=progress,
                    deterministic=deterministic)
    return [Trace.from_generation(g, tok, opts.think_close, s) for g, s in zip(gens, seeds)]


@dataclass(frozen=True)
class ChoiceDoc:
    """One scored pair's document as think mode sees it: the task's context text, all its choices, and which
    choice this pair scores."""

    task: str | None
    doc_id: Any
    context: str
    choices: tuple[str, ...] = ()
    choice: int = 0


@dataclass(frozen=True)
class ThinkScoring:
    """Engine settings for `think_then_score`."""

    seed: int = 0
    batch_size: int = 8
    reuse_prefix: bool = True
    counter: TokenCounter | None = None
    progress: Callable[[int], None] | None = None
    deterministic: bool = False  # one prompt / request per model call (engine.invariance)


def think_then_score(model: LanguageModel, tok: Tokenizer, opts: ThinkOptions,
                     pairs: Sequence[tuple[Sequence[int], Sequence[int]]], docs: Sequence[ChoiceDoc],
                     settings: ThinkScoring) -> tuple[list[ScoreResult], dict[tuple[Any, Any], dict[str, Any]]]:
    """Score each (context ids, continuation ids) pair after a think trace for its document.

    `docs[i]` describes pair i's document (pairs of one document share a context). Returns the results (input
    order; with K traces the mean log-prob over them) and the think record per (task, doc_id): the prompt, the
    first trace's fields, and with K > 1 every trace and each choice's per-trace log-probs."""
    first: dict[tuple[int, ...], ChoiceDoc] = {}
    for (ctx, _), doc in zip(pairs, docs):
        first.setdefault(tuple(ctx), doc)
    k_samples = opts.samples
    keys = [(c, k) for c in first for k in range(k_samples)]
    prompt_text = {c: opts.prompt(d.context, d.choices) for c, d in first.items()}
    prompts = {c: tok.encode(text) for c, text in prompt_text.items()}
    seeds = [derived_seed(settings.seed, first[c].task, first[c].doc_id, k) for c, k in keys]
    traces = generate_traces(model, tok, opts, [prompts[c] for c, _ in keys], seeds, settings.batch_size,
                             settings.reuse_prefix, settings.progress, settings.deterministic)
    closer = opts.closer_ids(tok)
    scored_ctx = {key: tuple(prompts[key[0]] + list(t.ids) + closer) for key, t in zip(keys, traces)}
    by_ctx: dict[tuple[int, ...], list[Trace]] = {c: [] for c in first}
    for (c, _), t in zip(keys, traces):
        by_ctx[c].append(t)
    requests = [ScoreRequest(scored_ctx[(tuple(ctx), k)], tuple(cont)) for ctx, cont in pairs for k in range(k_samples)]
    flat = score(model, requests, settings.batch_size, settings.reuse_prefix, settings.counter,
                 deterministic=settings.deterministic)
    per_pair = [flat[i * k_samples:(i + 1) * k_samples] for i in range(len(pairs))]
    record: dict[tuple[Any, Any], dict[str, Any]] = {}
    for c, doc in first.items():
        entry = {"prompt": prompt_text[c], **by_ctx[c][0].to_dict()}
        if k_samples > 1:
            entry["samples"] = [t.to_dict() for t in by_ctx[c]]
            entry["choice_logprobs"] = {}  # choice index → log-prob after each trace
        record[(doc.task, doc.doc_id)] = entry
    if k_samples > 1:
        for doc, res in zip(docs, per_pair):
            entry = record[(doc.task, doc.doc_id)]
            entry["choice_logprobs"][doc.choice] = [r.logprob for r in res]
    results = [ScoreResult(sum(r.logprob for r in res) / len(res), all(r.is_greedy for r in res), res[0].n_tokens,
                           res[0].token_logprobs) for res in per_pair]
    return results, record
