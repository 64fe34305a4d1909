"""The samples and sample pages on lm-eval's other line types (docs/results-format.md): loglikelihood
(lambada_openai: requests), loglikelihood_rolling (wikitext: the page's log-likelihood, words, bytes) and
generate_until (gsm8k: generation, filtered answers; in cot mode the think trace too), from a tiny local Hub mirror
(tests/catalogue_mirror.py), as documents and in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalogue_mirror import build_mirror
from cli_helpers import invoke
from view_helpers import chromium, console_errors, lines, open_page, screenshot, serving, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def catalogue_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mirror = build_mirror(tmp_path_factory.mktemp("mirror"), long_page_words=200)
    root = tmp_path_factory.mktemp("catalogue-results")
    common = ("--data-dir", str(mirror), "--limit", "2", "--gen-kwargs", "max_gen_toks=8", "--num-fewshot", "1")
    for out, args in (("ll", ("lambada_openai", "wikitext", "gsm8k", "--model", "mamba-tiny")),
                      ("cot", ("gsm8k", "--cot", "--model", "titan-tiny", "--think-budget", "6"))):
        done = invoke("run", *args, *common, "--output", str(root / out))
        assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    return root


def test_documents_describe_each_line_type(catalogue_runs: Path) -> None:
    from titan_eval.view import ViewerData

    data = ViewerData([catalogue_runs])
    rows = {r["key"]: r for r in data.document("samples/ll")["rows"]}
    assert {k: r["kind"] for k, r in rows.items()} == {"lambada_openai": "loglikelihood", "wikitext": "rolling",
                                                       "gsm8k": "generate"}
    assert rows["lambada_openai"]["metric"] == "acc" and rows["gsm8k"]["metric"].startswith("exact_match,")
    source = {ln["task"]: ln for ln in lines(catalogue_runs / "ll")}
    assert rows["wikitext"]["lls"] == [source["wikitext"]["loglikelihood"]]
    lamb = data.document(f"sample/ll/lambada_openai/{source['lambada_openai']['doc_id']}")
    assert lamb["requests"] == source["lambada_openai"]["requests"]
    wiki = data.document(f"sample/ll/wikitext/{source['wikitext']['doc_id']}")
    assert wiki["rolling"]["words"] == source["wikitext"]["words"]
    cot_line = lines(catalogue_runs / "cot")[0]
    cot = data.document(f"sample/cot/gsm8k_cot/{cot_line['doc_id']}")
    assert cot["generation"] == cot_line["generation"] and cot["filtered"] == cot_line["filtered"]
    assert cot["traces"][0]["segments"][2]["text"] == cot_line["think"]["text"]


def _text(driver: Any, css: str) -> str:
    return driver.execute_script("return arguments[0].textContent", wait_for(driver, css))


def test_pages_show_requests_rolling_and_generations(catalogue_runs: Path) -> None:
    source = {ln["task"]: ln for ln in lines(catalogue_runs / "ll")}
    cot_line = lines(catalogue_runs / "cot")[0]
    with serving([catalogue_runs]) as server, chromium() as driver:
        open_page(driver, server.url + "#/samples/ll", "samples")
        assert wait_for(driver, "[data-testid=samples-count]").get_attribute("data-n") == str(len(lines(
            catalogue_runs / "ll")))
        screenshot(driver, "catalogue-samples")
        open_page(driver, f"{server.url}#/sample/ll/lambada_openai/{source['lambada_openai']['doc_id']}", "sample")
        assert source["lambada_openai"]["requests"][0]["continuation"] in _text(driver, "[data-testid=requests]")
        open_page(driver, f"{server.url}#/sample/ll/wikitext/{source['wikitext']['doc_id']}", "sample")
        assert "words" in _text(driver, "main")
        open_page(driver, f"{server.url}#/sample/ll/gsm8k/{source['gsm8k']['doc_id']}", "sample")
        assert _text(driver, "[data-testid=generation]") == source["gsm8k"]["generation"]
        open_page(driver, f"{server.url}#/sample/cot/gsm8k_cot/{cot_line['doc_id']}", "sample")
        assert _text(driver, "[data-testid=trace] [data-seg=trace]") == cot_line["think"]["text"]
        assert _text(driver, "[data-testid=generation]") == cot_line["generation"]
        screenshot(driver, "catalogue-cot-sample")
        assert not console_errors(driver)
