"""A plain (non-editable) install finds its own cards, tasks and task data, and writes results under the working
directory: the wheel is built from a copy of the source tree, installed into a fresh venv, and the console script
is run from an unrelated folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "results", "build", "dist", "*.egg-info", "__pycache__",
                                   ".hypothesis", ".pytest_cache", "*.pyc")


def _run(*args: str | Path, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["TITAN_EVAL_SHARED"] = str(cwd / "no-shared-here")  # nothing from ../shared can leak in
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the built wheel; the test venv's site-packages supplies the dependencies (torch,
    lm-eval, pip, …) through a .pth line (a plain path entry: the editable install's own .pth hooks there are not
    run), so nothing is downloaded and no titan-eval source is importable but the wheel's."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                 root / "dist", source, cwd=root)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (root / "dist").glob("titan_eval-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("titan_eval/_bundled/model/titan-tiny.yaml", "titan_eval/_bundled/tasks/titan_sample.yaml",
                   "titan_eval/_bundled/tasks/titan_data.py", "titan_eval/_bundled/tasks/sample/titan_sample.jsonl",
                   "titan_eval/_bundled/tasks/reasoning85/suite.jsonl", "titan_eval/_bundled/build.json",
                   "titan_eval/view/static/index.html", "titan_eval/view/static/main.js",
                   "titan_eval/view/static/viewer.css"):
        assert needed in names, f"{needed} missing from {wheel.name}"
    venv = root / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    purelib = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                        cwd=root).stdout.strip())
    (purelib / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    put = _run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=root)
    assert put.returncode == 0, put.stderr[-2000:]
    return venv


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An unrelated working directory, far from the checkout."""
    folder = tmp_path / "somewhere" / "else"
    folder.mkdir(parents=True)
    return folder


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path, elsewhere: Path) -> None:
    proc = _run(installed / "bin" / "python", "-c",
                "import titan_eval, titan_eval.paths as p; print(titan_eval.__file__); print(p.CARDS_DIR)",
                cwd=elsewhere)
    module, cards = proc.stdout.split()
    assert Path(module).is_relative_to(installed) and not Path(module).is_relative_to(REPO)
    assert Path(cards).is_relative_to(installed) and Path(cards).name == "model"


def test_models_and_tasks_list_what_the_wheel_carries(installed: Path, elsewhere: Path) -> None:
    models = _run(installed / "bin" / "titan-eval", "models", cwd=elsewhere)
    assert models.returncode == 0, models.stderr
    listed = {line.split()[0] for line in models.stdout.splitlines()}
    assert {p.stem for p in (REPO / "model").glob("*.yaml")} <= listed
    tasks = _run(installed / "bin" / "titan-eval", "tasks", cwd=elsewhere)
    assert tasks.returncode == 0, tasks.stderr
    assert {"titan_sample", "arc_easy", "arc_challenge", "hellaswag", "reasoning85"} <= set(tasks.stdout.split())


def test_run_the_embedded_default_from_an_unrelated_folder(installed: Path, elsewhere: Path) -> None:
    proc = _run(installed / "bin" / "titan-eval", "run", "titan_sample", "--model", "titan-tiny",
                cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (elsewhere / "results").iterdir()  # ./results under the working directory, nothing else
    run = json.loads((run_dir / "run.json").read_text())
    assert run["titan_eval"]["status"] == "complete"
    assert run["results"]["titan_sample"]["alias"] == "titan_sample"
    assert run["titan_eval"]["environment"]["git"]["source"] == "wheel"
    from titan_eval.models.ops import cpu_scan

    if cpu_scan.available():  # the kernel's C++ source ships in the wheel and builds (or is found built) there too
        assert run["titan_eval"]["model"]["backend"] == "cpu-scan", proc.stderr[-2000:]
    lines = (run_dir / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 24  # the project's 24-question task, read from the wheel's bundled data
    assert "| titan_sample" in proc.stdout


def test_run_an_arc_task_from_release_files(installed: Path, elsewhere: Path) -> None:
    """arc_easy's YAML and its `!function` glue come from the wheel; the data from a --data-dir in the ARC
    release layout (the project's sample questions, written as ARC-Easy test and dev files)."""
    rows = (REPO / "tasks" / "sample" / "titan_sample.jsonl").read_text().splitlines()
    data = elsewhere / "arc-data"
    data.mkdir()
    (data / "ARC-Easy-Test.jsonl").write_text("\n".join(rows[:6]) + "\n")
    (data / "ARC-Easy-Dev.jsonl").write_text("\n".join(rows[6:9]) + "\n")
    out = elsewhere / "my-run"
    proc = _run(installed / "bin" / "titan-eval", "run", "arc_easy", "--model", "mamba-tiny", "--data-dir", data,
                "--output", out, cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["results"]["arc_easy"]["alias"] == "arc_easy"
    assert [json.loads(x)["doc_id"] for x in (out / "samples.jsonl").read_text().splitlines()] == list(range(6))
    assert not (elsewhere / "results").exists()  # --output wins


def test_view_export_works_from_the_wheel(installed: Path, elsewhere: Path) -> None:
    from report_helpers import write_run

    write_run(elsewhere / "results" / "r", {"t": {"acc": [1.0, 0.0, 1.0]}})
    proc = _run(installed / "bin" / "titan-eval", "view", "--export", "site", "results", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert "exported 1 run(s)" in proc.stdout
    for name in ("index.html", "data.js", "static/main.js", "static/viewer.css"):
        assert (elsewhere / "site" / name).is_file(), name
    single = _run(installed / "bin" / "titan-eval", "view", "--export", "one.html", "results", cwd=elsewhere)
    assert single.returncode == 0, single.stderr
    assert "TV.runsPage" in (elsewhere / "one.html").read_text()
