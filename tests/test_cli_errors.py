"""Bad input: one clear line naming the problem, the documented exit code, no traceback. In-process through
Typer's CliRunner (`invoke`); the real console entry point in a subprocess where that is the point."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import invoke, titan_eval


def _one_line_error(proc, code: int, *fragments: str) -> None:
    assert getattr(proc, "exception", None) is None, proc.exception
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1, proc.stderr
    for f in fragments:
        assert f in err_lines[0], err_lines[0]


def test_unknown_task() -> None:
    _one_line_error(invoke("run", "no_such_task", "--model", "mamba-tiny"), 2, "unknown task", "no_such_task")


@pytest.mark.slow
def test_the_console_entry_point_maps_errors_to_exit_codes() -> None:
    _one_line_error(titan_eval("run", "no_such_task", "--model", "mamba-tiny"), 2, "unknown task", "no_such_task")
    _one_line_error(titan_eval("run", "titan_sample", "--limit", "abc"), 2, "Invalid value for '--limit'",
                    "'python -m titan_eval run --help'")


def test_unknown_model() -> None:
    _one_line_error(invoke("run", "titan_sample", "--model", "no-such-card"), 2, "unknown model", "no-such-card")


def test_missing_checkpoint(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    _one_line_error(invoke("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(missing)), 3,
                    "checkpoint not found", str(missing))


def test_checkpoint_with_wrong_keys(tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "bad.pt"
    torch.save({"model": {"unexpected.weight": torch.zeros(2)}}, bad)
    _one_line_error(invoke("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(bad)), 3,
                    "missing", "unexpected.weight")


@pytest.mark.parametrize(("suffix", "kind", "reason"), [
    (".pt", "checkpoint", "PytorchStreamReader failed reading zip archive: failed finding central directory"),
    (".safetensors", "safetensors file", "past the end of the file"),
])
def test_a_truncated_checkpoint_is_one_readable_sentence(tmp_path: Path, suffix: str, kind: str, reason: str) -> None:
    import torch
    from safetensors.torch import save_file

    import titan_eval

    state = {k: v.contiguous() for k, v in titan_eval.load_model("mamba-tiny").state_dict().items()}
    whole = tmp_path / f"whole{suffix}"
    torch.save(state, whole) if suffix == ".pt" else save_file(state, str(whole))
    half = tmp_path / f"half{suffix}"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    proc = invoke("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(half))
    _one_line_error(proc, 3, f"error: {half}: not a readable {kind}; it looks truncated or corrupt "
                             f"({half.stat().st_size:,} bytes; {reason}")
    assert "miniz" not in proc.stderr and len(proc.stderr) - len(str(half)) < 200  # not the reader's paragraph


def test_data_dir_without_the_needed_file(tmp_path: Path) -> None:
    _one_line_error(invoke("run", "arc_easy", "--model", "mamba-tiny", "--data-dir", str(tmp_path)), 2,
                    "ARC-Easy-Test.jsonl", str(tmp_path))


def test_malformed_jsonl_line_is_named(shared: Path, tmp_path: Path) -> None:
    src = (shared / "data" / "arc" / "ARC-Easy-Test.jsonl").read_text().splitlines()
    (tmp_path / "ARC-Easy-Dev.jsonl").write_text((shared / "data" / "arc" / "ARC-Easy-Dev.jsonl").read_text())
    (tmp_path / "ARC-Easy-Test.jsonl").write_text("\n".join(src[:4] + ['{"id": "x", "question": '] + src[4:10]) + "\n")
    proc = invoke("run", "arc_easy", "--model", "mamba-tiny", "--data-dir", str(tmp_path))
    _one_line_error(proc, 2, f"{tmp_path / 'ARC-Easy-Test.jsonl'}:5: malformed JSON (Expecting value at column 25)")


ARC_ROW = {"id": "Q1", "answerKey": "A", "question": {"stem": "Which?", "choices": [{"text": "this", "label": "A"},
                                                                                 {"text": "that", "label": "B"}]}}


def test_an_empty_data_file_is_named_not_the_task_yaml(tmp_path: Path) -> None:
    (tmp_path / "ARC-Easy-Test.jsonl").write_text("")
    (tmp_path / "ARC-Easy-Dev.jsonl").write_text(json.dumps(ARC_ROW) + "\n")
    proc = invoke("run", "arc_easy", "--model", "mamba-tiny", "--data-dir", str(tmp_path),
                  "--output", str(tmp_path / "run"))
    _one_line_error(proc, 2, f"error: {tmp_path / 'ARC-Easy-Test.jsonl'}: empty data file (no JSON lines)")
    assert "arc_easy.yaml" not in proc.stderr


def test_a_control_character_in_a_data_line_keeps_line_and_column(tmp_path: Path) -> None:
    rows = [json.dumps({**ARC_ROW, "id": f"Q{i}"}) for i in range(6)] + ['{"id": "x\tq"}']
    (tmp_path / "ARC-Easy-Test.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "ARC-Easy-Dev.jsonl").write_text(rows[0] + "\n")
    proc = invoke("run", "arc_easy", "--model", "mamba-tiny", "--data-dir", str(tmp_path),
                  "--output", str(tmp_path / "run"))
    _one_line_error(proc, 2, ":7: malformed JSON (Invalid control character at column 10)")


@pytest.mark.parametrize("args, message", [
    (("run", "titan_sample", "--limit", "abc"), "error: Invalid value for '--limit': "),
    (("run", "titan_sample", "--bogus"), "error: No such option: --bogus"),
    (("run",), "error: Missing argument "),
])
def test_a_bad_command_line_is_one_error_line_not_a_usage_panel(args: tuple[str, ...], message: str) -> None:
    proc = invoke(*args)
    assert proc.returncode == 2 and proc.exception is None
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr
    assert proc.stderr.rstrip().endswith("run --help'") and "╭" not in proc.stderr and "Usage:" not in proc.stderr


LIGHT_PROBE = """
import sys
from titan_eval.cli.app import main
sys.argv = ["titan-eval", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    print("exit", done.code, "heavy", sorted(m for m in ("torch", "lm_eval", "datasets") if m in sys.modules))
"""


@pytest.mark.parametrize("args, message", [
    (("run", "no_such_task"), "error: unknown task(s) no_such_task"),
    (("run", "titan_sample", "--model", "nosuch"), "error: unknown model 'nosuch'; cards: "),
    (("run", "titan_sample", "--limit", "0"), "error: --limit must be at least 1"),
    (("run", "titan_sample", "--cot", "--think-budget", "0"), "error: --think-budget must be at least 1"),
])
def test_names_and_sizes_are_refused_before_torch_or_lm_eval_is_imported(args: tuple[str, ...], message: str) -> None:
    proc = subprocess.run([sys.executable, "-c", LIGHT_PROBE, *args], capture_output=True, text=True, timeout=300)
    assert proc.stdout.splitlines() == ["exit 2 heavy []"], (proc.stdout, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr


def test_options_are_checked_before_the_model_loads(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"  # the model would fail with exit 3; the bad option must win with exit 2
    _one_line_error(invoke("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(missing),
                           "--think-budget", "0"), 2, "--think-budget")
    _one_line_error(invoke("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(missing),
                           "--stratify"), 2, "--stratify needs --limit")


@pytest.mark.parametrize("args", [("models",), ("tasks",), ("env",)])
def test_info_commands(args: tuple[str, ...]) -> None:
    proc = invoke(*args)
    assert proc.returncode == 0 and proc.stdout.strip()


def test_an_unusable_output_folder_fails_before_the_model_loads(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    missing = tmp_path / "nope.pt"  # loading would fail with exit 3: the output check must come first
    _one_line_error(invoke("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(missing),
                           "--output", str(blocker / "run")), 2, "output directory")
