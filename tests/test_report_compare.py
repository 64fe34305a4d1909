"""`titan-eval compare` on constructed runs: p-values and intervals against scipy/statsmodels, fingerprint refusals,
groups, literature columns, and clear errors for malformed run files."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_helpers import paired_acc, write_run
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW
from typer.testing import CliRunner

from titan_eval.cards import list_cards, load_card
from titan_eval.cli.app import app
from titan_eval.errors import DataError
from titan_eval.report import CompareConfig, compare_runs, load_literature, load_run

runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.fixture()
def three_runs(tmp_path: Path) -> dict[str, Path]:
    """base, cand (same data; loses 15 / gains 3 on arc_easy acc) and other (arc_easy data fingerprint differs)."""
    rng = np.random.default_rng(7)
    base_acc, cand_acc = paired_acc(100, 60, losses=15, gains=3)
    base_norm, cand_norm = paired_acc(100, 55, losses=4, gains=9)
    margin = rng.normal(0.5, 1.0, size=100)
    hs_base, hs_cand = paired_acc(80, 40, losses=2, gains=2)
    base = {"arc_easy": {"acc": base_acc, "acc_norm": base_norm, "margin": list(margin)},
            "hellaswag": {"acc": hs_base}}
    worse = margin - 0.3 + rng.normal(0, 0.5, 100)
    cand = {"arc_easy": {"acc": cand_acc, "acc_norm": cand_norm, "margin": list(worse)},
            "hellaswag": {"acc": hs_cand}}
    return {
        "base": write_run(tmp_path / "base", base),
        "cand": write_run(tmp_path / "cand", cand),
        "other": write_run(tmp_path / "other", cand, fingerprints={"arc_easy": {"data_sha256": "f" * 64}}),
    }


def test_json_table_matches_scipy_statsmodels(three_runs: dict[str, Path]) -> None:
    out = json.loads(_invoke("compare", str(three_runs["base"]), str(three_runs["cand"]), str(three_runs["other"]),
                             "--format", "json"))
    assert out["baseline"] == "base" and out["runs"] == ["base", "cand", "other"]
    runs = {name: load_run(p) for name, p in three_runs.items()}
    recs = [r for r in out["rows"] if r["kind"] == "run"]
    deltas = []
    for rec in recs:
        values = np.array(list(runs[rec["column"]].values(rec["key"], rec["metric"]).values()))
        if rec["metric"] == "margin":
            low, high = DescrStatsW(values).zconfint_mean(alpha=0.05)
        else:
            low, high = proportion_confint(int(values.sum()), values.size, alpha=0.05, method="wilson")
        assert (rec["value"], rec["ci_low"], rec["ci_high"], rec["n"]) == pytest.approx(
            (values.mean(), low, high, values.size), abs=1e-12)
        if rec["p"] is None:
            continue
        assert rec["column"] == "cand" or rec["key"] == "hellaswag"  # other's arc_easy data differs
        base = np.array(list(runs["base"].values(rec["key"], rec["metric"]).values()))
        d = values - base
        if rec["metric"] == "margin":
            assert rec["test"] == "paired-bootstrap" and 0 < rec["p"] <= 1
            deltas.append(rec["p"])
        else:
            b, c = int(np.sum(d < 0)), int(np.sum(d > 0))
            assert (rec["losses"], rec["gains"]) == (b, c)
            assert rec["p"] == pytest.approx(mcnemar([[0, b], [c, 0]], exact=True).pvalue, abs=1e-12)
            low, high = DescrStatsW(d).zconfint_mean(alpha=0.05)
            assert (rec["delta_ci_low"], rec["delta_ci_high"]) == pytest.approx((low, high), abs=1e-12)
            deltas.append(mcnemar([[0, b], [c, 0]], exact=True).pvalue)
        assert rec["delta"] == pytest.approx(d.mean())
        if base.mean() != 0:  # relative change: the ratio of the two means, its interval around it
            assert rec["relative"] == pytest.approx(values.mean() / base.mean() - 1, abs=1e-12)
            assert rec["relative_ci_low"] <= rec["relative"] <= rec["relative_ci_high"]
    holm = multipletests(deltas, method="holm")[1]
    got = [r["p_holm"] for r in recs if r["p"] is not None]
    assert len(got) == 5 and got == pytest.approx(list(holm), abs=1e-12)
    first = next(r for r in recs if r["column"] == "cand" and r["key"] == "arc_easy" and r["metric"] == "acc")
    assert first["p"] < 0.05 and first["delta"] == pytest.approx(-0.12)


def test_incomparable_cells_say_why(three_runs: dict[str, Path]) -> None:
    text = _invoke("compare", str(three_runs["base"]), str(three_runs["other"]))
    header = text.splitlines()[0]
    assert "Benchmark" in header and "base (baseline)" in header and "Δ other" in header
    arc_lines = [ln for ln in text.splitlines() if ln.startswith("| arc_easy")]
    assert len(arc_lines) == 3 and all("not compared: data_sha256 differs" in ln for ln in arc_lines)
    hs = next(ln for ln in text.splitlines() if ln.startswith("| hellaswag"))
    assert "p=1 " in hs and "n=80" in hs


@pytest.mark.parametrize("field", ["prompt_sha256", "mode", "scorer"])
def test_each_fingerprint_blocks_the_delta(tmp_path: Path, field: str) -> None:
    acc = {"t": {"acc": [1.0, 0.0, 1.0, 1.0]}}
    base = load_run(write_run(tmp_path / "a", acc))
    cand = load_run(write_run(tmp_path / "b", acc, fingerprints={"t": {field: "x"}}))
    cell = compare_runs([base, cand]).rows[0].cells[1]
    assert cell.paired is None and cell.not_compared is not None and field in cell.not_compared
    assert cell.estimate is not None and cell.estimate.value == 0.75


def test_partial_overlap_and_baseline_option(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", {"t": {"acc": [1.0] * 10}}, doc_ids={"t": list(range(10))})
    cand = write_run(tmp_path / "b", {"t": {"acc": [0.0] * 6}}, doc_ids={"t": list(range(4, 10))},
                     fingerprints={"t": {"doc_ids_sha256": "other"}})
    out = json.loads(_invoke("compare", str(cand), "--baseline", str(base), "--format", "json"))
    assert out["runs"] == ["a", "b"]
    rec = next(r for r in out["rows"] if r["column"] == "b")
    assert rec["n"] == 6 and rec["n_paired"] == 6 and (rec["losses"], rec["gains"]) == (6, 0)
    assert rec["p"] == pytest.approx(mcnemar([[4, 6], [0, 0]], exact=True).pvalue)


def test_by_category_pairs_within_groups(tmp_path: Path) -> None:
    base_acc, cand_acc = paired_acc(40, 20, losses=8, gains=2)
    cats = ["x", "y"] * 20
    base = write_run(tmp_path / "a", {"t": {"acc": base_acc}}, categories={"t": cats})
    cand = write_run(tmp_path / "b", {"t": {"acc": cand_acc}}, categories={"t": cats})
    frame = pd.read_csv(io.StringIO(_invoke("compare", str(base), str(cand), "--by", "category", "--format", "csv")))
    runs = frame[(frame.kind == "run") & (frame.column == "b")].set_index("group")
    assert sorted(runs.index) == ["all", "x", "y"]
    for group in ("x", "y"):
        mask = np.array(cats) == group
        b, c = np.array(base_acc)[mask], np.array(cand_acc)[mask]
        assert runs.loc[group, "n_paired"] == mask.sum()
        assert runs.loc[group, "value"] == pytest.approx(c.mean())
        losses, gains = int(np.sum(b > c)), int(np.sum(c > b))
        assert runs.loc[group, "p"] == pytest.approx(mcnemar([[0, losses], [gains, 0]], exact=True).pvalue)
    raw = runs["p"].tolist()
    assert runs["p_holm"].tolist() == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert "| category" in _invoke("compare", str(base), str(cand), "--by", "category").splitlines()[0]


def test_literature_columns_from_file_and_card(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", {"arc_easy": {"acc": [1.0, 0.0]}, "arc_easy_cot": {"acc": [1.0, 1.0]},
                                     "hellaswag": {"acc_norm": [0.0, 1.0]}})
    lit = tmp_path / "mamba.yaml"
    lit.write_text("label: Mamba-130M (paper)\nsource: Gu & Dao 2023, Table 3\nmetric: acc_norm\n"
                   "scores:\n  arc_easy: {acc: 0.48, acc_norm: 0.45}\n  hellaswag: 0.353\n  piqa: {acc: 0.6}\n")
    card = tmp_path / "card.yaml"
    card.write_text("arch: mamba\nname: tiny\nliterature:\n  arc_easy: {acc: 0.5, source: somewhere}\n"
                    "  hellaswag: {literature: 0.59, author_base: 0.472, source: report}\n"
                    "  arc_easy_cot: {author_mimo: 0.38, metric: acc}\n")
    columns = [*load_literature(lit), *load_literature(card)]
    table = compare_runs([load_run(run)], literature=columns)
    assert table.literature == ("Mamba-130M (paper)", "tiny (literature)", "tiny: literature", "tiny: author_base",
                                "tiny: author_mimo")
    by_key = {(r.key, r.metric): r.literature for r in table.rows}
    assert by_key == {
        ("arc_easy", "acc"): (0.48, 0.5, None, None, None),
        ("arc_easy", "acc_norm"): (0.45, None, None, None, None),
        ("arc_easy_cot", "acc"): (None, None, None, None, 0.38),
        ("hellaswag", "(metric unstated)"): (None, None, 0.59, 0.472, None),
        ("hellaswag", "acc_norm"): (0.353, None, None, None, None),
    }
    text = _invoke("compare", str(run), "--literature", str(lit), "--literature", str(card))
    assert "Mamba-130M (paper)" in text.splitlines()[0] and "0.4800" in text and "Gu & Dao 2023" in text
    assert "no acc_norm" in text and "tiny: author_base: report" in text


def test_shipped_cards_literature_parses() -> None:
    with_literature = [name for name in list_cards() if load_card(name).literature]
    if not with_literature:
        pytest.skip("no model card in model/ has a literature section")
    for name in with_literature:
        columns = load_literature(name)
        assert columns and all(math.isfinite(s.value) for c in columns for m in c.scores.values() for s in m.values())


@pytest.mark.parametrize(("body", "message"), [
    ("scores:\n  arc_easy: {acc: 48.0}\n", "fractions"),
    ("scores:\n  arc_easy: {acc: high}\n", "finite number"),
    ("label: x\n", "needs 'scores'"),
    ("scores: {}\ncolour: red\n", "unknown key"),
    ("scores: [1, 2\n", r"lit\.yaml:2: malformed YAML"),
])
def test_bad_literature_files(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "lit.yaml"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        load_literature(path)


@pytest.mark.parametrize(("lines", "message"), [
    (['{"task": "t", "doc_id": 0, "acc": 1.0}', "{not json"],
     r"samples\.jsonl:2: malformed JSON \(Expecting property name enclosed in double quotes at column 2\)$"),
    (['{"task": "t", "doc_id": 0, "acc": 1.0}', "", '{"task": "t", "doc_id": 0, "acc": 0.0}'],
     r"samples\.jsonl:3: t doc 0 repeats line 1"),
    (['{"doc_id": 0, "acc": 1.0}'], r"samples\.jsonl:1: .*'task'"),
])
def test_malformed_samples_name_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    run = write_run(tmp_path / "r", {"t": {"acc": [1.0]}})
    (run / "samples.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        load_run(run)


def test_missing_metric_value_and_missing_files(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", {"t": {"acc": [1.0, 0.0]}})
    (run / "samples.jsonl").write_text('{"task": "t", "doc_id": 0, "acc": 1.0}\n{"task": "t", "doc_id": 1}\n')
    with pytest.raises(DataError, match=r"samples\.jsonl:2: t doc 1 .*'acc'"):
        compare_runs([load_run(run)])
    with pytest.raises(DataError, match="no run.json"):
        load_run(tmp_path / "nowhere")
    (run / "run.json").write_text('{"results": {\n  "t": oops}')
    with pytest.raises(DataError, match=r"run\.json:2: malformed JSON \(Expecting value at column 8\)$"):
        load_run(run / "run.json")
    result = runner.invoke(app, ["compare", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "error:" in result.output and "no run.json" in result.output


def test_incomplete_run_is_noted(tmp_path: Path) -> None:
    base = load_run(write_run(tmp_path / "a", {"t": {"acc": [1.0, 0.0, 1.0]}}))
    killed = load_run(write_run(tmp_path / "b", {"t": {"acc": [1.0]}}, status="killed"))
    table = compare_runs([base, killed], config=CompareConfig(alpha=0.1))
    assert any("status is 'killed'" in n for n in table.notes)
    assert "90% CI" in table.to_markdown()
