"""Helpers for the `titan-eval view` tests: real runs to look at, a headless Chromium driven by Selenium, a viewer
server in a thread, and the artifacts folder the screenshots go to.

    make_runs(root, data_dir)      ll + cot runs of titan-tiny and mamba-tiny on arc_easy under root/{titan,mamba}
    chromium()                     a headless Chromium WebDriver (skips the test when chromium/chromedriver are absent)
    serving(roots)                 a ViewerServer on 127.0.0.1:<free port> in a daemon thread, shut down on exit
    wait_for(driver, css)          the first element matching css, waiting for the page to render it
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from cli_helpers import invoke

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("TITAN_EVAL_ARTIFACTS", REPO / "test-artifacts")) / "view"
CHROMIUM = os.environ.get("TITAN_EVAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TITAN_EVAL_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000")
LIMIT, THINK_BUDGET = 12, 8
CARDS = {"titan": "titan-tiny", "mamba": "mamba-tiny"}


def make_runs(root: Path, data_dir: Path) -> Path:
    """`titan-eval run arc_easy --mode ll,cot` for each card of CARDS into root/<name>; returns root."""
    for name, card in CARDS.items():
        done = invoke("run", "arc_easy", "--mode", "ll,cot", "--model", card, "--data-dir", str(data_dir),
                      "--limit", str(LIMIT), "--think-budget", str(THINK_BUDGET), "--output", str(root / name))
        assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    return root


def lines(run: Path) -> list[dict[str, Any]]:
    """samples.jsonl's lines."""
    return [json.loads(x) for x in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]


def write_lines(run: Path, rows: list[dict[str, Any]]) -> None:
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (fresh profile, no network services) through the system chromedriver; always quit."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="titan-view-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def serving(roots: list[Path]) -> Iterator[Any]:
    """A viewer server of `roots` on a free local port, serving from a daemon thread until the block ends."""
    from titan_eval.view import ViewerData
    from titan_eval.view.server import ViewerServer

    server = ViewerServer(ViewerData(roots), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def wait_for(driver: Any, css: str, timeout: float = 20.0) -> Any:
    """The first element matching `css` once the page has rendered it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def open_page(driver: Any, url: str, page: str, timeout: float = 20.0) -> None:
    """Load `url` (a hash route) and wait until the router has rendered `page` (body[data-page])."""
    driver.get("about:blank")
    driver.get(url)
    wait_for(driver, f'body[data-page="{page}"]', timeout)


def screenshot(driver: Any, name: str) -> Path:
    """Save a full-height screenshot as ARTIFACTS/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
    driver.set_window_size(1400, max(800, int(height)))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def console_errors(driver: Any) -> list[str]:
    """The browser console's SEVERE entries since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def scaled_run(source: Path, out: Path, n: int = 10_000) -> Path:
    """A copy of run `source` whose samples.jsonl holds `n` lines: its own lines repeated in order, each copy with
    doc ids shifted past the source's (so every (task, doc_id) stays unique); run.json is kept as is."""
    shutil.copytree(source, out)
    rows = lines(source)
    span = 1 + max(int(r["doc_id"]) for r in rows)
    made = [{**rows[i % len(rows)], "doc_id": int(rows[i % len(rows)]["doc_id"]) + span * (i // len(rows))}
            for i in range(n)]
    write_lines(out, made)
    return out
