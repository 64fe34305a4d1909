"""`titan-eval sweep`: every checkpoint on the same documents, numbers equal to each run's own run.json, changes
tested as `compare` tests them (Holm across the sweep), incremental (one model build for one new checkpoint),
half-written files skipped, a checkpoint that does not fit fails only its step, bpb by hand, incomparable texts
refused, the plot, the gate on the newest step."""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path

import pytest
from statsmodels.stats.multitest import multipletests

from cli_helpers import invoke
from sweep_helpers import TEXT, make_checkpoints, sweep
from titan_eval.report import compare_runs, load_run
from titan_eval.sweep.trend import _without_bpb, build_trend, read_steps

STEPS = [100, 200, 300, 400]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(checkpoint folder, sweep folder, text) after sweeping four checkpoints of titan-tiny."""
    root = tmp_path_factory.mktemp("sweep")
    text = root / "valid.txt"
    text.write_text(TEXT, encoding="utf-8")
    ckpts = root / "ckpt"
    make_checkpoints(ckpts, STEPS)
    out = root / "out"
    outcome = sweep(out, [str(ckpts)], text)
    assert outcome.evaluated == STEPS and outcome.builds == 1 and not outcome.failed
    return ckpts, out, text


def _copy(swept: tuple[Path, Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    ckpts, out, text = swept
    shutil.copytree(ckpts, tmp_path / "ckpt")
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / "ckpt", tmp_path / "out", text


def test_every_step_same_documents_and_fingerprints(swept: tuple[Path, Path, Path]) -> None:
    _, out, _ = swept
    record = json.loads((out / "sweep.json").read_text())
    assert [s["step"] for s in record["steps"]] == STEPS and {s["status"] for s in record["steps"]} == {"complete"}
    assert [s["step_source"] for s in record["steps"]] == ["field"] * 4
    runs = [load_run(out / s["run"]) for s in record["steps"]]
    for run in runs[1:]:
        for key in runs[0].keys():
            assert sorted(run.samples.get(key, {}), key=str) == sorted(runs[0].samples.get(key, {}), key=str)
            assert run.tasks[key] == runs[0].tasks[key]
    seeds = {json.dumps(json.loads((out / s["run"] / "run.json").read_text())["titan_eval"]["seeds"])
             for s in record["steps"]}
    assert len(seeds) == 1


def test_table_numbers_are_the_runs_own_and_marks_are_compares(swept: tuple[Path, Path, Path]) -> None:
    from titan_eval.sweep.sweep_record import read_record

    _, out, _ = swept
    steps = read_steps(out, read_record(out).complete())
    trend = build_trend(steps)
    for v in trend.values:
        raw = json.loads((out / f"step_{v.step:010d}" / "run.json").read_text())
        assert raw["results"][v.key][f"{v.metric},none"] == v.value
        ci = raw["titan_eval"]["tasks"][v.key].get("ci95", {}).get(v.metric)
        if ci is not None:
            assert (v.ci_low, v.ci_high) == (ci["low"], ci["high"])
    by_step = {s.step: s.run for s in steps}
    for c in (c for c in trend.changes if c.key != "bpb"):
        # compare cannot pair bpb (no per-document value): the sweep hands it the runs without bpb, as here
        table = compare_runs([_without_bpb(load_run(by_step[c.from_step].path)),
                              _without_bpb(load_run(by_step[c.to_step].path))])
        cell = next(r.cells[1] for r in table.rows if (r.key, r.metric) == (c.key, c.metric))
        assert (cell.paired.p_value, cell.paired.delta, cell.paired.test) == (c.p, c.delta, c.test)
    _, adjusted, _, _ = multipletests([c.p for c in trend.changes], method="holm")
    assert [c.p_holm for c in trend.changes] == pytest.approx(list(adjusted))
    assert [c.real for c in trend.changes] == [p < 0.05 for p in adjusted]
    assert {(c.from_step, c.to_step) for c in trend.changes} == {(100, 200), (200, 300), (300, 400), (100, 300),
                                                                  (100, 400)}


def test_a_step_equals_a_separate_run_of_its_checkpoint(swept: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The weights copied into the sweep's one model give the same lines as loading the checkpoint afresh."""
    from titan_eval.loading import load
    from titan_eval.run_options import RunOptions
    from titan_eval.runner import run

    ckpts, out, text = swept
    loaded = load("titan-tiny", ckpts / "ckpt_3.pt", device="cpu")
    run(loaded, RunOptions(tasks=("fact_margins", "bpb"), limit=8, native={"text": str(text), "window": 16},
                           output_dir=str(tmp_path / "alone")))
    assert (tmp_path / "alone" / "samples.jsonl").read_bytes() == \
        (out / "step_0000000400" / "samples.jsonl").read_bytes()


def test_a_fifth_checkpoint_builds_one_model_and_adds_one_row(swept: tuple[Path, Path, Path], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import titan_eval.loading as loading

    ckpts, out, text = _copy(swept, tmp_path)
    make_checkpoints(ckpts, [500], start=4)
    builds = []
    real_build = loading._build
    monkeypatch.setattr(loading, "_build", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    outcome = sweep(out, [str(ckpts / "ckpt_*.pt")], text)
    assert outcome.evaluated == [500] and len(builds) == 1 and outcome.builds == 1
    again = sweep(out, [str(ckpts / "ckpt_*.pt")], text)
    assert again.evaluated == [] and len(builds) == 1
    from titan_eval.sweep.sweep_record import read_record

    assert build_trend(read_steps(out, read_record(out).complete())).steps == (100, 200, 300, 400, 500)


def test_a_half_written_file_is_skipped_then_picked_up(swept: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ckpts, out, text = _copy(swept, tmp_path)
    whole = make_checkpoints(tmp_path / "later", [500], start=4)[0].read_bytes()
    (ckpts / "ckpt_4.pt").write_bytes(whole[: len(whole) // 2])
    notices: list[str] = []
    outcome = sweep(out, [str(ckpts)], text, notices)
    assert outcome.evaluated == [] and str(ckpts / "ckpt_4.pt") in outcome.skipped
    assert any("ckpt_4.pt" in n and "next sweep" in n for n in notices)
    (ckpts / "ckpt_4.pt").write_bytes(whole)
    assert sweep(out, [str(ckpts)], text).evaluated == [500]


def test_a_checkpoint_that_does_not_fit_fails_only_its_step(swept: tuple[Path, Path, Path], tmp_path: Path) -> None:
    import torch

    ckpts, out, text = _copy(swept, tmp_path)
    bad = torch.load(ckpts / "ckpt_0.pt", weights_only=True)
    name = next(k for k, v in bad["model"].items() if v.dim() == 2)
    bad["model"][name] = bad["model"][name][:, :-1].clone()
    bad["step"] = 250
    torch.save(bad, ckpts / "ckpt_bad.pt")
    make_checkpoints(ckpts, [500], start=4)
    notices: list[str] = []
    outcome = sweep(out, [str(ckpts)], text, notices)
    assert outcome.evaluated == [500] and list(outcome.failed) == [250]
    assert "does not fit" in outcome.failed[250] and any("step 250" in n for n in notices)
    entry = next(s for s in json.loads((out / "sweep.json").read_text())["steps"] if s["step"] == 250)
    assert entry["status"] == "error" and "does not fit" in entry["error"]


def test_bpb_is_the_summed_nll_over_the_texts_bytes(swept: tuple[Path, Path, Path]) -> None:
    from titan_eval.sweep.sweep_record import read_record

    _, out, _ = swept
    trend = build_trend(read_steps(out, read_record(out).complete()))
    n_bytes = len(TEXT.encode("utf-8"))
    assert n_bytes > len(TEXT)  # multi-byte characters: bytes, not characters
    for v in (v for v in trend.values if (v.key, v.metric) == ("bpb", "bpb")):
        lines = [json.loads(x) for x in (out / f"step_{v.step:010d}" / "samples.jsonl").read_text().splitlines()]
        nll = math.fsum(ln["nll"] for ln in lines if ln["task"] == "bpb")
        assert v.value == pytest.approx(nll / (n_bytes * math.log(2)), rel=1e-12)
        assert v.ci_low is not None and v.ci_low < v.value < v.ci_high  # 16-token windows: enough for a CI


def test_a_step_on_another_text_is_refused_naming_the_fingerprints(swept: tuple[Path, Path, Path],
                                                                   tmp_path: Path) -> None:
    from titan_eval.errors import IncomparableRunsError

    ckpts, out, text = _copy(swept, tmp_path)
    other = tmp_path / "valid.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    record = json.loads((out / "sweep.json").read_text())
    record["options"]["native"]["text"] = str(other)  # the same path in the options, another text in the file
    (out / "sweep.json").write_text(json.dumps(record))
    make_checkpoints(ckpts, [500], start=4)
    with pytest.raises(IncomparableRunsError) as err:
        sweep(out, [str(ckpts)], other)
    want = record["fingerprints"]["bpb"]["data_sha256"]
    assert "step 500" in str(err.value) and "data_sha256" in str(err.value) and want in str(err.value)
    assert err.value.exit_code == 2


def test_the_cli_prints_the_table_writes_the_plots_and_gates(swept: tuple[Path, Path, Path],
                                                             tmp_path: Path) -> None:
    ckpts, out, text = _copy(swept, tmp_path)
    args = ["sweep", "fact_margins", "bpb", "--model", "titan-tiny", "--checkpoints", str(ckpts), "--limit", "8",
            "--text", str(text), "--window", "16", "--output", str(out), "--settle", "0", "--device", "cpu", "-q",
            "--metric", "strict,bpb"]
    refused = invoke(*args, "--seed", "1")
    assert refused.returncode == 2 and "different run options" in refused.stderr and "seed" in refused.stderr
    passed = invoke(*args, "--gate-against", "first", "--max-drop", "1", "--gate-metric", "strict")
    assert passed.returncode == 0, passed.stderr
    assert "0 step(s) evaluated now" in passed.stderr and "Gate passed" in passed.stdout
    rows = [ln for ln in passed.stdout.splitlines() if ln.startswith("| ") and ln.split("|")[1].strip().isdigit()]
    assert [int(r.split("|")[1]) for r in rows[:4]] == STEPS
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert "bpb__bpb.png" in plots and "fact_margins__strict.png" in plots
    failed = invoke(*args, "--gate-against", "best", "--max-drop", "0", "--gate-metric", "strict")
    assert failed.returncode == 1 and "gate failed" in failed.stderr
    as_json = json.loads(invoke(*args, "--json").stdout)
    assert as_json["steps"] == STEPS and {v["metric"] for v in as_json["values"]} == {"strict", "bpb"}
    as_csv = invoke(*args, "--csv").stdout.splitlines()
    assert as_csv[0].startswith("kind,step") and sum(ln.startswith("value,") for ln in as_csv) == \
        len(as_json["values"])


def test_the_plot_is_a_png_of_the_expected_size(swept: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from titan_eval.sweep.plot import HEIGHT, WIDTH, plot_trend
    from titan_eval.sweep.sweep_record import read_record

    _, out, _ = swept
    trend = build_trend(read_steps(out, read_record(out).complete()), metrics=["strict", "bpb"])
    paths = plot_trend(trend, tmp_path / "plots")
    assert len(paths) == len(trend.metrics())
    for path in paths:
        head = path.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", head[16:24]) == (WIDTH, HEIGHT)


def test_a_cot_sweep_carries_its_think_settings_to_every_step(tmp_path: Path) -> None:
    """`--cot --think-budget` (the run options a sweep shares) reach every step's run; another budget on a re-run is
    refused as a different sweep."""
    ckpts = tmp_path / "ckpt"
    make_checkpoints(ckpts, [10, 20])
    out = tmp_path / "sweep"
    args = ["sweep", "titan_sample", "--model", "titan-tiny", "--checkpoints", str(ckpts), "--limit", "3", "--cot",
            "--output", str(out), "--settle", "0", "--device", "cpu", "-q"]
    done = invoke(*args, "--think-budget", "4")
    assert done.returncode == 0, done.stderr
    for step in (10, 20):
        raw = json.loads((out / f"step_{step:010d}" / "run.json").read_text())
        assert raw["titan_eval"]["options"]["modes"] == ["cot"]
        assert raw["titan_eval"]["options"]["think"] == {"think_budget": 4}
        assert "titan_sample_cot" in raw["results"]
        lines = [json.loads(x) for x in (out / f"step_{step:010d}" / "samples.jsonl").read_text().splitlines()]
        assert lines and all(ln["mode"] == "cot" and ln["think"]["length"] <= 4 for ln in lines)
    other = invoke(*args, "--think-budget", "8")
    assert other.returncode == 2 and "think" in other.stderr
