"""Attacks by model-written code, end to end through `titan-eval run humaneval` with a scripted model whose
completions are the attacks: each effect must not happen outside the sandbox, and the run must finish with each
sample marked (passed / failed / timeout / limit_exceeded).

The fork bomb has its own test, run only after the bounded proof that the process limit holds here (at most 20
sleeping children, `test_code_executor.BOUNDED_FORKS`), with a watchdog that ends the test process if it ever
hung; every program runs as uid 65534 when the tests run as root (`code.executor`)."""

from __future__ import annotations

import faulthandler
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import invoke
from code_helpers import HUMANEVAL, build_code_mirror, lines, script_model
from test_code_executor import BOUNDED_FORKS

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="needs bubblewrap (`apt-get install bubblewrap`): bwrap is not on PATH")]
SLEEP_MARK = "987.654321"  # the argument of a `sleep` the endless loop forks: found in no process afterwards


def attack_doc(name: str) -> dict[str, Any]:
    """A humaneval-layout problem whose test always holds: the completion alone decides what happens."""
    return {"task_id": f"attack/{name}", "prompt": f"# attack: {name}\n", "canonical_solution": "",
            "test": "\n\ndef check(candidate):\n    pass\n", "entry_point": "print"}


def attacks(port: int, run_dir: Path, cwd: Path, home: Path) -> dict[str, tuple[str, str]]:
    """{attack: (completion, expected outcome)}."""
    targets = [str(run_dir / "pwned.txt"), str(cwd / "pwned.txt"), str(home / "pwned.txt")]
    return {
        "network": (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                    f"s.sendall(b'leaked')\n", "failed"),
        "files": (f"written = 0\nfor path in {targets!r}:\n    try:\n        open(path, 'w').write('pwned')\n"
                  f"        written += 1\n    except OSError:\n        pass\nassert written == 0, written\n", "passed"),
        "environment": ("import os\nprint(os.environ.get('TITAN_PLANTED_SECRET'))\n"
                        "raise RuntimeError('env ' + repr(os.environ.get('TITAN_PLANTED_SECRET')))\n", "failed"),
        "allocate_8gb": ("block = bytearray(8 * 2**30)\n", "limit_exceeded"),
        "endless_loop": (f"import os\nif os.fork() == 0:\n    os.execv('/bin/sleep', ['sleep', '{SLEEP_MARK}'])\n"
                         f"while True:\n    pass\n", "timeout"),
        "rmtree_home": (f"import os, shutil\nshutil.rmtree(os.path.expanduser('~'), ignore_errors=True)\n"
                        f"shutil.rmtree({str(home)!r})\n", "failed"),
    }


def processes_with(text: str) -> list[int]:
    """Pids whose command line contains `text`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if text.encode() in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_attacks_do_not_escape_and_every_sample_is_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir, cwd, home = tmp_path / "run", tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "keep.txt").write_text("mine")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TITAN_PLANTED_SECRET", "s3cr3t-value")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    table = attacks(listener.getsockname()[1], run_dir, cwd, home)
    mirror = build_code_mirror(tmp_path / "mirror", [HUMANEVAL[0]] + [attack_doc(n) for n in table])
    completions = {f"attack/{n}": c for n, (c, _) in table.items()}
    completions[HUMANEVAL[0]["task_id"]] = HUMANEVAL[0]["canonical_solution"]
    script_model(monkeypatch, lambda doc: completions[doc["task_id"]])

    result = invoke("run", "humaneval", "--model", "titan-tiny", "--data-dir", str(mirror), "--output",
                    str(run_dir), "--code-timeout", "3", "--code-workers", "2")
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)

    got = {ln["doc_id"]: ln for ln in lines(run_dir)}
    outcomes = {n: got[i + 1]["code"][0] for i, n in enumerate(table)}
    assert got[0]["code"][0]["outcome"] == "passed"
    assert {n: o["outcome"] for n, o in outcomes.items()} == {n: e for n, (_, e) in table.items()}, outcomes
    with pytest.raises(socket.timeout):  # nobody connected to the listener
        listener.accept()
    listener.close()
    assert "ConnectionRefused" in outcomes["network"]["detail"] or "unreachable" in outcomes["network"]["detail"]
    assert not any(p.exists() for p in (run_dir / "pwned.txt", cwd / "pwned.txt", home / "pwned.txt"))
    assert outcomes["environment"]["detail"] == "RuntimeError: env None"
    assert "s3cr3t-value" not in (run_dir / "samples.jsonl").read_text()
    assert (home / "notes" / "keep.txt").read_text() == "mine"
    assert processes_with(SLEEP_MARK) == [], "the endless loop's child outlived its time-out"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["titan_eval"]["code"]["limits"]["wall_s"] == 3.0
    assert record["results"]["humaneval"]["pass@1,create_test"] == pytest.approx(2 / 7)


def test_a_fork_bomb_is_stopped_by_the_process_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from titan_eval.code.executor import Executor
    from titan_eval.code.limits import Limits

    proof = Executor("bwrap", Limits(wall_s=20.0, cpu_s=20, processes=8), workers=1)
    forked = proof.run(BOUNDED_FORKS).detail
    if forked != "RuntimeError: forked 6":
        pytest.skip(f"the process limit is not shown to hold here (8 allowed, the bounded test says {forked!r}): "
                    f"no fork bomb is run")
    mine = '"RLIMIT_CPU": 22,'  # this run's programs (--code-timeout 11: CPU 22 s), not another test's running beside it
    before = set(processes_with(mine))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    mirror = build_code_mirror(tmp_path / "mirror", [HUMANEVAL[0], attack_doc("fork_bomb")])
    completions = {"attack/fork_bomb": "import os\nwhile True:\n    os.fork()\n",
                   HUMANEVAL[0]["task_id"]: HUMANEVAL[0]["canonical_solution"]}
    script_model(monkeypatch, lambda doc: completions[doc["task_id"]])
    faulthandler.dump_traceback_later(300, exit=True)  # the outer time-out: never let a bomb outlive the test
    try:
        result = invoke("run", "humaneval", "--model", "titan-tiny", "--data-dir", str(mirror), "--output",
                        str(tmp_path / "run"), "--code-timeout", "11", "--code-workers", "2")
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    got = [ln["code"][0] for ln in lines(tmp_path / "run")]
    assert got[0]["outcome"] == "passed"
    assert got[1]["outcome"] == "limit_exceeded", got[1]
    assert "BlockingIOError" in got[1]["detail"] or "Resource temporarily unavailable" in got[1]["detail"]
    assert set(processes_with(mine)) - before == set(), "a forked process outlived the program"
