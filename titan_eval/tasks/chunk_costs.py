"""Two per-call costs of lm-eval 0.4.13's `evaluate` that a chunked run (`lm_eval_run`, 32 documents a call) would
pay once per chunk, removed without changing a prompt, a request or a result:

- `Task.doc_iterator(samples=ids)` walks the whole evaluation split and tests `i in ids` for every row (an Arrow
  row extraction each, O(split size) per call): `index_doc_iterator` gives the task an iterator that takes the
  chosen rows by index, in the same order (ascending ids, numbered 0..k-1 as lm-eval numbers them).
- `lm_eval.utils.apply_template` parses and compiles its Jinja template for every document
  (`env.from_string`): `cache_template_compilation` memoises the compiled template per template text (rendering
  is unchanged; a compiled Jinja template holds no per-render state).

Both apply to titan-eval's own runs only; lm-eval used on its own is left as it is.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterator

_TEMPLATE_CACHE_LIMIT = 1024


def index_doc_iterator(task: Any) -> Any:
    """Give `task` (an lm-eval Task) a `doc_iterator` that selects `samples` by index; other calls go to lm-eval's
    own. The evaluation split is resolved once here. Idempotent. Returns the task."""
    if getattr(task.doc_iterator, "titan_eval_indexed", False):
        return task
    docs = task.eval_docs
    original: Callable[..., Iterator[tuple[int, Any]]] = task.doc_iterator

    def doc_iterator(*, rank: int = 0, limit: int | None = None, world_size: int = 1,
                     samples: list[int] | None = None) -> Iterator[tuple[int, Any]]:
        if not samples:
            return original(rank=rank, limit=limit, world_size=world_size, samples=samples)
        chosen = sorted(set(samples))
        if chosen[0] < 0 or chosen[-1] >= len(docs):
            raise IndexError(f"{task.config.task}: sample ids must lie in [0, {len(docs) - 1}]")
        return islice(enumerate(docs[i] for i in chosen), int(rank), None, int(world_size))

    doc_iterator.titan_eval_indexed = True  # type: ignore[attr-defined]
    task.doc_iterator = doc_iterator
    return task


def cache_template_compilation() -> None:
    """Memoise lm-eval's Jinja `env.from_string` for plain template texts (idempotent)."""
    from lm_eval import utils

    env = utils.env
    if getattr(env.from_string, "titan_eval_cached", False):
        return
    original = env.from_string
    cache: dict[str, Any] = {}

    def from_string(source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return original(source, globals, template_class)
        template = cache.get(source)
        if template is None:
            if len(cache) >= _TEMPLATE_CACHE_LIMIT:
                cache.clear()
            template = cache[source] = original(source)
        return template

    from_string.titan_eval_cached = True  # type: ignore[attr-defined]
    env.from_string = from_string
