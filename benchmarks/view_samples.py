"""Issue 25: the `titan-eval view` samples page at 10,000 samples in headless Chromium — time to the first rows and
time for a filter / a search to apply (targets: < 1 s and < 200 ms).

    PYTHONPATH=. python benchmarks/view_samples.py [--run RUN_DIR] [--n 10000] [--repeats 5]

RUN_DIR's lines (default: a fresh `titan-eval run arc_easy --mode ll,cot --model titan-tiny --limit 12
--think-budget 8` on the shared ARC files) are repeated to N lines (tests/view_helpers.scaled_run). For the served
viewer and for a folder export opened from file://, each repeat loads the samples page in a fresh tab state:
  first rows   ms from navigation start to the first page of rows in the DOM (the page's own performance.now()
               mark: fetch or script-load of the document, JSON parse, building the 10,000 rows, rendering 100);
               the served viewer's first load right after the server starts is reported apart ("cold": the
               server's warm-up thread, which imports the report code and builds the document, races it)
  filter       ms for "wrong answers" to apply (select change → rows re-rendered → layout forced)
  search       ms for a typed search term to apply (input event → rows → layout), the first search included
               (it lower-cases every row's text once)
Chromium flags, driver and server are the browser tests' (tests/view_helpers.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import DATA, machine, median, table  # noqa: E402

APPLY = """
const [css, prop, value, event] = arguments;
const el = document.querySelector(css);
const t0 = performance.now();
el[prop] = value;
el.dispatchEvent(new Event(event));
void document.body.offsetHeight;
return performance.now() - t0;
"""


def _first_rows(driver, url: str) -> float:
    from view_helpers import open_page

    open_page(driver, url, "samples", timeout=120)
    return float(driver.execute_script("return TV.timings.samplesFirstRows"))


def _measure(driver, url: str, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"first rows": [], "filter": [], "search": []}
    for _ in range(repeats):
        out["first rows"].append(_first_rows(driver, url))
        out["filter"].append(driver.execute_script(APPLY, "[data-testid=filter-correct]", "value", "wrong", "change"))
        out["search"].append(driver.execute_script(APPLY, "[data-testid=search]", "value", "kitten", "input"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=None, help="a real run folder whose lines are repeated")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from view_helpers import chromium, make_runs, scaled_run, serving

    from titan_eval.view import ViewerData
    from titan_eval.view.export import export

    with tempfile.TemporaryDirectory(prefix="view-bench-") as tmp:
        root = Path(tmp)
        source = args.run or make_runs(root / "made", DATA) / "titan"
        results = root / "results"
        results.mkdir()
        scaled_run(source, results / "big", args.n)
        index = export(ViewerData([results]), root / "export")
        rows = []
        with chromium() as driver, serving([results]) as server:
            url = server.url + "#/samples/big"
            cold = _first_rows(driver, url)
            for name, target in (("served", url), ("export (file://)", index.as_uri() + "#/samples/big")):
                times = _measure(driver, target, args.repeats)
                rows.append([name, *(f"{median(times[k]):.0f}" for k in ("first rows", "filter", "search")),
                             " / ".join(f"{max(times[k]):.0f}" for k in ("first rows", "filter", "search"))])
    print(f"{machine()}; {args.n} samples; median of {args.repeats} loads (ms)")
    print(table(["viewer", "first rows", "filter (wrong)", "search", "worst: rows / filter / search"], rows))
    print(f"served, cold (opened as the server starts; its warm-up thread racing the request): first rows {cold:.0f} ms")


if __name__ == "__main__":
    main()
