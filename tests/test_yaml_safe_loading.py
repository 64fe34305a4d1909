"""Every YAML titan-eval reads itself (model cards, literature files, Helix probe files, Helix model YAMLs, task YAMLs
before lm-eval sees them) goes through the safe loader: a tag that would run Python is a DataError and runs nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import titan_eval
from titan_eval.cards import load_card
from titan_eval.errors import DataError
from titan_eval.models.helix_config import HelixConfig
from titan_eval.report import load_literature
from titan_eval.suites.probe_files import load_probes
from titan_eval.tasks.catalog import check_task_yaml


def _payload(marker: Path) -> str:
    """A YAML value that creates `marker` (a folder) when an unsafe loader constructs it."""
    return f"!!python/object/apply:os.mkdir [{str(marker)!r}]"


def test_the_payload_is_live_under_an_unsafe_loader(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    yaml.unsafe_load(f"x: {_payload(marker)}\n")
    assert marker.is_dir()


READERS = {
    "model card": ("card.yaml", "arch: mamba\nnotes: {payload}\n", lambda p: load_card(str(p))),
    "literature file": ("lit.yaml", "scores: {{arc_easy: {payload}}}\n", load_literature),
    "helix probe file": ("probes.yaml", "probes:\n  - {payload}\n", load_probes),
    "helix model yaml": ("model.yaml", "model: {payload}\n", lambda p: HelixConfig.from_mapping({"yaml": str(p)})),
    "task yaml": ("task.yaml", "task: x\ncustom_dataset: {payload}\n", check_task_yaml),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_python_tags_are_refused_and_run_nothing(tmp_path: Path, reader: str) -> None:
    name, template, read = READERS[reader]
    marker = tmp_path / "marker"
    path = tmp_path / name
    path.write_text(template.format(payload=_payload(marker)))
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:\d+: malformed YAML .*python/object/apply"):
        read(path)
    assert not marker.exists()


def test_the_package_loads_yaml_only_through_the_safe_reader() -> None:
    """No yaml.load / unsafe_load / full_load outside titan_eval.textfiles (which takes SafeLoader subclasses only)."""
    package = Path(titan_eval.__file__).parent
    calls = re.compile(r"yaml\.(load|unsafe_load|full_load|load_all|unsafe_load_all|full_load_all)\(|Loader\s*=")
    offenders = [f"{p.relative_to(package)}:{n}" for p in package.rglob("*.py") if p.name != "textfiles.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if calls.search(line)]
    assert offenders == []
    with pytest.raises(TypeError):
        from titan_eval.textfiles import load_yaml

        load_yaml(Path(__file__), loader=yaml.UnsafeLoader)
