"""`TitanEvalLM`: lm-eval's `TemplateLM` on top of the titan-eval engine.

lm-eval builds every request, then calls `loglikelihood` / `loglikelihood_rolling` / `generate_until` once per
request type; this adapter tokenises exactly as lm-eval's causal contract says (context + continuation encoded
whole, split at len(encode(context)); empty context → the EOT/prefix token) and hands token pairs to the engine,
which reuses each shared context's recurrent state. In `mode="think"` every unique context first gets a generated
think trace (see `titan_eval.think`), and choices are scored after prompt + trace + closer + answer cue.

Usable three ways: `simple_evaluate(model=TitanEvalLM(card=...))`, `lm_eval --model titan-eval --model_args
card=...` (after `python -m titan_eval.lm_eval_hook --install`), and by `titan-eval run`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
from lm_eval.api import registry as lm_eval_registry
from lm_eval.api.model import TemplateLM
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window, simple_parse_args_string

from titan_eval import distributed
from titan_eval.distributed import SINGLE, Dist
from titan_eval.engine import GenerationConfig, ScoreRequest, TokenCounter, generate, score
from titan_eval.errors import TokenizerError, UsageError
from titan_eval.lm_eval_hook import register_placeholder
from titan_eval.loading import LoadedModel, load
from titan_eval.seeding import derived_seed

DEFAULT_MAX_LENGTH = 2048
MODEL_ARGS = ("card", "checkpoint", "tokenizer", "device", "dtype", "batch_size", "mode", "reuse_prefix",
              "trust_checkpoint", "kernels", "max_length", "think_budget", "list_choices", "seed", "deterministic",
              "data_dir", "max_batch_size")
"""What `--model_args` may name (`TitanEvalLM.__init__`'s user-facing keywords)."""


@dataclass
class RequestLog:
    """Per-request details lm-eval's own logs lack, keyed by (task, doc_id, choice index)."""

    n_tokens: dict[tuple[str, Any, int], int] = field(default_factory=dict)
    """Tokens scored: a loglikelihood request's continuation, a rolling request's whole text."""
    think: dict[tuple[str, Any], dict[str, Any]] = field(default_factory=dict)
    generated: dict[tuple[str, Any, int], dict[str, Any]] = field(default_factory=dict)
    """A generate_until request's `{"n_tokens": generated tokens, "stop_reason": ...}` (its first sample)."""
    samples: dict[tuple[str, Any, int], dict[int, dict[str, Any]]] = field(default_factory=dict)
    """With K samples per request (the task's `repeats`): sample index → that sample's generation record (and its
    think record in think mode)."""


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


class TitanEvalLM(TemplateLM):
    """lm-eval model backed by a titan-eval card. Keyword args (all strings allowed, as from --model_args):
    card, checkpoint, tokenizer, device, dtype, batch_size, mode (ll|think), reuse_prefix, trust_checkpoint,
    kernels (auto|torch|kernel), max_length, think_budget, list_choices, seed, deterministic (one request per
    model call: bitwise the same results for any batch size, `engine.invariance`); and `data_dir`, which is the
    tasks' (lm-eval hands --model_args to the tasks as metadata too, so it reaches their loaders; the model
    ignores it), and lm-eval's own `max_batch_size` (ignored). Any other name is a `UsageError` listing these.
    A name given both in --model_args and by lm-eval's own options (--device, --batch_size) takes the
    --model_args value.

    Built by lm-eval (no `loaded`) under torchrun / accelerate launch, it joins the launcher's process group
    and reports its rank and world size, so lm-eval's evaluator shards the documents and gathers on rank 0.
    Built by `titan-eval run` (with `loaded`), it is single-process by default: the runner shards itself."""

    def __init__(
        self,
        card: str = "titan-tiny",
        checkpoint: str | None = None,
        tokenizer: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | str = 8,
        mode: str = "ll",
        reuse_prefix: bool | str = True,
        trust_checkpoint: bool | str = False,
        kernels: str = "auto",
        max_length: int | str | None = None,
        think_budget: int | str = 256,
        list_choices: bool | str = True,
        seed: int | str = 0,
        deterministic: bool | str = False,
        data_dir: str | None = None,
        max_batch_size: int | str | None = None,
        loaded: LoadedModel | None = None,
        think_options: Any = None,
        open_think_options: Any = None,
        sampling: dict[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
        dist: Dist | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise UsageError(f"unknown titan-eval model arg(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(MODEL_ARGS)}")
        super().__init__()
        if mode not in ("ll", "think"):
            raise UsageError(f"mode must be 'll' or 'think', not {mode!r}")
        if device is not None and device.startswith("cuda") and not torch.cuda.is_available():
            logging.getLogger(__name__).warning("device %s requested but CUDA is unavailable; using cpu", device)
            device = "cpu"  # lm_eval's CLI passes cuda by default
        if dist is None:  # built by lm-eval itself: join the launcher's processes, if any (else SINGLE)
            dist = SINGLE if loaded is not None else distributed.init(device)
        self.dist = dist
        self.loaded = loaded or load(card, checkpoint, tokenizer, dist.device(device), dtype,
                                     _as_bool(trust_checkpoint), kernels)
        self.model, self.tok = self.loaded.model, self.loaded.tokenizer
        self._device = self.loaded.device
        if self.tok.eos_id is None:
            raise TokenizerError(f"tokenizer {self.tok.name} has no EOS token; give one in the card")
        self.batch_size_value = int(str(batch_size).split(":")[0]) if str(batch_size) != "auto" else 8
        self.mode = mode
        self.reuse_prefix = _as_bool(reuse_prefix)
        self._max_length = int(max_length) if max_length else (self.model.max_positions or DEFAULT_MAX_LENGTH)
        self.seed = int(seed)
        self.deterministic = _as_bool(deterministic)
        self.counter = TokenCounter()
        self.progress = progress  # told about every batch of newly generated tokens
        self.sampling = dict(sampling or {})  # generate_until in ll mode: temperature (> 0 samples), top_p, top_k
        self.log = RequestLog()
        self.sample_ids: dict[str, list[int]] = {}  # task → the doc ids of the current `samples=` call, sorted
        if mode == "think":
            from titan_eval.think import ThinkOptions

            self.think_options = think_options or ThinkOptions.from_card(
                self.loaded.card, think_budget=int(think_budget), list_choices=_as_bool(list_choices))
            # generate_until tasks: open questions, so no multiple-choice preamble unless the run gave one
            self.open_think_options = open_think_options or replace(self.think_options, preamble="")
        else:
            self.think_options = self.open_think_options = None

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict[str, Any] | None = None) -> "TitanEvalLM":
        """`--model_args k=v,…` (lm-eval's parser) plus lm-eval's own settings; see `create_from_arg_obj`."""
        return cls.create_from_arg_obj(simple_parse_args_string(arg_string), additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict[str, Any], additional_config: dict[str, Any] | None = None) -> "TitanEvalLM":
        """lm-eval's evaluator passes `batch_size`, `max_batch_size` and `device` beside --model_args (`device`
        even when the user did not choose one); a name given in --model_args keeps that value instead of being
        passed twice (lm-eval's base class would raise `got multiple values for keyword argument`)."""
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None and k not in arg_dict}
        return cls(**arg_dict, **extra)

    # -- lm-eval's multi-process hooks (its evaluator shards by rank and gathers on rank 0) -----------------
    @property
    def rank(self) -> int:
        return self.dist.rank

    @property
    def world_size(self) -> int:
        return self.dist.world_size

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        return distributed.all_gather_tensor(self.dist, tensor)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        return distributed.gather_object(self.dist, obj, dst)

    def barrier(self) -> None:
        distributed.barrier(self.dist)

    # -- TemplateLM contract ----------------------------------------------------------------------------
    @property
    def eot_token_id(self) -> int:
        return int(self.tok.eos_id)

    @property
    def max_length(self) -> int:
        return self._max_length

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        return self.tok.encode(string)

    def tok_decode(self, tokens: list[int], **kwargs: Any) -> str:
        return self.tok.decode(tokens)

    def loglikelihood(self, requests: list, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """Remember which Instance each request belongs to, then score through TemplateLM's tokenisation."""
        self._instances = list(requests)
        return super().loglikelihood(requests, disable_tqdm=True)

    def _loglikelihood_tokens(self, requests: list, disable_tqdm: bool = False, **kwargs: Any) -> list[tuple[float, bool]]:
        pairs = [self._truncate(ctx, cont) for _, ctx, cont in requests]
        instances = getattr(self, "_instances", None) or None
        if self.mode == "think":
            from titan_eval.think import ThinkScoring, think_then_score

            settings = ThinkScoring(self.seed, self.batch_size_value, self.reuse_prefix, self.counter, self.progress,
                                    self.deterministic)
            results, traces = think_then_score(self.model, self.tok, self.think_options, pairs,
                                               self._choice_docs(pairs, instances), settings)
            self.log.think.update(traces)
        else:
            reqs = [ScoreRequest(tuple(c), tuple(x)) for c, x in pairs]
            results = score(self.model, reqs, self.batch_size_value, self.reuse_prefix, self.counter,
                            deterministic=self.deterministic)
        for inst, (_, cont) in zip(getattr(self, "_instances", []) or [], pairs):
            self.log.n_tokens[(inst.task_name, self.doc_id(inst), inst.idx)] = len(cont)
        self._instances = []
        return [(r.logprob, r.is_greedy) for r in results]

    def _choice_docs(self, pairs: list[tuple[list[int], list[int]]], instances: list | None) -> list:
        """Think mode's view of each pair: its document's context text and choices (from lm-eval's Instances),
        or the decoded context ids when called without Instances."""
        from titan_eval.think import ChoiceDoc

        if not instances:
            return [ChoiceDoc(None, k, self.tok.decode(ctx)) for k, (ctx, _) in enumerate(pairs)]
        choices: dict[tuple[Any, Any], dict[int, str]] = {}
        for inst in instances:
            choices.setdefault((inst.task_name, self.doc_id(inst)), {})[inst.idx] = inst.args[1]
        return [ChoiceDoc(inst.task_name, self.doc_id(inst), inst.args[0],
                          tuple(v for _, v in sorted(choices[(inst.task_name, self.doc_id(inst))].items())), inst.idx)
                for inst in instances]

    def doc_id(self, inst: Any, default: Any = None) -> Any:
        """The task's own index of `inst`'s document. Evaluating `samples={task: ids}`, lm-eval numbers the
        chosen documents 0..n-1 in its Instances (and maps back only in its sample records); `sample_ids[task]`
        (the sorted ids of the current call, set by the caller) maps them back here too."""
        doc_id = getattr(inst, "doc_id", default)
        ids = self.sample_ids.get(getattr(inst, "task_name", None))
        return ids[doc_id] if ids is not None and isinstance(doc_id, int) else doc_id

    def _truncate(self, ctx: list[int], cont: list[int]) -> tuple[list[int], list[int]]:
        """Left-truncate like lm-eval: the scored row (ctx + cont)[:-1] keeps at most max_length tokens."""
        whole = (list(ctx) + list(cont))[-(self.max_length + 1):]
        cut = len(whole) - len(cont)
        if cut < 1:
            raise UsageError(f"continuation of {len(cont)} tokens does not fit max_length {self.max_length}")
        return whole[:cut], whole[cut:]

    def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
        """Full-text log-probability over disjoint max_length windows conditioned on the EOT token."""
        out = []
        for inst in requests:
            (text,) = inst.args
            ids = self.tok_encode(text)
            windows = [make_disjoint_window(w) for w in get_rolling_token_windows(
                token_list=ids, prefix_token=self.prefix_token_id, max_seq_len=self.max_length, context_len=1)]
            reqs = [ScoreRequest(tuple(c), tuple(x)) for c, x in windows if x]
            out.append(sum(r.logprob for r in score(self.model, reqs, self.batch_size_value, self.reuse_prefix,
                                                    self.counter, deterministic=self.deterministic)))
            self.log.n_tokens[(getattr(inst, "task_name", None), self.doc_id(inst), 0)] = len(ids)
        return out

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        """Greedy (or seeded sampled) generation with lm-eval's HFLM semantics: its generation kwargs normalised
        by lm-eval (`max_gen_toks` and its aliases, default 256; `do_sample`/`temperature`), the EOS text added to
        the stop strings, the context left-truncated to max_length − max_gen_toks tokens, the text cut before the
        first stop string. In think mode each context first gets a think trace (`_think_generate`) and the task's
        generation runs after it: only that answer is returned to lm-eval."""
        results: list[str] = [""] * len(requests)
        groups: dict[str, list[int]] = {}
        seen: dict[int, int] = {}
        sample_index = []  # lm-eval repeats a request K times (the task's `repeats`): the k-th copy is sample k
        for i, inst in enumerate(requests):
            groups.setdefault(repr(sorted(inst.args[1].items())), []).append(i)
            sample_index.append(seen.get(id(inst), 0))
            seen[id(inst)] = sample_index[-1] + 1
        for members in groups.values():
            config = self._task_generation(dict(requests[members[0]].args[1]))
            chosen = [requests[i] for i in members]
            run = self._think_generate if self.mode == "think" else self._generate
            texts = run(chosen, config, members, [sample_index[i] for i in members])
            for i, text in zip(members, texts):
                results[i] = text
        return results

    def _task_generation(self, gen_kwargs: dict[str, Any]) -> GenerationConfig:
        """A generate_until request's decoding, as lm-eval's HFLM reads its kwargs."""
        from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs

        kwargs = normalize_gen_kwargs(gen_kwargs, 256)
        until = handle_stop_sequences(kwargs.pop("until", None), eos=self.tok_decode([self.eot_token_id]) or None)
        max_gen_toks = int(kwargs.pop("max_gen_toks"))
        if max_gen_toks >= self.max_length:
            raise UsageError(f"max_gen_toks {max_gen_toks} must be below the model's max_length {self.max_length}")
        temperature = float(kwargs.get("temperature", 0.0)) if kwargs.get("do_sample") else 0.0
        top_p, top_k = 1.0, 0
        if self.mode == "ll" and float(self.sampling.get("temperature") or 0.0) > 0:  # the run's sampling wins
            temperature = float(self.sampling["temperature"])
            top_p, top_k = float(self.sampling.get("top_p", 1.0)), int(self.sampling.get("top_k", 0))
        return GenerationConfig(
            max_new_tokens=max_gen_toks, stop_ids=(self.eot_token_id,), stop_strings=tuple(until),
            temperature=temperature, top_p=top_p, top_k=top_k,
            mask_vocab_from=self.loaded.card.generation.get("mask_vocab_from"))

    def _generate(self, requests: list, config: GenerationConfig, positions: list[int],
                  samples: list[int]) -> list[str]:
        """Plain generation; `positions[i]`: request i's place in lm-eval's list (its id when it has no doc_id);
        `samples[i]`: which of its document's K samples it is (seeded apart; sample 0 as a single request)."""
        prompts = [self.tok_encode(inst.args[0])[-(self.max_length - config.max_new_tokens):] for inst in requests]
        seeds = [derived_seed(self.seed, getattr(inst, "task_name", None), self.doc_id(inst, i), "generate",
                              *([k] if k else [])) for i, inst, k in zip(positions, requests, samples)]
        gens = generate(self.model, self.tok, prompts, config, seeds, self.batch_size_value, self.reuse_prefix,
                        progress=self.progress, deterministic=self.deterministic)
        for i, inst, k, g, seed in zip(positions, requests, samples, gens, seeds):
            key = (getattr(inst, "task_name", None), self.doc_id(inst, i), getattr(inst, "idx", 0))
            record = {"n_tokens": len(g.ids), "stop_reason": g.stop_reason}
            self._log_sample(key, k, record, {"generation": g.text, **record, "seed": seed})
        return [g.text for g in gens]

    def _log_sample(self, key: tuple[Any, Any, int], k: int, first: dict[str, Any], sample: dict[str, Any]) -> None:
        if k == 0:
            self.log.generated[key] = first
        self.log.samples.setdefault(key, {})[k] = sample

    def _think_generate(self, requests: list, config: GenerationConfig, positions: list[int],
                        samples: list[int]) -> list[str]:
        """Think, then the task's generation (`think_generation`); the trace goes to the log, the answer back.
        Sample k > 0 of a document has its own seeded trace."""
        from titan_eval.think_generation import think_then_generate

        keys = [(getattr(inst, "task_name", None), self.doc_id(inst, i)) for i, inst in zip(positions, requests)]
        items = [(task, doc if k == 0 else f"{doc}#{k}") for (task, doc), k in zip(keys, samples)]
        answers, records = think_then_generate(self, [inst.args[0] for inst in requests], items, config)
        for inst, (task, doc_id), k, answer, record in zip(requests, keys, samples, answers, records):
            if k == 0:
                self.log.think[(task, doc_id)] = record["think"]
            self._log_sample((task, doc_id, getattr(inst, "idx", 0)), k, record["answer"],
                             {"generation": answer, **record["answer"], "think": record["think"]})
        return answers

    @property
    def tokenizer_name(self) -> str:
        """Names the prompt rendering for lm-eval's request cache: tokenizer and chat template."""
        return f"{self.tok.name}|{self.loaded.card.prompt.chat_template}"

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        """The card's chat template name (lm-eval records it); "" when the card has none."""
        return self.loaded.card.prompt.chat_template or ""

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """lm-eval's messages ({role, content}) in the card's chat template (`chat_templates.render`); without
        `add_generation_prompt` (a task's gen_prefix is the last, assistant, message) that message is left open
        for the model to continue, as lm-eval's HFLM asks of transformers (`continue_final_message`)."""
        from titan_eval.chat_templates import render

        name = self.loaded.card.prompt.chat_template
        if name is None:
            raise UsageError(f"card {self.loaded.card.name} names no chat template (prompt.chat_template), so "
                             f"--apply_chat_template cannot render its prompts")
        open_last = not add_generation_prompt and bool(chat_history) and chat_history[-1].get("role") == "assistant"
        return render(name, chat_history, add_generation_prompt=add_generation_prompt, continue_final=open_last)

    def get_model_info(self) -> dict[str, Any]:
        """Merged by lm-eval into results['config']."""
        prov = self.loaded.provenance()
        return {"titan_eval_card": self.loaded.card.name, "checkpoint_sha256": prov["checkpoint_sha256"],
                "tokenizer_fingerprint": prov["tokenizer"]["fingerprint"], "backend": prov["backend"],
                "dtype": prov["dtype"], "mode": self.mode, "deterministic": self.deterministic}


register_placeholder(lm_eval_registry)  # the one registration (lm_eval_hook): "titan-eval" → this class, lazily
