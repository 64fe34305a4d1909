"""`titan-eval view` in a real headless Chromium (issue 25's acceptance), on a served results folder and on the two
`--export` forms opened from file://: the runs page shows run.json's numbers, the run page the table `titan-eval run`
prints, the samples page filters to the wrong answers, a sample page shows the trace text with its forced close,
the compare page shows `titan-eval compare`'s table and discordant counts and links to side-by-side samples. Each
page is screenshotted into test-artifacts/view/ (view_helpers.ARTIFACTS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from cli_helpers import invoke
from view_helpers import chromium, console_errors, lines, open_page, screenshot, serving, wait_for
from titan_eval.records import RunRecord
from titan_eval.summary import markdown_summary

pytestmark = pytest.mark.slow
SITES = ("served", "export-folder", "export-html")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as d:
        yield d


@pytest.fixture(scope="module", params=SITES)
def site(request: pytest.FixtureRequest, view_runs: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(name, base URL the hash routes are appended to)."""
    if request.param == "served":
        with serving([view_runs]) as server:
            yield request.param, server.url
        return
    out = tmp_path_factory.mktemp("export") / ("viewer.html" if request.param == "export-html" else "viewer")
    done = invoke("view", "--export", str(out), str(view_runs / "titan"), str(view_runs / "mamba"))
    assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    yield request.param, (out if out.suffix == ".html" else out / "index.html").as_uri()


def _cells(line: str) -> list[str]:
    """A printed markdown table line's cells."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _text(driver: Any, element: Any) -> str:
    """An element's exact textContent (Selenium's .text collapses whitespace)."""
    return driver.execute_script("return arguments[0].textContent", element)


def test_runs_page_shows_run_json_numbers(driver: Any, site: tuple[str, str], view_runs: Path) -> None:
    name, base = site
    open_page(driver, base + "#/runs", "runs")
    shown = driver.find_elements("css selector", "[data-testid=runs-table] tbody tr")
    assert sorted(r.get_attribute("data-run") for r in shown) == ["mamba", "titan"]
    for row in shown:
        raw = json.loads((view_runs / row.get_attribute("data-run") / "run.json").read_text())
        heads = row.find_elements("css selector", ".headline")
        assert {h.get_attribute("data-key") for h in heads} == {"arc_easy", "arc_easy_cot"}
        for h in heads:
            key, metric = h.get_attribute("data-key"), h.get_attribute("data-metric")
            assert h.find_element("css selector", ".value").text == f"{raw['results'][key][metric + ',none']:.4f}"
            ci = raw["titan_eval"]["tasks"][key]["ci95"][metric]
            assert h.find_element("css selector", ".ci").text == f"[{ci['low']:.4f}, {ci['high']:.4f}]"
    screenshot(driver, f"{name}-runs")
    for run in ("mamba", "titan"):  # tick both, compare: the comparison page of the two
        driver.find_element("css selector", f"[data-run={run}] [data-testid=pick]").click()
    wait_for(driver, "[data-testid=compare-selected]").click()
    wait_for(driver, 'body[data-page="compare"]')
    assert "#/compare/mamba,titan" in driver.current_url
    assert not console_errors(driver)


def test_run_page_shows_the_table_titan_eval_run_prints(driver: Any, site: tuple[str, str], view_runs: Path) -> None:
    name, base = site
    open_page(driver, base + "#/run/mamba", "run")  # mamba's table prints a 0.25 (tabulate drops the zeros)
    record = RunRecord.from_json(json.loads((view_runs / "mamba" / "run.json").read_text()))
    printed = [ln for ln in markdown_summary(record).splitlines() if ln.startswith("|")]
    table = wait_for(driver, "[data-testid=results-table]")
    assert [th.text for th in table.find_elements("css selector", "thead th")] == _cells(printed[0])
    shown = [[td.text for td in tr.find_elements("css selector", "td")]
             for tr in table.find_elements("css selector", "tbody tr")]
    assert shown == [_cells(ln) for ln in printed[2:]]
    assert driver.find_elements("css selector", "[data-testid=think-stats] svg.chart rect.bar")
    screenshot(driver, f"{name}-run")
    assert not console_errors(driver)


def test_samples_page_filters_to_wrong_answers(driver: Any, site: tuple[str, str], view_runs: Path) -> None:
    from selenium.webdriver.support.ui import Select

    name, base = site
    source = lines(view_runs / "titan")
    open_page(driver, base + "#/samples/titan", "samples")
    count = wait_for(driver, "[data-testid=samples-count]")
    assert count.get_attribute("data-n") == str(len(source))
    Select(wait_for(driver, "[data-testid=filter-correct]")).select_by_value("wrong")
    wrong = sum(ln["acc"] == 0.0 for ln in source)
    assert count.get_attribute("data-n") == str(wrong)
    assert len(driver.find_elements("css selector", "[data-testid=samples-table] tbody tr")) == wrong
    assert "correct=wrong" in driver.current_url  # the filter is part of the deep link
    screenshot(driver, f"{name}-samples")
    Select(wait_for(driver, "[data-testid=filter-key]")).select_by_value("arc_easy_cot")
    wrong_cot = str(sum(ln["acc"] == 0.0 and ln["mode"] == "cot" for ln in source))
    assert count.get_attribute("data-n") == wrong_cot
    open_page(driver, driver.current_url, "samples")  # the deep link restores the filters
    count = wait_for(driver, "[data-testid=samples-count]")
    assert count.get_attribute("data-n") == wrong_cot
    wait_for(driver, "[data-testid=filter-forced]").click()
    assert count.get_attribute("data-n") == str(sum(ln["acc"] == 0.0 and ln["mode"] == "cot"
                                                    and ln["think"]["stop_reason"] == "forced" for ln in source))
    assert not console_errors(driver)


def test_sample_page_shows_the_trace_and_its_forced_close(driver: Any, site: tuple[str, str], view_runs: Path) -> None:
    name, base = site
    line = next(ln for ln in lines(view_runs / "titan") if ln["task"] == "arc_easy_cot" and ln["acc"] == 0.0)
    open_page(driver, f"{base}#/sample/titan/arc_easy_cot/{line['doc_id']}", "sample")
    trace = wait_for(driver, "[data-testid=trace]")
    assert _text(driver, trace.find_element("css selector", "[data-seg=trace]")) == line["think"]["text"]
    assert "</think>" in _text(driver, trace.find_element("css selector", "[data-seg=forced-closer]"))
    assert _text(driver, trace.find_element("css selector", "[data-seg=opener]")).endswith("<think>\n")
    assert trace.find_element("css selector", "[data-seg=cue]")
    choices = driver.find_elements("css selector", "[data-testid=choices] tbody tr")
    assert len(choices) == len(line["choices"])
    assert "gold" in choices[line["gold"]].get_attribute("class")
    assert _text(driver, wait_for(driver, "[data-testid=prompt]")) == line["prompt"]
    screenshot(driver, f"{name}-sample")
    assert not console_errors(driver)


def test_compare_page_shows_compare_table_and_discordant_counts(driver: Any, site: tuple[str, str],
                                                               view_runs: Path) -> None:
    name, base = site
    runs = (str(view_runs / "mamba"), str(view_runs / "titan"))
    printed = invoke("compare", *runs).stdout
    records = json.loads(invoke("compare", *runs, "--format", "json").stdout)["rows"]
    expected = {(r["key"], r["metric"]): (r["losses"], r["gains"]) for r in records if r["losses"] is not None}
    open_page(driver, base + "#/compare/mamba,titan", "compare")
    table = wait_for(driver, "[data-testid=compare-table]")
    body = [ln for ln in printed.splitlines() if ln.startswith("|")][2:]
    shown = [[td.text for td in tr.find_elements("css selector", "td")]
             for tr in table.find_elements("css selector", "tbody tr")]
    assert shown == [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in body]
    found = {}
    for block in driver.find_elements("css selector", "[data-testid=discordant]"):
        losses = int(block.find_element("css selector", "[data-testid=losses]").text)
        gains = int(block.find_element("css selector", "[data-testid=gains]").text)
        assert len(block.find_elements("css selector", "[data-testid=base-only] a")) == losses
        assert len(block.find_elements("css selector", "[data-testid=cand-only] a")) == gains
        found[(block.get_attribute("data-key"), block.get_attribute("data-metric"))] = (losses, gains)
    assert found == expected
    screenshot(driver, f"{name}-compare")
    link = next((a for a in driver.find_elements("css selector", "[data-key=arc_easy_cot] .doclist a")), None)
    if link is None:
        pytest.skip("no discordant cot document between the two tiny models")
    link.click()
    wait_for(driver, 'body[data-page="pair"]')
    assert len(driver.find_elements("css selector", "[data-testid=pair] [data-testid=trace]")) == 2
    screenshot(driver, f"{name}-pair")
    assert not console_errors(driver)
