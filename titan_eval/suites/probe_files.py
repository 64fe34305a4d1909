"""Reading margin-probe files: the project's fact JSONL (tasks/fact_margins/README.md) and the Helix margin-probe
YAML (specs/helix.md §3.1).

Fact JSONL, one object per line: `id`, `category`, `lang`, `prompt`, `correct` (the continuation, usually with a
leading space), `distractors` {level: [continuations]} with levels `easy` / `medium` / `hard` (at least one
distractor), optional `notes`.

Helix YAML: `defaults: {prompt_style: raw | chat}` and `probes:` [{`id`, `family`, `split` (target | retention),
`prompt`, `correct`, `wrong` (a string or a list), optional `prompt_style`}]. A Helix probe becomes a `Probe` with
category = family, one distractor level `wrong`, and its split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from titan_eval.errors import DataError
from titan_eval.jsonl import read_jsonl
from titan_eval.paths import TASKS_DIR
from titan_eval.textfiles import load_yaml

DEFAULT_PROBES = TASKS_DIR / "fact_margins" / "facts.jsonl"
LEVELS = ("easy", "medium", "hard", "wrong")  # ascending hardness; `wrong` is the Helix single level
SPLITS = ("target", "retention")
STYLES = ("raw", "chat")


@dataclass(frozen=True)
class Probe:
    """One fact: prompt, correct continuation, distractors by level; `split` only for Helix probes;
    `prompt_style` raw (the prompt as is) or chat (the card's prompt template around it)."""

    id: str
    category: str
    prompt: str
    correct: str
    distractors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lang: str | None = None
    split: str | None = None
    prompt_style: str = "raw"

    def levels(self) -> list[str]:
        """Levels present, easiest first."""
        return [lv for lv in LEVELS if self.distractors.get(lv)]


def _text(obj: Mapping[str, Any], name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: `{name}` must be a non-empty string")
    return value


def _fact(obj: Any, where: str) -> Probe:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object")
    raw = obj.get("distractors")
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{where}: `distractors` must map levels (easy, medium, hard) to lists of strings")
    levels: dict[str, tuple[str, ...]] = {}
    for level, texts in raw.items():
        if level not in LEVELS[:3]:
            raise DataError(f"{where}: unknown distractor level {level!r}; use easy, medium, hard")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataError(f"{where}: distractors[{level!r}] must be a non-empty list of non-empty strings")
        levels[level] = tuple(texts)
    return Probe(str(obj.get("id") or where), _text(obj, "category", where), _text(obj, "prompt", where),
                 _text(obj, "correct", where), levels, obj.get("lang"))


def _helix(obj: Any, default_style: str, where: str) -> Probe:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a mapping")
    split = obj.get("split")
    if split not in SPLITS:
        raise DataError(f"{where}: split must be target or retention, got {split!r}")
    style = obj.get("prompt_style", default_style)
    if style not in STYLES:
        raise DataError(f"{where}: prompt_style must be raw or chat, got {style!r}")
    wrong = obj.get("wrong")
    wrong = [wrong] if isinstance(wrong, str) else wrong
    if not isinstance(wrong, list) or not wrong or not all(isinstance(w, str) and w.strip() for w in wrong):
        raise DataError(f"{where}: `wrong` must be a non-empty string or list of strings")
    return Probe(_text(obj, "id", where), _text(obj, "family", where), _text(obj, "prompt", where),
                 _text(obj, "correct", where), {"wrong": tuple(wrong)}, None, split, style)


def _read_helix(file: Path) -> list[Probe]:
    doc = load_yaml(file, "probe file")
    if not isinstance(doc, dict) or not isinstance(doc.get("probes"), list):
        raise DataError(f"{file}: expected a mapping with a `probes:` list")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise DataError(f"{file}: `defaults` must be a mapping such as {{prompt_style: raw}}")
    style = defaults.get("prompt_style", "raw")
    return [_helix(p, style, f"{file}: probe {k + 1}") for k, p in enumerate(doc["probes"])]


def _read_jsonl(file: Path) -> list[Probe]:
    return [_fact(obj, f"{file}:{number}") for number, obj in read_jsonl(file)]


def load_probes(path: str | Path | None = None) -> tuple[Path, list[Probe]]:
    """(resolved path, probes in file order): `.yaml`/`.yml` as Helix margin probes, anything else as fact JSONL
    (default: the project's tasks/fact_margins/facts.jsonl)."""
    file = Path(path) if path is not None else DEFAULT_PROBES
    if not file.is_file():
        raise DataError(f"probe file {file} does not exist")
    probes = _read_helix(file) if file.suffix in (".yaml", ".yml") else _read_jsonl(file)
    if not probes:
        raise DataError(f"probe file {file} holds no probes")
    ids = [p.id for p in probes]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DataError(f"{file}: duplicate probe id(s) {', '.join(dupes)}")
    return file.resolve(), probes
