"""A 10,000-sample run (a real run's lines repeated) in headless Chromium: the samples page renders its first page,
the wrong-answers filter and a search apply, the pager moves. Timings are the benchmark's (benchmarks/view_samples.py,
BENCHMARKS.md "Issue 25"); this only checks it works."""

from __future__ import annotations

from pathlib import Path

import pytest

from view_helpers import chromium, lines, open_page, scaled_run, screenshot, serving, wait_for

pytestmark = pytest.mark.slow
N = 10_000


def test_ten_thousand_samples_page_filter_and_search(view_runs: Path, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select

    run = scaled_run(view_runs / "titan", tmp_path / "big", N)
    source = lines(run)
    with serving([tmp_path]) as server, chromium() as driver:
        open_page(driver, server.url + "#/samples/big", "samples", timeout=60)
        count = wait_for(driver, "[data-testid=samples-count]")
        assert count.get_attribute("data-n") == str(N)
        assert len(driver.find_elements("css selector", "[data-testid=samples-table] tbody tr")) == 100
        Select(wait_for(driver, "[data-testid=filter-correct]")).select_by_value("wrong")
        assert count.get_attribute("data-n") == str(sum(ln["acc"] == 0.0 for ln in source))
        search = wait_for(driver, "[data-testid=search]")
        search.send_keys("kitten")
        assert count.get_attribute("data-n") == str(sum(ln["acc"] == 0.0 and "kitten" in ln["prompt"]
                                                        for ln in source))
        screenshot(driver, "scale-samples")
        assert driver.execute_script("return TV.timings.samplesFirstRows") > 0
