"""The viewer's sweep trend page: its document carries `titan-eval sweep`'s own numbers (build_trend on the same
folder) with each step linked to its run; in a real headless Chromium (served, and the single-file export) the page
draws one chart with a CI band per metric, a point opens its step's run, and two ticked steps open their
comparison. Screenshots go to test-artifacts/view/."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from cli_helpers import invoke
from sweep_helpers import TEXT, make_checkpoints, sweep
from view_helpers import chromium, console_errors, open_page, screenshot, serving, wait_for

STEPS = [100, 200, 300]
SWEEP_ID = "sweep-titan-tiny"


@pytest.fixture(scope="module")
def swept_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/sweep-titan-tiny: a three-step sweep of fact_margins + bpb (checkpoints outside root)."""
    base = tmp_path_factory.mktemp("view-sweep")
    text = base / "valid.txt"
    text.write_text(TEXT, encoding="utf-8")
    ckpts = base / "ckpt"
    make_checkpoints(ckpts, STEPS)
    root = base / "results"
    sweep(root / SWEEP_ID, [str(ckpts)], text)
    return root


def test_the_sweep_document_is_the_commands_numbers(swept_root: Path) -> None:
    from titan_eval.sweep.sweep_record import read_record
    from titan_eval.sweep.trend import build_trend, read_steps
    from titan_eval.view import ViewerData

    data = ViewerData([swept_root])
    assert [s["id"] for s in data.document("sweeps")] == [SWEEP_ID]
    row = data.document("sweeps")[0]
    assert row["steps"] == STEPS and row["complete"] == 3 and row["card"] == "titan-tiny"
    page = data.document(f"sweep/{SWEEP_ID}")
    folder = swept_root / SWEEP_ID
    trend = build_trend(read_steps(folder, read_record(folder).complete()))
    runs = set(data.run_ids())
    assert [st["run_id"] for st in page["steps"]] == [f"{SWEEP_ID}/step_{s:010d}" for s in STEPS]
    assert all(st["run_id"] in runs for st in page["steps"])
    shown = {(s["key"], s["metric"], p["step"]): p for s in page["series"] for p in s["points"]}
    assert len(shown) == len(trend.values)
    for v in trend.values:
        p = shown[(v.key, v.metric, v.step)]
        assert p["value"] == v.value and p["ci_low"] == v.ci_low and p["ci_high"] == v.ci_high
    assert [(c["from_step"], c["to_step"], c["key"], c["metric"], c["p_holm"], c["real"]) for c in page["changes"]] \
        == [(c.from_step, c.to_step, c.key, c.metric, c.p_holm, c.real) for c in trend.changes]
    assert page["table"].startswith("| step |")
    directions = {s["metric"]: s["higher_is_better"] for s in page["series"] if s["key"] in ("bpb", "fact_margins")}
    assert directions["bpb"] is False and directions["nll_per_token"] is False and directions["strict"] is True


def test_an_export_of_part_of_the_steps_leaves_the_sweep_out(swept_root: Path) -> None:
    from titan_eval.view import ViewerData

    data = ViewerData([swept_root])
    everything = data.export_paths()
    assert f"sweep/{SWEEP_ID}" in everything
    part = data.export_paths([f"{SWEEP_ID}/step_{STEPS[0]:010d}"])
    assert not any(p.startswith("sweep/") for p in part)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as d:
        yield d


@pytest.mark.slow
@pytest.mark.parametrize("site", ["served", "export-html"])
def test_the_trend_page_in_a_browser(driver: Any, swept_root: Path, tmp_path: Path, site: str) -> None:
    from titan_eval.view import ViewerData

    series = ViewerData([swept_root]).document(f"sweep/{SWEEP_ID}")["series"]

    def check(base: str) -> None:
        open_page(driver, base + "#/runs", "runs")
        wait_for(driver, "[data-testid=sweep-link]").click()
        wait_for(driver, 'body[data-page="sweep"]')
        charts = driver.find_elements("css selector", "[data-testid=trend-chart]")
        assert [(c.get_attribute("data-key"), c.get_attribute("data-metric")) for c in charts] == \
            [(s["key"], s["metric"]) for s in series]
        bands = [c for c in charts if c.find_elements("css selector", "[data-testid=ci-band]")]
        assert len(bands) == sum(any(p["ci_low"] is not None for p in s["points"]) for s in series) > 0
        points = charts[0].find_elements("css selector", "[data-testid=trend-point]")
        assert [int(p.get_attribute("data-step")) for p in points] == STEPS
        screenshot(driver, f"sweep-trend-{site}")
        assert not console_errors(driver)
        driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", points[1])
        wait_for(driver, 'body[data-page="run"]')
        assert driver.current_url.endswith("#/run/" + f"{SWEEP_ID}/step_{STEPS[1]:010d}".replace("/", "%2F"))
        driver.back()
        wait_for(driver, 'body[data-page="sweep"]')
        picks = driver.find_elements("css selector", "[data-testid=pick-step]")
        picks[0].click()
        picks[2].click()
        wait_for(driver, "[data-testid=compare-steps]:not([disabled])").click()
        wait_for(driver, 'body[data-page="compare"]')
        links = [a.get_attribute("href") for a in driver.find_elements("css selector", "main p a")]
        assert [x.split("#/run/")[1] for x in links] == [f"{SWEEP_ID}%2Fstep_{s:010d}" for s in (STEPS[0], STEPS[2])]
        wait_for(driver, "[data-testid=compare-table]")

    if site == "served":
        with serving([swept_root]) as server:
            check(server.url)
        return
    out = tmp_path / "viewer.html"
    done = invoke("view", "--export", str(out), str(swept_root))
    assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    check(out.as_uri())
