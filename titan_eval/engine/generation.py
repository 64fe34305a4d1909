"""Batched generation for any `LanguageModel`.

Recurrent models prefill every prompt once and then `step` one token per row (O(1) per token); other models
(Titan: its concept perceptron sees the whole sequence) re-run the full prefix each step, batched across prompts —
exact by construction, O(n²). Finished rows leave the batch. Sampling uses one `torch.Generator` per prompt,
seeded by the caller (e.g. from run seed and doc id), so a trace never depends on batch composition or order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

from titan_eval.engine.batching import chunks, fp32_log_softmax, pad_right
from titan_eval.engine.logits_processing import ban, choose, filter_top_k_top_p, mask_vocab, repetition_penalty
from titan_eval.errors import UsageError
from titan_eval.models.base import LanguageModel
from titan_eval.tokenizers import Tokenizer


@dataclass(frozen=True)
class GenerationConfig:
    """Every decoding knob; recorded in run.json."""

    max_new_tokens: int = 256
    stop_ids: tuple[int, ...] = ()  # generation ends after emitting one of these (it is kept in `ids`)
    stop_strings: tuple[str, ...] = ()  # generation ends when the text contains one (text is cut before it)
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0  # sign-aware, over the last `penalty_window` generated tokens
    penalty_window: int = 20
    min_new_tokens: int = 0  # stop ids are banned before this many tokens
    mask_vocab_from: int | None = None  # logit rows ≥ this are never generated
    banned_ids: tuple[int, ...] = ()  # never generated

    def __post_init__(self) -> None:
        if self.max_new_tokens < 0 or self.temperature < 0 or not (0 < self.top_p <= 1) or self.top_k < 0:
            raise UsageError(f"invalid generation settings: {self}")
        if self.repetition_penalty <= 0:
            raise UsageError("repetition penalty must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    """One prompt's output: generated ids (incl. a stop id if one fired), decoded text (cut at a stop string),
    why it stopped ('stop_id' | 'stop_string' | 'max_tokens'), the stop id, raw fp32 log-prob of each generated
    token, and the probability the model gave the stop id at the step it fired."""

    ids: tuple[int, ...]
    text: str
    stop_reason: str
    stop_id: int | None = None
    token_logprobs: tuple[float, ...] = field(default=())
    p_stop: float | None = None


@dataclass
class _Row:
    index: int
    prompt: tuple[int, ...]
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    result: Generation | None = None


@torch.no_grad()
def generate(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prompts: Sequence[Sequence[int]],
    config: GenerationConfig,
    seeds: Sequence[int] | None = None,
    batch_size: int = 8,
    use_state: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[Generation]:
    """Generate for every prompt (token ids, non-empty); results in input order. `seeds[i]` seeds prompt i's
    sampler (required when temperature > 0). `progress(n)` is told about n newly generated tokens."""
    if any(len(p) == 0 for p in prompts):
        raise UsageError("cannot generate from an empty prompt")
    if config.temperature > 0 and seeds is None:
        raise UsageError("sampling needs a seed per prompt")
    rows = [_Row(i, tuple(p)) for i, p in enumerate(prompts)]
    order = sorted(rows, key=lambda r: (-len(r.prompt), r.index))
    for batch in chunks(order, batch_size):
        gens = None if seeds is None else [torch.Generator().manual_seed(int(seeds[r.index])) for r in batch]
        if use_state and model.capabilities.recurrent_state:
            _decode_recurrent(model, tokenizer, list(batch), config, gens, progress)
        else:
            _decode_recompute(model, tokenizer, list(batch), config, gens, progress)
    return [r.result for r in rows if r.result is not None]


def _next_tokens(logits: Tensor, active: list[_Row], config: GenerationConfig, gens) -> tuple[Tensor, Tensor]:
    """Raw logits [b, V] of the active rows → (chosen ids [b], raw fp32 log-probs [b, V])."""
    raw = fp32_log_softmax(logits)
    proc = mask_vocab(logits.float(), config.mask_vocab_from)
    proc = ban(proc, config.banned_ids, torch.ones(len(active), dtype=torch.bool, device=logits.device))
    early = torch.tensor([len(r.ids) < config.min_new_tokens for r in active], device=logits.device)
    proc = ban(proc, config.stop_ids, early)
    proc = repetition_penalty(proc, [r.ids for r in active], config.repetition_penalty, config.penalty_window)
    proc = filter_top_k_top_p(proc, config.top_k, config.top_p)
    return choose(proc, config.temperature, gens), raw


def _advance(row: _Row, token: int, raw_row: Tensor, tokenizer: Tokenizer, config: GenerationConfig) -> bool:
    """Append `token`; set `row.result` and return True when the row is finished."""
    row.ids.append(token)
    row.logprobs.append(float(raw_row[token]))
    reason, stop_id, p_stop = None, None, None
    text = tokenizer.decode(row.ids)
    if token in config.stop_ids:
        reason, stop_id, p_stop = "stop_id", token, float(raw_row[token].exp())
        text = tokenizer.decode(row.ids[:-1])
    hits = [text.find(s) for s in config.stop_strings if s and s in text]
    if reason is None and hits:
        reason, text = "stop_string", text[: min(hits)]
    if reason is None and len(row.ids) >= config.max_new_tokens:
        reason = "max_tokens"
    if reason is None:
        return False
    row.result = Generation(tuple(row.ids), text, reason, stop_id, tuple(row.logprobs), p_stop)
    return True


def _finish_empty(batch: list[_Row], config: GenerationConfig) -> bool:
    if config.max_new_tokens > 0:
        return False
    for r in batch:
        r.result = Generation((), "", "max_tokens")
    return True


def _decode_recurrent(model, tokenizer, batch: list[_Row], config, gens, progress) -> None:
    if _finish_empty(batch, config):
        return
    device = next(model.parameters()).device
    ids, lengths = pad_right([r.prompt for r in batch], device)
    logits, state = model.prefill(ids, lengths)
    logits = logits[torch.arange(len(batch), device=device), lengths - 1]
    active = list(range(len(batch)))
    while active:
        rows = [batch[i] for i in active]
        tokens, raw = _next_tokens(logits, rows, config, None if gens is None else [gens[i] for i in active])
        keep = [k for k, r in enumerate(rows) if not _advance(r, int(tokens[k]), raw[k], tokenizer, config)]
        if progress is not None:
            progress(len(rows))
        if not keep:
            return
        sel = torch.tensor(keep, device=device)
        active = [active[k] for k in keep]
        logits, state = model.step(tokens.index_select(0, sel), state.select(sel))


def _decode_recompute(model, tokenizer, batch: list[_Row], config, gens, progress) -> None:
    if _finish_empty(batch, config):
        return
    device = next(model.parameters()).device
    active = list(range(len(batch)))
    while active:
        rows = [batch[i] for i in active]
        ids, lengths = pad_right([r.prompt + tuple(r.ids) for r in rows], device)
        logits = model(ids, lengths)[torch.arange(len(rows), device=device), lengths - 1]
        tokens, raw = _next_tokens(logits, rows, config, None if gens is None else [gens[i] for i in active])
        done = [_advance(r, int(tokens[k]), raw[k], tokenizer, config) for k, r in enumerate(rows)]
        if progress is not None:
            progress(len(rows))
        active = [i for i, d in zip(active, done) if not d]
