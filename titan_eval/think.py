"""Think-then-answer (`--cot`): per document, prompt with the card's format (preamble + the task's context as
the question) and its think opener; generate a trace until the think closer, EOS, or the think budget (then the
block is closed for the model and the trace marked `forced`); score every choice after
prompt + trace + closer + answer cue. One trace per unique context, generated once and shared by all choices
(the scoring engine runs the shared context once for recurrent models). With `samples` = K > 1, K seeded traces
per document are drawn and each choice's log-likelihood is the mean over the K traces; the per-trace choice
log-probs are kept so the runner can report mean per-trace accuracy with its stderr.

lm-eval cannot chain generation into log-likelihood scoring; this runs inside the adapter, and the traces go to
the adapter's `RequestLog` (sidecar of lm-eval's sample log).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Sequence

from titan_eval.cards import ModelCard
from titan_eval.engine import GenerationConfig, ScoreRequest, ScoreResult, generate, score
from titan_eval.errors import UsageError
from titan_eval.seeding import derived_seed

DEFAULT_PREAMBLE = "Answer the following multiple choice question."


@dataclass(frozen=True)
class ThinkOptions:
    """Think-mode settings; every field is recorded in run.json."""

    template: str = "{question}"
    think_open: str = "<think>\n"
    think_close: str = "</think>"
    answer_cue: str = "\nAnswer:"
    preamble: str = DEFAULT_PREAMBLE
    think_budget: int = 256
    min_think: int = 0
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    penalty_window: int = 20
    mask_vocab_from: int | None = None
    samples: int = 1  # K seeded traces per document; choices are scored after each, log-probs averaged

    @classmethod
    def from_card(cls, card: ModelCard, **overrides: Any) -> "ThinkOptions":
        """The card's prompt format, then explicit overrides (None values ignored)."""
        p = card.prompt
        base = cls(template=p.template, think_open=p.think_open or cls.think_open,
                   think_close=p.think_close or cls.think_close, answer_cue=p.answer_cue or cls.answer_cue,
                   mask_vocab_from=card.generation.get("mask_vocab_from"))
        known = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise UsageError(f"unknown think option(s): {', '.join(bad)}")
        opts = replace(base, **{k: v for k, v in overrides.items() if v is not None})
        if opts.think_budget < 1:
            raise UsageError("--think-budget must be at least 1")
        if opts.samples < 1 or (opts.samples > 1 and opts.temperature <= 0):
            raise UsageError("--samples K needs K >= 1, and K > 1 needs --temperature > 0 (greedy traces are identical)")
        return opts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def prompt(self, context: str) -> str:
        """The text before the trace for a task context."""
        question = f"{self.preamble}\n{context}" if self.preamble else context
        return self.template.format(question=question) + self.think_open


def think_then_score(lm: Any, pairs: Sequence[tuple[list[int], list[int]]], instances: Sequence[Any] | None) -> list:
    """Generate one trace per unique context of `pairs` (ctx ids, continuation ids), then score each
    continuation after the trace. `lm` is a TitanEvalLM (model, tokenizer, options, log)."""
    opts: ThinkOptions = lm.think_options
    tok = lm.tok
    contexts: dict[tuple[int, ...], tuple[str, Any, Any]] = {}
    for k, (ctx, _) in enumerate(pairs):
        if tuple(ctx) in contexts:
            continue
        inst = instances[k] if instances else None
        text = inst.args[0] if inst is not None else tok.decode(ctx)
        contexts[tuple(ctx)] = (text, getattr(inst, "task_name", None), getattr(inst, "doc_id", k))
    keys = [(c, k) for c in contexts for k in range(opts.samples)]
    prompts = {c: tok.encode(opts.prompt(contexts[c][0])) for c in contexts}
    close_id = tok.special_ids.get(opts.think_close)
    stop_ids = tuple(i for i in (close_id, tok.eos_id) if i is not None)
    config = GenerationConfig(
        max_new_tokens=opts.think_budget, stop_ids=stop_ids,
        stop_strings=() if close_id is not None else (opts.think_close,),
        temperature=opts.temperature, top_p=opts.top_p, top_k=opts.top_k,
        repetition_penalty=opts.repetition_penalty, penalty_window=opts.penalty_window,
        min_new_tokens=opts.min_think, mask_vocab_from=opts.mask_vocab_from)
    seeds = [derived_seed(lm.seed, contexts[c][1], contexts[c][2], k) for c, k in keys]
    gens = generate(lm.model, tok, [prompts[c] for c, _ in keys], config, seeds, lm.batch_size_value, lm.reuse_prefix,
                    progress=lm.progress)
    scored_ctx: dict[tuple[tuple[int, ...], int], tuple[int, ...]] = {}
    traces: dict[tuple[int, ...], list[dict[str, Any]]] = {c: [] for c in contexts}
    for (c, k), seed, gen in zip(keys, seeds, gens):
        trace_ids = list(gen.ids[:-1]) if gen.stop_reason == "stop_id" else list(gen.ids)
        if gen.stop_reason == "stop_string":  # closer spelled in several tokens: re-encode the cut text
            trace_ids = tok.encode(gen.text)
        reason = {"stop_id": "closed" if gen.stop_id == close_id else "eos", "stop_string": "closed"}.get(gen.stop_reason, "forced")
        scored_ctx[(c, k)] = tuple(prompts[c] + trace_ids + tok.encode(opts.think_close + opts.answer_cue))
        traces[c].append({"text": tok.decode(trace_ids), "ids": trace_ids, "stop_reason": reason,
                          "length": len(trace_ids), "p_close": gen.p_stop if reason == "closed" else None, "seed": seed})
    requests = [ScoreRequest(scored_ctx[(tuple(ctx), k)], tuple(cont)) for ctx, cont in pairs for k in range(opts.samples)]
    flat = score(lm.model, requests, lm.batch_size_value, lm.reuse_prefix, lm.counter)
    per_pair = [flat[i * opts.samples:(i + 1) * opts.samples] for i in range(len(pairs))]
    for c, (_, task, doc_id) in contexts.items():
        entry = dict(traces[c][0])
        if opts.samples > 1:
            entry["samples"] = traces[c]
            entry["choice_logprobs"] = {}  # choice index → log-prob after each trace
        lm.log.think[(task, doc_id)] = entry
    for k, res in enumerate(per_pair):
        inst = instances[k] if instances else None
        if opts.samples > 1 and inst is not None:
            lm.log.think[(inst.task_name, inst.doc_id)]["choice_logprobs"][inst.idx] = [r.logprob for r in res]
    return [ScoreResult(sum(r.logprob for r in res) / len(res), all(r.is_greedy for r in res), res[0].n_tokens,
                        res[0].token_logprobs) for res in per_pair]
