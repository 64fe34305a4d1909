"""A document's few-shot examples do not depend on chunking, resumption or sharding: evaluated in any chunk after
`replayed_draws`, it gets the examples of one uninterrupted lm-eval pass over the selected documents."""

from __future__ import annotations

import json
from pathlib import Path

from titan_eval.tasks import hub_mirror
from titan_eval.tasks.catalog import load_lm_eval_tasks
from titan_eval.tasks.fewshot import FewShot
from titan_eval.tasks.fewshot_draws import fewshot_states, replayed_draws

ROWS = [{"goal": f"How to do thing {i}?", "sol1": f"Way {i}a.", "sol2": f"Way {i}b.", "label": i % 2}
        for i in range(12)]


def _piqa(tmp_path: Path):
    folder = hub_mirror.mirror_folder(tmp_path, "baber/piqa", None)
    folder.mkdir(parents=True)
    for split in ("train", "validation"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return load_lm_eval_tasks(["piqa"], str(tmp_path), fewshot=FewShot(3, 5))["piqa"]


def test_any_chunk_gets_the_uninterrupted_runs_examples(tmp_path: Path) -> None:
    task = _piqa(tmp_path)
    docs = task.eval_docs
    selected = [0, 2, 3, 5, 7, 8, 11]
    task.set_fewshot_seed(seed=5)  # the uninterrupted pass, as lm-eval's evaluate builds it
    full = {d: task.fewshot_context(docs[d], 3) for d in selected}
    states = fewshot_states(task, selected, 5)
    for chunk in ([5, 8], [11], [2, 0], [7, 3]):  # a resumed run's later chunk, a rank's shard, any order
        task.set_fewshot_seed(seed=999)  # whatever state an earlier chunk left
        with replayed_draws(task, chunk, states):
            got = {d: task.fewshot_context(docs[d], 3) for d in sorted(chunk)}
        assert got == {d: full[d] for d in chunk}
    task.set_fewshot_seed(seed=999)
    assert task.fewshot_context(docs[8], 3) != full[8]  # without the replay the chunk would differ


def test_a_resumed_fewshot_run_writes_the_uninterrupted_runs_prompts(tmp_path: Path) -> None:
    """40 documents = two 32-document chunks; the resumed run redoes only the second, whose prompts (few-shot
    examples included) and scores must equal the uninterrupted run's. Without the replay its examples would be
    drawn from a freshly seeded sampler instead of the state the first chunk left."""
    import shutil

    from cli_helpers import invoke

    rows = [{"goal": f"How to do task {i}?", "sol1": f"Step {i}a.", "sol2": f"Step {i}b.", "label": i % 2}
            for i in range(40)]
    folder = hub_mirror.mirror_folder(tmp_path / "data", "baber/piqa", None)
    folder.mkdir(parents=True)
    for split in ("train", "validation"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ("run", "piqa", "--model", "mamba-tiny", "--data-dir", str(tmp_path / "data"), "--num-fewshot", "2")
    full = tmp_path / "full"
    assert invoke(*args, "--output", str(full)).returncode == 0
    lines = (full / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 40
    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    (resumed / "samples.jsonl").write_text("".join(ln + "\n" for ln in lines if json.loads(ln)["doc_id"] < 32))
    run = json.loads((resumed / "run.json").read_text())
    run["titan_eval"]["status"] = "interrupted"
    (resumed / "run.json").write_text(json.dumps(run))
    done = invoke(*args, "--resume", str(resumed))
    assert done.returncode == 0, (done.stderr, done.exception)
    by_id = lambda path: {json.loads(ln)["doc_id"]: ln for ln in (path / "samples.jsonl").read_text().splitlines()}  # noqa: E731
    assert by_id(resumed) == by_id(full)
