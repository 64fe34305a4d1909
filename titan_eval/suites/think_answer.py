"""Two-phase generation for open questions: think, then answer.

Phase 1 (think): prompt = card template with the question + think opener; generate until the think closer, EOS or
`think_budget` tokens (the `ThinkOptions` knobs: min_think, temperature, top-p/k, sign-aware repetition penalty,
vocab masking). Phase 2 (answer): for a trace that closed, or hit the budget (`forced`: the closer is appended for
the model), context = prompt + trace + closer + the card's answer cue; generate up to `answer_budget` tokens, stop at
EOS, closer banned. A trace that ended with EOS gets no answer phase (its answer is ""). Cards without a think
opener (`prompt.think_open` null) skip phase 1: the answer is the whole continuation of the templated question.

Seeds: one per (run seed, task, item id, phase) via `derived_seed`, so a sample never depends on batching.
lm-eval generate_until tasks in think mode (`think_generation`) run the same two phases with the task's own
decoding in phase 2 (`Decoding.answer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Sequence

from titan_eval.engine import GenerationConfig, generate
from titan_eval.loading import LoadedModel
from titan_eval.seeding import derived_seed
from titan_eval.think import ThinkOptions, generate_traces

DEFAULT_ANSWER_BUDGET = 32


@dataclass(frozen=True)
class ThinkAnswerSettings:
    """think: the think-phase options (card format + overrides); answer_budget: max answer tokens;
    thinking: False for cards without a think block."""

    think: ThinkOptions
    answer_budget: int = DEFAULT_ANSWER_BUDGET
    thinking: bool = True

    @classmethod
    def from_run(cls, loaded: LoadedModel, think_overrides: dict[str, Any], answer_budget: int | None) -> "ThinkAnswerSettings":
        """Card format, `--think-*` overrides; no preamble unless one is given (open questions are not
        multiple choice)."""
        overrides = dict(think_overrides)
        if overrides.get("preamble") is None:
            overrides["preamble"] = ""
        opts = ThinkOptions.from_card(loaded.card, **overrides)
        return cls(opts, DEFAULT_ANSWER_BUDGET if answer_budget is None else int(answer_budget),
                   loaded.card.prompt.think_open is not None)

    def to_dict(self) -> dict[str, Any]:
        return {"think": self.think.to_dict(), "answer_budget": self.answer_budget, "thinking": self.thinking}

    def prompt(self, question: str) -> str:
        """The text the model continues."""
        return self.think.prompt(question) if self.thinking else replace(self.think, think_open="").prompt(question)


@dataclass(frozen=True)
class ThinkAnswer:
    """One item's output. `think` is None without a think block; else text, ids, stop_reason (closed | forced |
    eos), length, p_close. `answer_context_ids` is what the answer was generated after (prompt ids when no
    think block); `continuation` the full generated text (trace, closer, cue, answer)."""

    prompt: str
    prompt_ids: tuple[int, ...]
    think: dict[str, Any] | None
    answer: str
    answer_ids: tuple[int, ...]
    answer_context_ids: tuple[int, ...]
    continuation: str
    seeds: dict[str, int]
    answer_text: str = ""  # the answer as generated (not stripped): what a task's filters see
    answer_stop: str | None = None  # why the answer phase stopped (engine stop reason); None without one

    @property
    def full_ids(self) -> tuple[int, ...]:
        return self.answer_context_ids + self.answer_ids


def _answer_config(opts: ThinkOptions, budget: int, eos: tuple[int, ...], banned: tuple[int, ...]) -> GenerationConfig:
    """The answer phase: the think phase's sampling knobs, stop at EOS, no minimum length, the closer banned."""
    return GenerationConfig(max_new_tokens=budget, stop_ids=eos, temperature=opts.temperature, top_p=opts.top_p,
                            top_k=opts.top_k, repetition_penalty=opts.repetition_penalty,
                            penalty_window=opts.penalty_window, mask_vocab_from=opts.mask_vocab_from, banned_ids=banned)


@dataclass(frozen=True)
class Decoding:
    """How both phases run: `answer` replaces the default answer phase (`_answer_config`; the closer is banned in
    either), `max_prompt_tokens` left-truncates each prompt's ids, `deterministic` is one prompt per model call
    (`engine.invariance`), `progress` hears of generated tokens."""

    answer: GenerationConfig | None = None
    max_prompt_tokens: int | None = None
    deterministic: bool = False
    progress: Callable[[int], None] | None = None


def think_then_answer(loaded: LoadedModel, settings: ThinkAnswerSettings, task: str | None, ids: Sequence[Any],
                      questions: Sequence[str], seed: int, batch_size: int, use_state: bool,
                      decoding: Decoding = Decoding()) -> tuple[list[ThinkAnswer], dict[str, Any]]:
    """Run both phases for every question; returns the outputs (input order) and the generation configs used."""
    tok, opts = loaded.tokenizer, settings.think
    prompts = [settings.prompt(q) for q in questions]
    keep = decoding.max_prompt_tokens
    prompt_ids = [tuple(tok.encode(p)) if keep is None else tuple(tok.encode(p))[-keep:] for p in prompts]
    close_id = tok.special_ids.get(opts.think_close)
    banned = () if close_id is None else (close_id,)
    eos = () if tok.eos_id is None else (tok.eos_id,)
    seeds = [{"think": derived_seed(seed, task, i, "think"), "answer": derived_seed(seed, task, i, "answer")} for i in ids]
    answer_cfg = _answer_config(opts, settings.answer_budget, eos, banned) if decoding.answer is None else \
        replace(decoding.answer, banned_ids=tuple(dict.fromkeys(decoding.answer.banned_ids + banned)))
    gen_args = {"progress": decoding.progress, "deterministic": decoding.deterministic}
    configs = {"think": opts.generation_config(tok).to_dict() if settings.thinking else None,
               "answer": answer_cfg.to_dict()}
    traces: list[dict[str, Any] | None] = [None] * len(prompts)
    contexts: list[tuple[int, ...] | None] = list(prompt_ids)
    if settings.thinking:
        found = generate_traces(loaded.model, tok, opts, prompt_ids, [s["think"] for s in seeds], batch_size, use_state,
                                **gen_args)
        closer_ids = tuple(opts.closer_ids(tok))
        for k, trace in enumerate(found):
            traces[k] = {key: v for key, v in trace.to_dict().items() if key != "seed"}
            contexts[k] = None if trace.stop_reason == "eos" else prompt_ids[k] + trace.ids + closer_ids
    todo = [k for k, c in enumerate(contexts) if c is not None]
    answers = generate(loaded.model, tok, [contexts[k] for k in todo], answer_cfg,
                       [seeds[k]["answer"] for k in todo], batch_size, use_state, **gen_args)
    by_item = dict(zip(todo, answers))
    out = []
    for k in range(len(prompts)):
        gen = by_item.get(k)
        answer_ids = () if gen is None else (gen.ids[:-1] if gen.stop_reason == "stop_id" else gen.ids)
        answer = "" if gen is None else gen.text.strip()
        trace = traces[k]
        continuation = answer if trace is None else trace["text"] + (
            "" if gen is None else opts.think_close + opts.answer_cue + (gen.text if gen else ""))
        context = contexts[k] if contexts[k] is not None else prompt_ids[k] + tuple(trace["ids"] if trace else ())
        out.append(ThinkAnswer(prompts[k], prompt_ids[k], trace, answer, tuple(answer_ids), tuple(context),
                               continuation, seeds[k], "" if gen is None else gen.text,
                               None if gen is None else gen.stop_reason))
    return out, configs


def settings_record(settings: ThinkAnswerSettings, configs: dict[str, Any]) -> dict[str, Any]:
    """What run.json records about the decoding."""
    return {**settings.to_dict(), "generation": configs, "answer_phase": asdict(ThinkAnswerPhaseNote())}


@dataclass(frozen=True)
class ThinkAnswerPhaseNote:
    """Fixed rules of the answer phase, recorded with every run."""

    stops_on: str = "EOS (not emitted), or the answer budget"
    closer_banned: bool = True
    after_eos_in_think: str = "no answer phase; answer is empty"
    forced_close: str = "closer + answer cue appended, then the answer phase"
