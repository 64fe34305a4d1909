"""`titan-eval run` with lm-eval's options for catalogue tasks: --num-fewshot / --fewshot-seed applied as lm-eval
applies them (same examples as lm-eval's sampler with that seed, recorded in run.json), and --include-path (a
user's task folder, announced with a notice, read only when given)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import titan_eval
from titan_eval.tasks import hub_mirror
from titan_eval.tasks.task_names import catalogue_folders

ROWS = [{"goal": f"How to do thing {i}?", "sol1": f"Way {i}a.", "sol2": f"Way {i}b.", "label": i % 2}
        for i in range(8)]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mirror")
    folder = hub_mirror.mirror_folder(root, "baber/piqa", None)
    folder.mkdir(parents=True)
    for split, rows in (("train", ROWS), ("validation", ROWS[:3])):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _prompts(run: Path) -> list[str]:
    return [json.loads(line)["prompt"] for line in (run / "samples.jsonl").read_text().splitlines()]


def _lm_eval_fewshot_prompts(mirror: Path, n: int, seed: int) -> list[str]:
    """The contexts lm-eval builds for piqa's validation docs with n examples drawn by a sampler seeded `seed`."""
    from lm_eval.tasks import TaskManager

    with hub_mirror.serving(mirror):
        folder = catalogue_folders(["piqa"])[0]
        task = TaskManager(include_path=[str(folder)], include_defaults=False).load(["piqa"])["tasks"]["piqa"]
    task.set_config(key="num_fewshot", value=n)
    task.set_fewshot_seed(seed=seed)
    task.build_all_requests(rank=0, world_size=1)
    by_doc = {inst.doc_id: inst.arguments[0] for inst in task.instances}
    return [by_doc[d] for d in sorted(by_doc)]


def test_fewshot_examples_match_lm_evals_sampler_and_are_recorded(tmp_path: Path, mirror: Path) -> None:
    common = ("--model", "titan-tiny", "--data-dir", str(mirror))
    runs = {}
    for name, extra in {"a": ("--num-fewshot", "2", "--fewshot-seed", "3"),
                        "c": ("--num-fewshot", "2", "--fewshot-seed", "4"), "zero": ()}.items():
        done = titan_eval("run", "piqa", *common, *extra, "--output", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        runs[name] = _prompts(tmp_path / name)
    assert runs["a"] == _lm_eval_fewshot_prompts(mirror, 2, 3)
    assert runs["c"] == _lm_eval_fewshot_prompts(mirror, 2, 4) != runs["a"]
    assert runs["zero"] == [f"Question: {r['goal']}\nAnswer:" for r in ROWS[:3]]
    assert all(p.count("Question:") == 3 for p in runs["a"])
    options = json.loads((tmp_path / "a" / "run.json").read_text())["titan_eval"]["options"]
    assert (options["num_fewshot"], options["fewshot_seed"]) == (2, 3)


EVIL = """task: evil_quiz
dataset_path: me/quiz
custom_dataset: !function evil_mod.dataset
output_type: multiple_choice
test_split: test
doc_to_text: "{{q}}"
doc_to_target: 0
doc_to_choice: ["a", "b"]
metric_list:
  - metric: acc
"""


def test_include_path_is_announced_and_read_only_when_given(tmp_path: Path, mirror: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    marker = tmp_path / "imported"
    (folder / "evil_mod.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
                                        "import datasets\ndef dataset(**kw):\n    return datasets.DatasetDict("
                                        "{'test': datasets.Dataset.from_list([{'q': 'x?'}, {'q': 'y?'}])})\n")
    (folder / "evil.yaml").write_text(EVIL)
    refused = titan_eval("run", "evil_quiz", "--model", "titan-tiny", "--output", str(tmp_path / "r0"))
    assert refused.returncode == 2 and "unknown task(s) evil_quiz" in refused.stderr and not marker.exists()
    done = titan_eval("run", "evil_quiz", "--include-path", str(folder), "--model", "titan-tiny",
                      "--output", str(tmp_path / "r1"))
    assert done.returncode == 0, done.stderr
    assert "note: --include-path" in done.stderr and "import Python from that folder" in done.stderr
    assert marker.exists()  # the user vouched for the folder: its module ran, as lm-eval would run it
    assert len(_prompts(tmp_path / "r1")) == 2


def test_stratify_without_a_stratum_field_is_refused_before_anything_loads() -> None:
    """piqa has no natural group to stratify on: one `error:` line, exit 2, before torch or lm-eval is imported;
    the tag ai2_arc expands to the project's ARC tasks, which have one."""
    import subprocess
    import sys

    probe = ("import sys\nfrom titan_eval.cli.app import main\nsys.argv = ['titan-eval', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit as done:\n"
             "    print('exit', done.code, sorted(m for m in ('torch', 'lm_eval') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe, "run", "piqa", "--limit", "5", "--stratify"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "exit 2 []", done.stderr
    assert done.stderr.startswith("error: --stratify: piqa has no documented stratum field")
    from titan_eval.run_options import RunOptions

    RunOptions(tasks=("ai2_arc",), limit=5, stratify=True).validate()


def test_gen_kwargs_and_system_instruction_reach_the_prompts_and_generations(tmp_path: Path) -> None:
    """`--gen-kwargs max_gen_toks=3` caps gsm8k's generations (its YAML's `until` kept); `--system-instruction`
    opens every prompt exactly as lm-eval's `--system_instruction` does (its own `fewshot_context`); both are
    recorded; a malformed --gen-kwargs is one error line before anything loads."""
    from catalogue_mirror import build_mirror

    mirror = build_mirror(tmp_path / "mirror", long_page_words=60)
    out = tmp_path / "run"
    done = titan_eval("run", "gsm8k", "piqa", "--model", "mamba-tiny", "--data-dir", str(mirror), "--limit", "2",
                      "--num-fewshot", "0", "--gen-kwargs", "max_gen_toks=3", "--system-instruction", "Be brief.",
                      "--output", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    gsm = [ln for ln in lines if ln["task"] == "gsm8k"]
    assert gsm and all(ln["n_tokens"] <= 3 for ln in gsm)
    from lm_eval.tasks import TaskManager

    with hub_mirror.serving(mirror):
        piqa = TaskManager(include_path=[str(catalogue_folders(["piqa"])[0])], include_defaults=False).load(
            ["piqa"])["tasks"]["piqa"]
    piqa.set_config(key="num_fewshot", value=0)
    piqa.set_fewshot_seed(seed=0)
    expected = [piqa.fewshot_context(piqa.eval_docs[d], 0, system_instruction="Be brief.") for d in (0, 1)]
    assert [ln["prompt"] for ln in lines if ln["task"] == "piqa"] == expected
    assert all(ln["prompt"].startswith("Be brief.") for ln in lines)
    options = json.loads((out / "run.json").read_text())["titan_eval"]["options"]
    assert (options["gen_kwargs"], options["system_instruction"]) == ("max_gen_toks=3", "Be brief.")
    bad = titan_eval("run", "gsm8k", "--gen-kwargs", "max_gen_toks", "--model", "mamba-tiny")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --gen-kwargs: 'max_gen_toks' is not key=value")
