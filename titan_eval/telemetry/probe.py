"""A telemetry probe: suite prompts through the card's think-mode format, then routing anatomy, arm collapse,
blackboard-ablation KL, signal growth and the termination vault over a stated span (spec titan.md §4a, §5.11).

Usage:

    prompts, source = resolve_suite("reasoning85")           # or a JSONL path; built-in fallback when absent
    result = run_probe(load("titan-tiny"), prompts, ProbeOptions(span="think"), source)
    result.numbers                                           # JSON-ready (probe.json); plots: titan_eval.telemetry.report

Spans, in each row's own coordinates (P prompt tokens, T trace tokens, C closer + answer-cue tokens, A answer):
    prompt  [0, P) of a forward over the prompt alone (the author's routing anatomy: one pass over the prompt)
    think   [P, P+T) of a forward over prompt + trace + closer/cue + answer
    answer  [P+T+C, P+T+C+A) of that same forward
think/answer first generate (greedy by default; seeded per prompt with `temperature` > 0) the trace up to the think
closer, EOS or `think_budget` tokens, then the answer up to EOS or `answer_budget` tokens with the closer banned
(no answer after an EOS in the trace). KL(p_on ‖ p_off) is taken at the last prompt
position of a forward over the prompt alone (`positions="last"`, the author's choice), or at every position of
the span (`positions="all"`), always inside `blackboard_ablation` (restores the weights bit for bit).
Suite file: JSONL with at least `category` and `prompt` (the question text; `id` optional), e.g. the
reasoning85 suite at tasks/reasoning85/reasoning85.jsonl (or the only *.jsonl in that folder).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from titan_eval.engine.batching import chunks, pad_right
from titan_eval.errors import DataError, UsageError
from titan_eval.loading import LoadedModel
from titan_eval.paths import TASKS_DIR
from titan_eval.telemetry import anatomy, vault
from titan_eval.telemetry.ablation import blackboard_ablation, blackboard_kl, next_token_kl
from titan_eval.telemetry.activations import ActivationRecorder
from titan_eval.telemetry.routing import RouteRecorder, Span
from titan_eval.telemetry.signal import StreamRecorder
from titan_eval.suites.think_answer import ThinkAnswerSettings, think_then_answer
from titan_eval.think import ThinkOptions

SPANS = ("prompt", "think", "answer")
POSITIONS = ("last", "all")
SUITE_DIR = TASKS_DIR / "reasoning85"
SPAN_DEFINITIONS = {
    "prompt": "positions [0, P) of a forward over the prompt alone",
    "think": "positions [P, P+T) (the greedy trace) of a forward over prompt + trace + closer/cue + answer",
    "answer": "positions [P+T+C, P+T+C+A) (the greedy answer) of a forward over prompt + trace + closer/cue + answer",
}

FALLBACK_SUITE: tuple[tuple[str, str], ...] = (
    ("Geography", "What is the capital of France?"), ("Geography", "What continent is Brazil in?"),
    ("Geography", "What is the tallest mountain on Earth?"),
    ("History/Science", "Who painted the Mona Lisa?"), ("History/Science", "What is the chemical symbol for gold?"),
    ("History/Science", "What planet is closest to the Sun?"),
    ("Math & Algebra", "What is 7 times 8?"), ("Math & Algebra", "Solve for x: 2x = 10"),
    ("Math & Algebra", "What is 2 to the power of 10?"),
    ("Yes/No & Logic", "Is a whale a mammal?"),
    ("Yes/No & Logic", "All cats are mammals. Whiskers is a cat. Is Whiskers a mammal?"),
    ("Format/Concise", "One word only: what color is grass?"),
    ("Termination Stress", "Explain the water cycle briefly."), ("Termination Stress", "What is DNA?"),
    ("Creative", "Give me a name for a futuristic spaceship."),
)
"""A few of the 85-suite's prompts per category (spec §4a), used when the suite file is not there."""


@dataclass(frozen=True)
class ProbePrompt:
    id: str
    category: str
    question: str


@dataclass(frozen=True)
class ProbeOptions:
    span: str = "prompt"
    positions: str = "last"
    think_budget: int = 16  # short: a non-recurrent model re-runs the whole prefix for every generated token
    answer_budget: int = 8
    batch_size: int = 8
    per_category: int | None = None  # at most this many prompts per category (None = all)
    seed: int = 0  # think/answer spans: sampling seeds derive from it (per prompt id, as in `run`)
    temperature: float = 0.0  # think/answer spans: 0 = greedy

    def __post_init__(self) -> None:
        if self.span not in SPANS:
            raise UsageError(f"--span must be one of {', '.join(SPANS)}, got {self.span!r}")
        if self.positions not in POSITIONS:
            raise UsageError(f"--positions must be one of {', '.join(POSITIONS)}, got {self.positions!r}")
        if self.think_budget < 1 or self.answer_budget < 1 or self.batch_size < 1:
            raise UsageError("think/answer budgets and batch size must be at least 1")
        if self.temperature < 0:
            raise UsageError("--temperature must be >= 0")


@dataclass
class ProbeItem:
    """One prompt's token rows: `prompt` [P], `full` = prompt + trace + closer/cue + answer, span bounds in
    `full` (prompt span: [0, P) of `prompt`)."""

    prompt: ProbePrompt
    prompt_ids: list[int]
    full_ids: list[int]
    span: tuple[int, int]
    think_length: int | None = None
    think_stop: str | None = None


@dataclass
class ProbeResult:
    """`numbers` for probe.json, plus what the plots need that does not belong in JSON."""

    numbers: dict[str, Any]
    head_norms: Tensor | None = None
    arm_cosine: Tensor | None = None
    think_lengths: list[int] = field(default_factory=list)


def read_suite(path: Path) -> list[ProbePrompt]:
    """Prompts of a suite JSONL (module docstring); `DataError` on a bad line."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(ProbePrompt(str(row.get("id", f"{path.stem}-{n}")), str(row["category"]), str(row["prompt"])))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise DataError(f"{path}:{n}: not a suite line with category and prompt ({err})") from err
    if not out:
        raise DataError(f"{path} holds no prompts")
    return out


def resolve_suite(ref: str | None) -> tuple[list[ProbePrompt], str]:
    """(prompts, source) for `reasoning85` (the suite file, else the built-in fallback) or a JSONL path."""
    if ref in (None, "reasoning85"):
        files = sorted(SUITE_DIR.glob("*.jsonl")) if SUITE_DIR.is_dir() else []
        named = [f for f in files if f.stem == "reasoning85"]
        chosen = named[0] if named else (files[0] if len(files) == 1 else None)
        if chosen is not None:
            return read_suite(chosen), str(chosen)
        prompts = [ProbePrompt(f"fallback-{i}", c, q) for i, (c, q) in enumerate(FALLBACK_SUITE)]
        return prompts, "built-in fallback (reasoning85 suite file not found)"
    path = Path(ref)
    if not path.is_file():
        raise DataError(f"suite file {ref} does not exist")
    return read_suite(path), str(path)


def by_category(prompts: Sequence[ProbePrompt], limit: int | None) -> dict[str, list[ProbePrompt]]:
    groups: dict[str, list[ProbePrompt]] = {}
    for p in prompts:
        groups.setdefault(p.category, []).append(p)
    return {c: (v[:limit] if limit else v) for c, v in groups.items()}


def prepare_items(loaded: LoadedModel, prompts: Sequence[ProbePrompt], opts: ProbeOptions) -> list[ProbeItem]:
    """Encode the prompts in the card's think format; for think/answer spans, generate trace and answer through
    the shared think pipeline (`suites.think_answer.think_then_answer`; seeds derived from `opts.seed`)."""
    settings = ThinkAnswerSettings(
        ThinkOptions.from_card(loaded.card, preamble="", think_budget=opts.think_budget, temperature=opts.temperature),
        opts.answer_budget, thinking=True)
    if opts.span == "prompt":
        rows = [loaded.tokenizer.encode(settings.prompt(p.question)) for p in prompts]
        return [ProbeItem(p, r, r, (0, len(r))) for p, r in zip(prompts, rows)]
    outputs, _ = think_then_answer(loaded, settings, "probe", [p.id for p in prompts], [p.question for p in prompts],
                                   opts.seed, opts.batch_size, True)
    items = []
    for p, out in zip(prompts, outputs):
        start, length = len(out.prompt_ids), out.think["length"]
        head = len(out.answer_context_ids)
        span = (start, start + length) if opts.span == "think" else (head, head + len(out.answer_ids))
        items.append(ProbeItem(p, list(out.prompt_ids), list(out.full_ids), span, length, out.think["stop_reason"]))
    return items


def _span(items: Sequence[ProbeItem], label: str) -> Span:
    return Span(start=[it.span[0] for it in items], stop=[it.span[1] for it in items], label=label)


def _rows(items: Sequence[ProbeItem], span: str) -> list[list[int]]:
    return [it.prompt_ids if span == "prompt" else it.full_ids for it in items]


def _kl(loaded: LoadedModel, items: Sequence[ProbeItem], opts: ProbeOptions) -> list[float]:
    """KL(p_on ‖ p_off) values of one batch: one per row (last prompt position) or one per span position."""
    model, device = loaded.model, loaded.device
    if opts.positions == "last":
        ids, lengths = pad_right([it.prompt_ids for it in items], device)
        return blackboard_kl(model, ids, lengths).tolist()
    ids, lengths = pad_right(_rows(items, opts.span), device)
    on = model(ids, lengths)
    with blackboard_ablation(model):
        off = model(ids, lengths)
    mask = _span(items, opts.span).mask(lengths, ids.shape[1])
    return next_token_kl(on, off)[mask].cpu().tolist()


def _kl_stats(values: Sequence[float]) -> dict[str, Any]:
    t = torch.tensor(list(values), dtype=torch.float64)
    return {"mean": float(t.mean()) if len(values) else None, "max": float(t.max()) if len(values) else None,
            "n": len(values)}


@torch.no_grad()
def run_probe(loaded: LoadedModel, prompts: Sequence[ProbePrompt], opts: ProbeOptions, source: str) -> ProbeResult:
    """Every measurement that applies to the model (routing needs RouteTaps, arm collapse Titan's arm taps,
    the KL a blackboard); the rest is recorded as skipped with the reason."""
    model = loaded.model
    groups = by_category(prompts, opts.per_category)
    items = {c: prepare_items(loaded, ps, opts) for c, ps in groups.items()}
    routing = bool(model.capabilities.routing)
    has_arms = model.capabilities.arms > 0
    has_bb = bool(model.capabilities.blackboard)
    route_recs: dict[str, RouteRecorder] = {}
    arm_recs: dict[str, ActivationRecorder] = {}
    kls: dict[str, list[float]] = {}
    with StreamRecorder(model) as stream:
        for cat, cat_items in items.items():
            with ExitStack() as stack:
                recs: list[Any] = [stream]
                if routing:
                    route_recs[cat] = stack.enter_context(RouteRecorder(model))
                    recs.append(route_recs[cat])
                if has_arms:
                    arm_recs[cat] = stack.enter_context(ActivationRecorder(model, names=("arm_*",)))
                    recs.append(arm_recs[cat])
                for batch in chunks(cat_items, opts.batch_size):
                    for rec in recs:
                        rec.span = _span(batch, opts.span)
                    model(*pad_right(_rows(batch, opts.span), loaded.device))
    if has_bb:  # after the recorders have detached: the ablation's forwards are not telemetry
        kls = {c: [kl for batch in chunks(its, opts.batch_size) for kl in _kl(loaded, batch, opts)] for c, its in items.items()}
    numbers: dict[str, Any] = {
        "model": loaded.card.name, "arch": loaded.card.arch, "suite": source, "options": asdict(opts),
        "categories": {c: len(v) for c, v in items.items()},
        "span_definition": SPAN_DEFINITIONS[opts.span],
    }
    result = ProbeResult(numbers)
    numbers["routing"] = anatomy.category_anatomy(route_recs) if routing else {"skipped": "model has no RouteTap"}
    if has_arms:
        per_cat = {c: anatomy.arm_cosine_matrix(anatomy.arm_mean_vectors(r.records)) for c, r in arm_recs.items()}
        result.arm_cosine = anatomy.arm_cosine_matrix(
            anatomy.arm_mean_vectors([rec for r in arm_recs.values() for rec in r.records]))
        numbers["arm_collapse"] = {
            "definition": "cosine of the span-mean arm outputs (before the blackboard), all categories pooled",
            "matrix": result.arm_cosine.tolist(), **anatomy.collapse_metric(result.arm_cosine),
            "per_category": {c: anatomy.collapse_metric(m) for c, m in per_cat.items()}}
    else:
        numbers["arm_collapse"] = {"skipped": "model has no reasoning arms (capabilities.arms = 0)"}
    if has_bb:
        where = "last prompt position (prompt-only forward)" if opts.positions == "last" else f"every {opts.span}-span position"
        numbers["blackboard_kl"] = {"definition": f"KL(p_on || p_off) in nats at the {where}, probabilities clamped at 1e-10",
                                    "per_category": {c: _kl_stats(v) for c, v in kls.items()},
                                    "all": _kl_stats([v for vs in kls.values() for v in vs])}
    else:
        numbers["blackboard_kl"] = {"skipped": "model has no blackboard"}
    numbers["signal"] = {"span": opts.span, "growth": stream.growth(), "injections": stream.injections()}
    tokens = vault.stop_tokens(loaded.tokenizer, ThinkOptions.from_card(loaded.card).think_close)
    numbers["vault"] = vault.termination_vault(model, tokens, loaded.card.generation.get("mask_vocab_from"))
    result.head_norms = vault.row_norms(vault.head_weight(model))
    flat = [it for v in items.values() for it in v]
    if opts.span != "prompt":
        result.think_lengths = [int(it.think_length or 0) for it in flat]
        numbers["think"] = {"budget": opts.think_budget, "lengths": result.think_lengths,
                            "closed": sum(it.think_stop == "closed" for it in flat), "n": len(flat)}
    numbers["prompts"] = [{"id": it.prompt.id, "category": it.prompt.category, "prompt_tokens": len(it.prompt_ids),
                           "span": list(it.span), "think_length": it.think_length, "think_stop": it.think_stop}
                          for it in flat]
    return result
