"""The committed CI baseline: it passes against itself and a deliberate score drop makes the gate exit 1."""

import json
import re
import shlex
import shutil
from pathlib import Path

from cli_helpers import titan_eval
import pytest

pytestmark = pytest.mark.slow  # end-to-end runs: `pytest -m "not slow"` is the quick suite

BASELINE = Path(__file__).resolve().parents[1] / "results" / "baselines" / "titan-tiny-arc_easy"
MAKEFILE = BASELINE.parents[2] / "Makefile"
# the options of the Makefile's `gate` target, read from it so this test gates exactly as CI does
GATE = tuple(shlex.split(re.search(r"titan-eval gate \S+ \S+ (.*)", MAKEFILE.read_text()).group(1)))


def _candidate(tmp_path: Path, flip: int) -> Path:
    out = tmp_path / f"cand-{flip}"
    shutil.copytree(BASELINE, out)
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    flipped = 0
    for ln in lines:
        if flipped < flip and ln["acc"] == 1.0:
            ln["acc"], ln["pred"] = 0.0, (ln["gold"] + 1) % len(ln["choices"])
            flipped += 1
    assert flipped == flip
    (out / "samples.jsonl").write_text("".join(json.dumps(ln, sort_keys=True) + "\n" for ln in lines))
    run = json.loads((out / "run.json").read_text())
    run["results"]["arc_easy"]["acc,none"] = sum(ln["acc"] for ln in lines) / len(lines)
    run["titan_eval"]["run_id"] += f"-flip{flip}"
    (out / "run.json").write_text(json.dumps(run))
    return out


def test_committed_baseline_is_a_complete_run() -> None:
    run = json.loads((BASELINE / "run.json").read_text())
    assert run["titan_eval"]["status"] == "complete"
    assert run["n-samples"]["arc_easy"]["effective"] == 200


def test_unchanged_scores_pass_and_a_deliberate_drop_fails(tmp_path: Path) -> None:
    assert "--rule" in GATE and "--max-drop" in GATE
    same = titan_eval("gate", str(BASELINE), str(_candidate(tmp_path, 0)), *GATE)
    assert same.returncode == 0, same.stdout + same.stderr
    one = titan_eval("gate", str(BASELINE), str(_candidate(tmp_path, 1)), *GATE)  # one flipped doc: within 0.03
    assert one.returncode == 0, one.stdout + one.stderr
    worse = titan_eval("gate", str(BASELINE), str(_candidate(tmp_path, 15)), *GATE)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "tango-score" in worse.stdout and "upper bound" in worse.stderr
