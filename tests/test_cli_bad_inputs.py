"""Garbled inputs at the command line (the fuzz targets' worst cases): the documented exit code, one `error:` line
naming the file, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import titan_eval
from report_helpers import write_run


def _one_error_line(proc, code: int, *fragments: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _run(directory: Path) -> Path:
    return write_run(directory, {"arc_easy": {"acc": [1, 0, 1, 1], "acc_norm": [1, 1, 0, 1]}})


GARBAGE_RUN_JSON = {
    "not UTF-8": (b'{"results": "\xff\xfe"}', "run.json:1: run file is not UTF-8"),
    "nested too deeply": (b"[" * 100000, "nested too deeply"),
    "titan_eval section not an object": (b'{"titan_eval": [1, 2]}', "titan_eval must be a JSON object, not list"),
    "results not objects": (b'{"results": {"arc_easy": 0.5}}', "results['arc_easy'] must be a JSON object, not float"),
}


@pytest.mark.parametrize(("command", "case"), [("compare", "not UTF-8"), ("compare", "nested too deeply"),
                                               ("gate", "titan_eval section not an object"), ("gate", "results not objects")])
def test_compare_and_gate_on_a_garbled_run_json(tmp_path: Path, command: str, case: str) -> None:
    base, cand = _run(tmp_path / "base"), _run(tmp_path / "cand")
    data, fragment = GARBAGE_RUN_JSON[case]
    (cand / "run.json").write_bytes(data)
    _one_error_line(titan_eval(command, str(base), str(cand)), 2, fragment)


def test_compare_with_a_literature_number_beyond_float_range(tmp_path: Path) -> None:
    lit = tmp_path / "lit.yaml"
    lit.write_text("scores: {arc_easy: 1" + "0" * 400 + "}\n")
    proc = titan_eval("compare", str(_run(tmp_path / "base")), "--literature", str(lit))
    _one_error_line(proc, 2, str(lit), "expected a finite number")


BAD_CARDS = {
    "not UTF-8": (b"arch: mamba\nname: \xff\n", 2, "card.yaml:2: model card is not UTF-8"),
    "a name that leaves results/": (b"arch: mamba\nname: ../../outside\n", 2, "must be letters, digits"),
    "tokenizer not a mapping": (b"arch: mamba\ntokenizer: byte\n", 2, "tokenizer must be a mapping or null"),
    "config of the wrong type": (b"arch: mamba\nconfig: {d_model: abc, n_layer: 2, vocab_size: 259}\n", 3,
                                 "config does not build a mamba model"),
}


@pytest.mark.parametrize("case", list(BAD_CARDS))
def test_run_with_a_bad_card(tmp_path: Path, case: str) -> None:
    data, code, fragment = BAD_CARDS[case]
    card = tmp_path / "card.yaml"
    card.write_bytes(data)
    proc = titan_eval("run", "titan_sample", "--model", str(card), "--limit", "2", "--output", str(tmp_path / "run"))
    _one_error_line(proc, code, fragment)
    assert not (tmp_path / "run" / "run.json").exists()
