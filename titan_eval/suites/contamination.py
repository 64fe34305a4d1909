"""Train/test contamination: which suite prompts share normalised word n-grams with training text.

Both sides are tokenised by `scorers.words` (casefold, accents folded, punctuation dropped, number words as
digits). A prompt's n-grams are its runs of `ngram` consecutive tokens; a prompt shorter than `ngram` tokens has
one n-gram, the whole prompt. Training files are read as one token stream per file (line breaks do not cut
n-grams); `.jsonl` files contribute the string values of each JSON line, other files their text. A prompt is
flagged when the fraction of its n-grams found in the training text is ≥ `min_overlap`.

The report (JSON, `write_report`) lists every item's overlap and the `flagged` ids; `titan-eval run reasoning85
--contamination REPORT` reads it (`read_flagged`; a plain text file with one id per line works too) and reports
clean and flagged subsets separately.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from titan_eval.errors import DataError, UsageError
from titan_eval.suites.scorers import words
from titan_eval.suites.suite_file import SuiteItem
from titan_eval.hashing import sha256_file
from titan_eval.store import atomic_write_text

REPORT_KIND = "titan-eval-contamination"


@dataclass(frozen=True)
class ContaminationConfig:
    """ngram: n-gram length in words; min_overlap: flag at this fraction of a prompt's n-grams (0 < x ≤ 1)."""

    ngram: int = 8
    min_overlap: float = 0.5

    def __post_init__(self) -> None:
        if self.ngram < 1 or not (0 < self.min_overlap <= 1):
            raise UsageError(f"contamination: need ngram ≥ 1 and 0 < min_overlap ≤ 1, got {self}")


def prompt_ngrams(prompt: str, n: int) -> list[tuple[str, ...]]:
    """The prompt's word n-grams (module docstring); empty for a prompt without words."""
    toks = words(prompt)
    if len(toks) <= n:
        return [tuple(toks)] if toks else []
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _file_texts(path: Path) -> Iterator[str]:
    if not path.is_file():
        raise DataError(f"training file {path} does not exist")
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if path.suffix != ".jsonl":
                yield line
                continue
            if not line.strip():
                continue
            try:
                yield "\n".join(_strings(json.loads(line)))
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: not JSON ({err.msg})") from err


def scan(paths: Sequence[Path], wanted: set[tuple[str, ...]]) -> tuple[set[tuple[str, ...]], list[dict[str, Any]]]:
    """The members of `wanted` that occur in the training files, and per-file (path, sha256, tokens)."""
    by_len: dict[int, set[tuple[str, ...]]] = {}
    for gram in wanted:
        by_len.setdefault(len(gram), set()).add(gram)
    longest = max(by_len, default=0)
    found: set[tuple[str, ...]] = set()
    files = []
    for path in paths:
        buf: list[str] = []
        count = 0
        for text in _file_texts(path):
            for tok in words(text):
                count += 1
                buf.append(tok)
                if len(buf) > 4 * longest:
                    del buf[: len(buf) - longest]
                for k, grams in by_len.items():
                    if len(buf) >= k and tuple(buf[-k:]) in grams:
                        found.add(tuple(buf[-k:]))
        files.append({"path": str(path), "sha256": sha256_file(path), "tokens": count})
    return found, files


def check(items: Iterable[SuiteItem], train: Sequence[str | Path], config: ContaminationConfig = ContaminationConfig(),
          suite_path: Path | None = None) -> dict[str, Any]:
    """The contamination report for `items` against the training files."""
    items = list(items)
    grams = {it.id: prompt_ngrams(it.prompt, config.ngram) for it in items}
    found, files = scan([Path(p) for p in train], {g for gs in grams.values() for g in gs})
    rows = []
    for it in items:
        n = len(grams[it.id])
        hit = sum(g in found for g in grams[it.id])
        overlap = hit / n if n else 0.0
        rows.append({"id": it.id, "category": it.category, "n_ngrams": n, "matched": hit, "overlap": overlap,
                     "flagged": n > 0 and overlap >= config.min_overlap})
    return {"kind": REPORT_KIND, "version": 1, "config": asdict(config),
            "suite": None if suite_path is None else str(suite_path),
            "suite_sha256": None if suite_path is None else sha256_file(suite_path),
            "train": files, "items": rows, "flagged": [r["id"] for r in rows if r["flagged"]]}


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return out


def read_flagged(path: str | Path) -> tuple[set[str], str]:
    """(flagged ids, sha256 of the file) from a contamination report or a text file of ids (one per line,
    `#` comments)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"contamination file {file} does not exist")
    text = file.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{file}: not JSON ({err.msg})") from err
        if obj.get("kind") != REPORT_KIND or not isinstance(obj.get("flagged"), list):
            raise DataError(f"{file}: not a titan-eval contamination report (kind {REPORT_KIND!r}, list `flagged`)")
        return {str(i) for i in obj["flagged"]}, sha256_file(file)
    ids = {line.split("#", 1)[0].strip() for line in text.splitlines()}
    return {i for i in ids if i}, sha256_file(file)
