"""Batched generation for any `LanguageModel`.

Recurrent models prefill every prompt once and then `step` one token per row (O(1) per token). Models with exact
incremental decoding (`begin_decode`, Titan: its concept perceptron sees the whole sequence) cache what is exactly
reusable and recompute the rest; otherwise (or with `use_state=False`) the full prefix is re-run each step, batched
across prompts — exact by construction, O(n²). Only last positions go through the LM head; each step makes one
device→host copy (chosen ids and their log-probs for the whole batch), and stop strings are looked for in a
decoded tail window, the full text being decoded only on a hint and when a row finishes. Finished rows leave the batch. Sampling uses one `torch.Generator` per prompt,
seeded by the caller (e.g. from run seed and doc id), so a sampled trace never depends on batch composition or
order. With `deterministic=True` prompts are decoded one at a time (`invariance`), so no float in a trace, greedy
near-ties included, depends on the batch either. Rows of one batch with the same prompt (K samples of a document)
share its prefill: it runs once and its state or cache is copied to the K rows (`State.select`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import math

import torch
from torch import Tensor

from titan_eval.engine.batching import chunks, log_softmax_, logits_at, pad_right
from titan_eval.engine.invariance import rows_per_call
from titan_eval.engine.logits_processing import ban, choose, filter_top_k_top_p, mask_vocab, repetition_penalty
from titan_eval.errors import ModelError, UsageError
from titan_eval.models.base import LanguageModel
from titan_eval.models.taps import generating
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
    deterministic: bool = False,
    share_prompts: bool = True,
) -> list[Generation]:
    """Generate for every prompt (token ids, non-empty); results in input order. `seeds[i]` seeds prompt i's
    sampler (required when temperature > 0). `progress(n)` is told about n newly generated tokens. With
    `deterministic`, one prompt per model call (`batch_size` ignored). `share_prompts=False` prefills repeated
    prompts once per row (the peer the K-sample benchmark measures against)."""
    batch_size = rows_per_call(batch_size, deterministic)
    if any(len(p) == 0 for p in prompts):
        raise UsageError("cannot generate from an empty prompt")
    if config.temperature > 0 and seeds is None:
        raise UsageError("sampling needs a seed per prompt")
    rows = [_Row(i, tuple(p)) for i, p in enumerate(prompts)]
    order = sorted(rows, key=lambda r: (-len(r.prompt), r.index))
    with generating():  # recorders of scoring passes (telemetry.route_totals) skip these forward calls
        for batch in chunks(order, batch_size):
            gens = None if seeds is None else [torch.Generator().manual_seed(int(seeds[r.index])) for r in batch]
            if use_state and model.capabilities.recurrent_state:
                _decode_recurrent(model, tokenizer, list(batch), config, gens, progress, share_prompts)
            elif not (use_state and _decode_cached(model, tokenizer, list(batch), config, gens, progress,
                                                   share_prompts)):
                _decode_recompute(model, tokenizer, list(batch), config, gens, progress)
    return [r.result for r in rows if r.result is not None]


def _next_tokens(logits: Tensor, active: list[_Row], config: GenerationConfig, gens) -> tuple[Tensor, Tensor, Tensor]:
    """Raw logits [b, V] of the active rows (given up: overwritten) → (chosen ids [b], their raw fp32 log-probs
    [b], NaN flags [b]), all on the device: nothing here waits for the device unless sampling (which draws on the
    host) is on. The choice is made first; the raw log-softmax then runs in place over the logits (one [b, V]
    buffer fewer per step). A NaN logit makes its row's normaliser, hence the chosen log-prob, NaN."""
    proc = mask_vocab(logits.float(), config.mask_vocab_from)
    if config.banned_ids:
        proc = ban(proc, config.banned_ids, torch.ones(len(active), dtype=torch.bool))
    if config.stop_ids and config.min_new_tokens > 0:
        proc = ban(proc, config.stop_ids, torch.tensor([len(r.ids) < config.min_new_tokens for r in active]))
    proc = repetition_penalty(proc, [r.ids for r in active], config.repetition_penalty, config.penalty_window)
    proc = filter_top_k_top_p(proc, config.top_k, config.top_p)
    tokens = choose(proc, config.temperature, gens)
    chosen = log_softmax_(logits).gather(1, tokens[:, None])[:, 0]
    return tokens, chosen, chosen.isnan()


def _to_host(tokens: Tensor, logprobs: Tensor, nan: Tensor) -> tuple[list[int], list[float]]:
    """The one device→host copy of a decoding step; `ModelError` on NaN logits."""
    packed = torch.stack([tokens.double(), logprobs.double(), nan.double()]).cpu().tolist()
    if any(packed[2]):
        raise ModelError("model produced NaN logits")
    return [int(t) for t in packed[0]], packed[1]


class _StopStrings:
    """Stop-string detection without decoding the whole row every token: each step decodes only the last
    `window` tokens (enough to hold the longest stop string: ≥ 1 byte per token, ≤ 4 bytes per character, plus a
    margin) and looks for the string with its surrounding spaces stripped (a window's first token may lose its
    leading space in decoding); only on such a hint is the full text decoded and checked exactly, as before."""

    MARGIN = 8

    def __init__(self, strings: Sequence[str]) -> None:
        self.strings = [s for s in strings if s]
        self.cores = [s.strip(" ") for s in self.strings]
        self.always_full = any(not c for c in self.cores)  # a stop string made of spaces only
        self.window = 4 * max((len(s) for s in self.strings), default=0) + self.MARGIN

    def hint(self, tokenizer: Tokenizer, ids: list[int]) -> bool:
        if not self.strings:
            return False
        if self.always_full or len(ids) <= self.window:
            return True
        tail = tokenizer.decode(ids[-self.window :])
        return any(c in tail for c in self.cores)


def _advance(
    row: _Row, token: int, logprob: float, tokenizer: Tokenizer, config: GenerationConfig, stops: _StopStrings,
) -> bool:
    """Append `token`; set `row.result` and return True when the row is finished."""
    row.ids.append(token)
    row.logprobs.append(logprob)
    reason, stop_id, p_stop, text = None, None, None, None
    if token in config.stop_ids:
        reason, stop_id, p_stop = "stop_id", token, math.exp(logprob)
        text = tokenizer.decode(row.ids[:-1])
    elif stops.hint(tokenizer, row.ids):
        text = tokenizer.decode(row.ids)
        hits = [text.find(s) for s in stops.strings if s in text]
        if hits:
            reason, text = "stop_string", text[: min(hits)]
    if reason is None and len(row.ids) >= config.max_new_tokens:
        reason = "max_tokens"
    if reason is None:
        return False
    if text is None:
        text = tokenizer.decode(row.ids)
    row.result = Generation(tuple(row.ids), text, reason, stop_id, tuple(row.logprobs), p_stop)
    return True


def _finish_empty(batch: list[_Row], config: GenerationConfig) -> bool:
    if config.max_new_tokens > 0:
        return False
    for r in batch:
        r.result = Generation((), "", "max_tokens")
    return True


def _last_position_logits(model, ids: Tensor, lengths: Tensor, want_state: bool):
    """Next-token logits [B, V] at each row's last real position (the head runs on those positions only)."""
    rows = torch.arange(ids.shape[0], device=ids.device)
    return logits_at(model, ids, lengths, rows, lengths - 1, want_state=want_state)


def _decode_stepwise(model, tokenizer, batch: list[_Row], config, gens, progress, start, advance) -> None:
    """Shared loop: `start()` → (logits [b, V], state); `advance(tokens [k], state)` → (logits, state) for the
    rows still running (the state already narrowed to them). One host sync per step."""
    if _finish_empty(batch, config):
        return
    device = next(model.parameters()).device
    stops = _StopStrings(config.stop_strings)
    logits, state = start()
    active = list(range(len(batch)))
    while active:
        rows = [batch[i] for i in active]
        tokens, chosen, nan = _next_tokens(logits, rows, config, None if gens is None else [gens[i] for i in active])
        host_tokens, host_lp = _to_host(tokens, chosen, nan)
        keep = [k for k, r in enumerate(rows) if not _advance(r, host_tokens[k], host_lp[k], tokenizer, config, stops)]
        if progress is not None:
            progress(len(rows))
        if not keep:
            return
        active = [active[k] for k in keep]
        if len(keep) < len(rows):
            sel = torch.tensor(keep, device=device)
            tokens, state = tokens.index_select(0, sel), state.select(sel)
        logits, state = advance(tokens, state)


def _shared_prompts(batch: list[_Row], device: torch.device, share: bool = True
                    ) -> tuple[list[tuple[int, ...]], Tensor | None]:
    """The distinct prompts of `batch` (first-seen order) and, when some repeat (K samples of one prompt), each
    row's index into them [B] (None when all differ, or without `share`): a repeated prompt is prefilled once and
    its state copied."""
    if not share:
        return [r.prompt for r in batch], None
    first: dict[tuple[int, ...], int] = {}
    index = [first.setdefault(r.prompt, len(first)) for r in batch]
    unique = list(first)
    return unique, (torch.tensor(index, device=device) if len(unique) < len(batch) else None)


def _fan_out(begun: tuple[Tensor, Any], index: Tensor | None) -> tuple[Tensor, Any]:
    """(logits [U, V], state of U rows) → every row's copy ([B, V], B rows) along `index`."""
    if index is None:
        return begun
    logits, state = begun
    return logits.index_select(0, index), state.select(index)


def _decode_recurrent(model, tokenizer, batch: list[_Row], config, gens, progress, share: bool = True) -> None:
    device = next(model.parameters()).device

    def start():
        unique, index = _shared_prompts(batch, device, share)
        ids, lengths = pad_right(unique, device)
        return _fan_out(_last_position_logits(model, ids, lengths, want_state=True), index)

    _decode_stepwise(model, tokenizer, batch, config, gens, progress, start, model.step)


def _decode_cached(model, tokenizer, batch: list[_Row], config, gens, progress, share: bool = True) -> bool:
    """Exact incremental decoding through `begin_decode` / `continue_decode`; False when the model declines."""
    if _finish_empty(batch, config):
        return True
    device = next(model.parameters()).device
    unique, index = _shared_prompts(batch, device, share)
    ids, lengths = pad_right(unique, device)
    begun = model.begin_decode(ids, lengths)
    if begun is None:
        return False
    begun = _fan_out(begun, index)
    _decode_stepwise(model, tokenizer, batch, config, gens, progress, lambda: begun, model.continue_decode)
    return True


def _decode_recompute(model, tokenizer, batch: list[_Row], config, gens, progress) -> None:
    if _finish_empty(batch, config):
        return
    device = next(model.parameters()).device
    stops = _StopStrings(config.stop_strings)
    active = list(range(len(batch)))
    while active:
        rows = [batch[i] for i in active]
        ids, lengths = pad_right([r.prompt + tuple(r.ids) for r in rows], device)
        logits, _ = _last_position_logits(model, ids, lengths, want_state=False)
        tokens, chosen, nan = _next_tokens(logits, rows, config, None if gens is None else [gens[i] for i in active])
        host_tokens, host_lp = _to_host(tokens, chosen, nan)
        done = [_advance(r, host_tokens[k], host_lp[k], tokenizer, config, stops) for k, r in enumerate(rows)]
        if progress is not None:
            progress(len(rows))
        active = [i for i, d in zip(active, done) if not d]
