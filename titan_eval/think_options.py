"""`ThinkOptions`: the settings of think-then-answer mode (`--cot`, the open-question suites, the probe) and the
prompt they build. Free of torch, so `titan-eval run` checks them before anything heavy loads; the pipeline that
uses them is `titan_eval.think`."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Sequence

from titan_eval.cards import ModelCard
from titan_eval.errors import UsageError

if TYPE_CHECKING:
    from titan_eval.engine import GenerationConfig
    from titan_eval.tokenizers import Tokenizer

DEFAULT_PREAMBLE = "Answer the following multiple choice question."
CHOICE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TASK_ANSWER_CUE = re.compile(r"\s*\bAnswer:\s*$")
"""A task prompt's trailing answer cue (lm-eval's ARC `…\nAnswer:`), moved after the think block when listing choices."""


@dataclass(frozen=True)
class ThinkOptions:
    """Think-mode settings; every field is recorded in run.json."""

    template: str = "{question}"
    think_open: str = "<think>\n"
    think_close: str = "</think>"
    answer_cue: str = "\nAnswer:"
    preamble: str = DEFAULT_PREAMBLE
    list_choices: bool = True  # multiple choice: show the choices as "Choices: (A) … (B) …" after the question
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
        opts.validate()
        return opts

    def validate(self) -> None:
        """`UsageError` for settings no run can use."""
        if self.think_budget < 1:
            raise UsageError("--think-budget must be at least 1")
        if self.min_think < 0 or self.min_think > self.think_budget:
            raise UsageError("--min-think must lie between 0 and --think-budget")
        if self.samples < 1 or (self.samples > 1 and self.temperature <= 0):
            raise UsageError("--samples K needs K >= 1, and K > 1 needs --temperature > 0 (greedy traces are identical)")
        if "{question}" not in self.template:
            raise UsageError("a prompt template must contain {question}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def question(self, context: str, choices: Sequence[str] = ()) -> str:
        """The question text the template wraps: preamble, context, and the choice line when listing choices."""
        if self.list_choices and choices:
            body = TASK_ANSWER_CUE.sub("", context.rstrip())
            body += "\nChoices: " + " ".join(f"({CHOICE_LETTERS[i % 26]}) {c.strip()}" for i, c in enumerate(choices))
        else:
            body = context
        return f"{self.preamble}\n{body}" if self.preamble else body

    def prompt(self, context: str, choices: Sequence[str] = ()) -> str:
        """The text before the trace."""
        return self.template.format(question=self.question(context, choices)) + self.think_open

    def generation_config(self, tok: Tokenizer, budget: int | None = None) -> GenerationConfig:
        """Decoding settings of the think phase: stop at the closer (its id, or its text when it has none) or EOS."""
        from titan_eval.engine import GenerationConfig

        close_id = tok.special_ids.get(self.think_close)
        stop_ids = tuple(i for i in (close_id, tok.eos_id) if i is not None)
        return GenerationConfig(
            max_new_tokens=self.think_budget if budget is None else budget, stop_ids=stop_ids,
            stop_strings=() if close_id is not None else (self.think_close,),
            temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
            repetition_penalty=self.repetition_penalty, penalty_window=self.penalty_window,
            min_new_tokens=self.min_think, mask_vocab_from=self.mask_vocab_from)

    def closer_ids(self, tok: Tokenizer) -> list[int]:
        """Ids of closer + answer cue, appended after every trace that did not end with EOS."""
        return tok.encode(self.think_close + self.answer_cue)
