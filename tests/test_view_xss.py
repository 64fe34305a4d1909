"""Markup in a run shows as text and runs nothing: a run whose question, choices, trace, think prompt, doc id and
run id carry script / event-handler payloads, viewed in headless Chromium served (with its CSP), as a single-file
export (with its hash CSP) and as a folder export from file:// (no CSP: only the text-node rendering protects it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from view_helpers import chromium, lines, open_page, screenshot, serving, wait_for, write_lines

pytestmark = pytest.mark.slow

PAYLOADS = (
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned='img';document.body.appendChild(document.createElement('blink'))\">",
    "\"><svg onload=\"window.__pwned='svg'\"></svg>",
    "</script><script>window.__pwned='close'</script>",
    "<a href=\"javascript:window.__pwned='href'\">link</a>",
)
EVIL = " ".join(PAYLOADS)
EVIL_DOC = "<img src=x onerror=\"window.__pwned='doc'\">"


@pytest.fixture(scope="module")
def evil_results(view_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/{evil, titan}: evil is the titan run with payloads in its lines and run id."""
    root = tmp_path_factory.mktemp("xss")
    shutil.copytree(view_runs / "titan", root / "titan")
    shutil.copytree(view_runs / "titan", root / "evil")
    rows = lines(root / "evil")
    for row in rows:
        row["prompt"] = f"Question: {EVIL}\nAnswer:"
        row["choices"] = [f"{c} {PAYLOADS[1]}" for c in row["choices"]]
        if "think" in row:
            row["think"]["text"] = EVIL
            row["think"]["prompt"] = f"User: {EVIL}\nAssistant: <think>\n"
            row["think"]["stop_reason"] = "closed"
    extra = {**rows[-1], "doc_id": EVIL_DOC}
    write_lines(root / "evil", rows + [extra])
    raw = json.loads((root / "evil" / "run.json").read_text())
    raw["titan_eval"]["run_id"] = "evil " + PAYLOADS[0]
    (root / "evil" / "run.json").write_text(json.dumps(raw))
    return root


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as d:
        yield d


@pytest.fixture(scope="module", params=("served", "export-html", "export-folder"))
def base(request: pytest.FixtureRequest, evil_results: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "served":
        with serving([evil_results]) as server:
            yield server.url
        return
    from titan_eval.view import ViewerData
    from titan_eval.view.export import export

    name = "evil.html" if request.param == "export-html" else "evil"
    yield export(ViewerData([evil_results]), tmp_path_factory.mktemp("xss-export") / name).as_uri()


def _nothing_ran(driver: Any) -> None:
    state = driver.execute_script(
        "return {pwned: window.__pwned === undefined ? null : String(window.__pwned),"
        " injected: document.querySelectorAll('blink, img[onerror], svg[onload], [onerror], [onload],"
        " a[href^=javascript]').length}")
    assert state == {"pwned": None, "injected": 0}


def _text(driver: Any, css: str) -> str:
    return driver.execute_script("return arguments[0].textContent", wait_for(driver, css))


def test_payloads_show_literally_and_run_nothing(driver: Any, base: str, evil_results: Path) -> None:
    open_page(driver, base + "#/runs", "runs")
    assert PAYLOADS[0] in _text(driver, "[data-run=evil]")
    _nothing_ran(driver)
    open_page(driver, base + "#/run/evil", "run")
    assert PAYLOADS[0] in _text(driver, "h1")
    _nothing_ran(driver)
    open_page(driver, base + "#/samples/evil?q=onerror", "samples")
    shown = wait_for(driver, "[data-testid=samples-count]").get_attribute("data-n")
    assert shown == str(len(lines(evil_results / "evil")))  # every line matches: the search sees the raw text
    assert EVIL_DOC in _text(driver, "[data-testid=samples-table]")
    _nothing_ran(driver)
    open_page(driver, base + "#/sample/evil/arc_easy_cot/0", "sample")
    assert _text(driver, "[data-testid=prompt]") == f"Question: {EVIL}\nAnswer:"
    assert _text(driver, "[data-testid=trace] [data-seg=trace]") == EVIL
    assert f"User: {EVIL}" in _text(driver, "[data-testid=trace] [data-seg=prompt]")
    assert PAYLOADS[1] in _text(driver, "[data-testid=choices]")
    kind = "served" if base.startswith("http") else "folder" if base.endswith("/index.html") else "html"
    screenshot(driver, f"xss-sample-{kind}")
    _nothing_ran(driver)
    from urllib.parse import quote

    open_page(driver, f"{base}#/sample/evil/arc_easy_cot/{quote(EVIL_DOC, safe='')}", "sample")
    assert EVIL_DOC in _text(driver, "h1")
    _nothing_ran(driver)
    open_page(driver, base + "#/compare/titan,evil", "compare")
    open_page(driver, base + "#/pair/titan,evil/arc_easy_cot/0", "pair")
    assert EVIL in _text(driver, "[data-testid=pair]")
    _nothing_ran(driver)
