"""Think mode for lm-eval `generate_until` tasks (gsm8k in `--cot`): think first, then the task's own generation.

Per document: prompt = card template around [the --preamble if one was given, and the task's context (few-shot
examples included) without its trailing `Answer:` cue] plus the think opener. Phase 1 generates the trace with the
think settings (card format, --think-budget, seeded sampling knobs) until the closer, EOS or the budget; a trace cut
by the budget is `forced` and the closer is appended for the model. The task's stop sequences play no part in it,
so they never cut a trace. Phase 2 generates the answer after prompt + trace + closer + the card's answer cue with
the task's own decoding (`until`, `max_gen_toks`, do_sample/temperature as lm-eval reads them; the closer banned):
only this answer goes back to lm-eval, so only it reaches the task's filters and metrics. A trace that ended with
EOS gets no answer (""). The pipeline is the open-question one (`suites.think_answer`); seeds are derived per
(run seed, task, doc id, phase), so nothing depends on batching.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from titan_eval.engine import GenerationConfig
from titan_eval.errors import UsageError
from titan_eval.loading import LoadedModel
from titan_eval.think_options import TASK_ANSWER_CUE, ThinkOptions
from titan_eval.tokenizers import Tokenizer


class ThinkingLM(Protocol):
    """What the pipeline reads of the adapter (`adapter.TitanEvalLM` in think mode)."""

    loaded: LoadedModel
    tok: Tokenizer
    open_think_options: ThinkOptions
    max_length: int
    seed: int
    batch_size_value: int
    reuse_prefix: bool
    deterministic: bool
    progress: Callable[[int], None] | None

NO_ANSWER = "eos_in_think"
"""The answer record's stop reason when EOS ended the think block (no answer phase ran)."""


def question_body(context: str) -> str:
    """The task's context as the think prompt's question: a trailing `Answer:` cue is dropped (the card's answer
    cue follows the think block instead)."""
    return TASK_ANSWER_CUE.sub("", context.rstrip())


def think_then_generate(lm: ThinkingLM, contexts: Sequence[str], keys: Sequence[tuple[str | None, Any]],
                        config: GenerationConfig) -> tuple[list[str], list[dict[str, Any]]]:
    """Both phases for each context (`keys[i]` = (task, doc id) of context i; `config`: the task's decoding).

    Returns the answers (input order; what lm-eval filters) and per context {"think": the trace record (prompt,
    text, ids, stop_reason, length, p_close, seed), "answer": {"n_tokens", "stop_reason", "seed"}}."""
    from titan_eval.suites.think_answer import Decoding, ThinkAnswerSettings, think_then_answer

    opts = lm.open_think_options
    settings = ThinkAnswerSettings(opts, answer_budget=config.max_new_tokens, thinking=True)
    room = lm.max_length - opts.think_budget - len(opts.closer_ids(lm.tok)) - config.max_new_tokens
    if room < 1:
        raise UsageError(f"--think-budget {opts.think_budget} plus max_gen_toks {config.max_new_tokens} leave no room "
                         f"for the prompt in the model's max_length {lm.max_length}")
    decoding = Decoding(answer=config, max_prompt_tokens=room, deterministic=lm.deterministic, progress=lm.progress)
    answers: list[str] = [""] * len(contexts)
    records: list[dict[str, Any]] = [{}] * len(contexts)
    by_task: dict[str | None, list[int]] = {}
    for i, (task, _) in enumerate(keys):
        by_task.setdefault(task, []).append(i)
    for task, members in by_task.items():
        outs, _ = think_then_answer(lm.loaded, settings, task, [keys[i][1] for i in members],
                                    [question_body(contexts[i]) for i in members], lm.seed, lm.batch_size_value,
                                    lm.reuse_prefix, decoding)
        for i, out in zip(members, outs):
            think = {"prompt": out.prompt, **(out.think or {}), "seed": out.seeds["think"]}
            if len(lm.tok.encode(out.prompt)) > len(out.prompt_ids):
                think["prompt_truncated_to"] = len(out.prompt_ids)
            answers[i] = out.answer_text
            records[i] = {"think": think, "answer": {"n_tokens": len(out.answer_ids),
                                                     "stop_reason": out.answer_stop or NO_ANSWER,
                                                     "seed": out.seeds["answer"]}}
    return answers, records
