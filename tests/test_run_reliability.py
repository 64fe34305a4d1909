"""Reliability of a run: a SIGKILLed run resumes to the uninterrupted result; a mismatched resume is refused;
SIGTERM / SIGINT mark the run `interrupted` (exit 143 / 130, whole chunks only) and the printed command resumes it
to the uninterrupted result; planted NaN weights fail the run with exit 3 naming the documents, keeping what was
written."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model_helpers import nan_card
from cli_helpers import titan_eval
from titan_eval.paths import CARDS_DIR

pytestmark = pytest.mark.slow


def _args(shared: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "arc_easy", "--model", "mamba-tiny", "--data-dir", str(shared / "data"), "--limit", "256",
            "--output", str(out), *extra]


def _signal_after_first_chunk(args: list[str], samples: Path, sig: int) -> tuple[int, str]:
    """Run the CLI, send `sig` once samples.jsonl holds a chunk; (exit status, stderr). SIGINT is set to its
    default in the child, in case this test process was started with it ignored."""
    proc = subprocess.Popen([sys.executable, "-m", "titan_eval", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if samples.exists() and samples.read_text().count("\n") >= 32:
            os.kill(proc.pid, sig)
            break
        time.sleep(0.02)
    _, stderr = proc.communicate()
    return proc.returncode, stderr


@pytest.fixture(scope="module")
def whole(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run the interrupted ones must end up equal to."""
    out = tmp_path_factory.mktemp("whole") / "r"
    assert titan_eval(*_args(shared, out)).returncode == 0
    return out


def _whole_chunks_only(samples: Path) -> int:
    """The number of lines, after checking they are whole lines forming whole 32-doc chunks (not all 256)."""
    text = samples.read_text()
    assert text.endswith("\n")
    lines = [json.loads(x) for x in text.splitlines()]
    assert len(lines) % 32 == 0 and 32 <= len(lines) < 256, len(lines)
    return len(lines)


def test_a_killed_run_resumes_to_the_uninterrupted_result(shared: Path, whole: Path, tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    code, _ = _signal_after_first_chunk(_args(shared, killed), killed / "samples.jsonl", signal.SIGKILL)
    assert code == -signal.SIGKILL, "the run finished before it could be killed"
    state = json.loads((killed / "run.json").read_text())["titan_eval"]
    assert state["status"] == "running"
    done = (killed / "samples.jsonl").read_text()
    assert 32 <= done.count("\n") < 256
    with open(killed / "samples.jsonl", "a") as handle:
        handle.write('{"task": "arc_easy", "doc_id": 1')  # a torn last write
    refused = titan_eval(*_args(shared, killed, "--seed", "1"))
    assert refused.returncode == 2 and "cannot resume" in refused.stderr and "options" in refused.stderr
    resumed = titan_eval("run", "arc_easy", "--model", "mamba-tiny", "--data-dir", str(shared / "data"),
                         "--limit", "256", "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "samples.jsonl").read_bytes() == (whole / "samples.jsonl").read_bytes()
    a, b = (json.loads((d / "run.json").read_text()) for d in (whole, killed))
    assert a["results"] == b["results"] and a["n-samples"] == b["n-samples"]
    assert a["titan_eval"]["tasks"]["arc_easy"]["prompt_sha256"] == b["titan_eval"]["tasks"]["arc_easy"]["prompt_sha256"]
    assert b["titan_eval"]["status"] == "complete" and b["titan_eval"]["resumed_docs"] >= 32
    again = titan_eval(*_args(shared, killed))
    assert again.returncode == 2 and "complete run" in again.stderr


def test_sigterm_marks_the_run_interrupted_and_the_printed_command_resumes_it(shared: Path, whole: Path,
                                                                               tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    code, stderr = _signal_after_first_chunk(_args(shared, stopped), stopped / "samples.jsonl", signal.SIGTERM)
    assert code == 143 and "Traceback" not in stderr, stderr
    state = json.loads((stopped / "run.json").read_text())["titan_eval"]
    assert state["status"] == "interrupted" and state["interrupted_by"] == "SIGTERM"
    done = _whole_chunks_only(stopped / "samples.jsonl")
    assert not (stopped / "run.lock").exists()
    line = [ln for ln in stderr.splitlines() if "Resume with: " in ln]
    assert len(line) == 1 and line[0].startswith("interrupted by SIGTERM"), stderr
    command = shlex.split(line[0].split("Resume with: ", 1)[1])
    assert command[0] == "titan-eval" and command[-2:] == ["--resume", str(stopped)]
    resumed = titan_eval(*command[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert f"arc_easy [ll]: started, {done}/256 docs already done (resumed)" in resumed.stderr.splitlines()
    assert (stopped / "samples.jsonl").read_bytes() == (whole / "samples.jsonl").read_bytes()
    a, b = (json.loads((d / "run.json").read_text()) for d in (whole, stopped))
    assert a["results"] == b["results"] and b["titan_eval"]["status"] == "complete"


def test_sigint_exits_130_and_marks_the_run_interrupted(shared: Path, tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    code, stderr = _signal_after_first_chunk(_args(shared, stopped), stopped / "samples.jsonl", signal.SIGINT)
    assert code == 130 and "Traceback" not in stderr, stderr
    state = json.loads((stopped / "run.json").read_text())["titan_eval"]
    assert state["status"] == "interrupted" and state["interrupted_by"] == "SIGINT"
    _whole_chunks_only(stopped / "samples.jsonl")
    assert f"--resume {stopped}" in stderr and not (stopped / "run.lock").exists()



def test_planted_nan_weights_exit_3_naming_the_documents(tmp_path: Path) -> None:
    docs = [json.loads(x) for x in (CARDS_DIR.parent / "tasks" / "sample" / "titan_sample.jsonl").read_text().splitlines()]
    texts = [d["question"]["stem"] + " ".join(c["text"] for c in d["question"]["choices"]) for d in docs]
    poisoned = [i for i, t in enumerate(texts) if "k" in t]  # only documents with a "k" meet the NaN row
    assert 0 < len(poisoned) < len(docs)
    card = nan_card(tmp_path, "k")
    failed = titan_eval("run", "titan_sample", "--model", str(card), "--output", str(tmp_path / "r"))
    assert failed.returncode == 3 and "Traceback" not in failed.stderr, failed.stderr
    named = failed.stderr.split("doc ids", 1)[1]
    assert [int(x) for x in named.split(";")[0].replace("…", "").replace(",", " ").split()] == poisoned
    state = json.loads((tmp_path / "r" / "run.json").read_text())["titan_eval"]
    assert state["status"] == "error" and "non-finite" in state["error"]
    lines = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert sorted(ln["doc_id"] for ln in lines if ln.get("invalid")) == poisoned and len(lines) == len(docs)
    allowed = titan_eval("run", "titan_sample", "--model", str(card), "--allow-invalid", "--output", str(tmp_path / "a"))
    assert allowed.returncode == 0, allowed.stderr
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["n-samples"]["titan_sample"]["effective"] == len(docs) - len(poisoned)
    assert run["titan_eval"]["tasks"]["titan_sample"]["invalid_docs"] == poisoned
