"""The per-chunk cost cuts change nothing lm-eval sees: the indexed doc iterator yields lm-eval's own documents in
its order and numbering, and a memoised Jinja template renders what a fresh one renders."""

from __future__ import annotations

import random

import pytest

from titan_eval.tasks.catalog import load_lm_eval_tasks
from titan_eval.tasks.chunk_costs import cache_template_compilation, index_doc_iterator


@pytest.fixture(scope="module")
def tasks() -> tuple:
    plain = load_lm_eval_tasks(["titan_sample"], None)["titan_sample"]
    fast = index_doc_iterator(load_lm_eval_tasks(["titan_sample"], None)["titan_sample"])
    return plain, fast


def test_indexed_iterator_equals_lm_evals(tasks: tuple) -> None:
    plain, fast = tasks
    rng = random.Random(0)
    n = len(plain.eval_docs)
    for _ in range(20):
        samples = rng.sample(range(n), rng.randint(1, n))
        for rank, world in ((0, 1), (1, 2), (0, 3)):
            ours = list(fast.doc_iterator(rank=rank, world_size=world, samples=samples))
            theirs = list(plain.doc_iterator(rank=rank, world_size=world, samples=samples))
            assert ours == theirs and (ours or rank > 0)
    assert list(fast.doc_iterator(limit=5)) == list(plain.doc_iterator(limit=5))  # no samples: lm-eval's own
    with pytest.raises(IndexError, match="sample ids"):
        list(fast.doc_iterator(samples=[n]))


def test_memoised_templates_render_the_same() -> None:
    from lm_eval import utils

    template = "Question: {{question}}\nAnswer:{% if x %} {{x|upper}}{% endif %}"
    docs = [{"question": f"q{i}?", "x": "abc" if i % 2 else ""} for i in range(5)]
    before = [utils.apply_template(template, d) for d in docs]
    cache_template_compilation()
    cache_template_compilation()  # idempotent
    assert utils.env.from_string(template) is utils.env.from_string(template)
    assert [utils.apply_template(template, d) for d in docs] == before == [
        "Question: q0?\nAnswer:", "Question: q1?\nAnswer: ABC", "Question: q2?\nAnswer:", "Question: q3?\nAnswer: ABC",
        "Question: q4?\nAnswer:"]
