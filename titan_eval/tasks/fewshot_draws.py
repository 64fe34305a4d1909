"""Few-shot examples that depend on the document, not on how a run was cut up.

lm-eval draws every document's few-shot examples from one random generator per task, advanced document by document
in the order `evaluate` builds them. titan-eval evaluates a task in chunks, resumes a run from its finished chunks
and shards documents across ranks, so a chunk would start from whatever state the previous chunk left (or a fresh
one), and a document's examples would depend on chunking, resumption and the number of ranks.

The canonical sequence is lm-eval's own: one uninterrupted `evaluate` over the run's selected documents in dataset
order, the sampler seeded with the run's few-shot seed. `fewshot_states` walks that sequence once (drawing only,
no model) and keeps the generator's state before each document's draw; `replayed_draws` restores that state before
each draw of a chunk. Every document then gets the examples the uninterrupted lm-eval run gives it, whatever chunk,
resumption or rank it is evaluated in.

Glossary:
    state    `random.Random.getstate()` of the task's sampler just before a document's draw
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence


def _draws_examples(task: Any) -> bool:
    """True for a task whose prompts hold sampled few-shot examples (a configurable task with num_fewshot > 0)."""
    return bool(task.get_config("num_fewshot")) and hasattr(task, "sampler") and hasattr(task, "fewshot_cfg")


def fewshot_states(task: Any, doc_ids: Sequence[int], seed: int) -> dict[int, Any]:
    """{doc_id: sampler state before its draw} along the canonical sequence (`doc_ids` sorted); {} for a task
    without sampled examples. Reseeds the sampler with `seed` (as `set_fewshot_seed` does)."""
    if not _draws_examples(task):
        return {}
    n = int(task.get_config("num_fewshot"))
    task.set_fewshot_seed(seed=seed)
    sampler, docs = task.sampler, task.eval_docs
    same_split = task.fewshot_cfg.split == task.config.test_split  # lm-eval then leaves the eval doc out
    states: dict[int, Any] = {}
    for doc_id in sorted(doc_ids):
        states[doc_id] = sampler.rnd.getstate()
        sampler.sample(n=n, eval_doc=docs[doc_id] if same_split else None)
    return states


@contextmanager
def replayed_draws(task: Any, chunk: Sequence[int], states: Mapping[int, Any]) -> Iterator[None]:
    """While active, the task's sampler starts each draw from the canonical state of the next document of `chunk`
    (sorted: the order lm-eval builds them in). No-op when `states` is empty."""
    if not states:
        yield
        return
    sampler = task.sampler
    pending = iter([states[d] for d in sorted(chunk)])
    original = sampler.sample

    def sample(*args: Any, **kwargs: Any) -> Any:
        state = next(pending, None)
        if state is not None:
            sampler.rnd.setstate(state)
        return original(*args, **kwargs)

    sampler.sample = sample
    try:
        yield
    finally:
        del sampler.sample  # the class's method again
