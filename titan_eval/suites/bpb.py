"""Bits per byte of a text file, from the measured UTF-8 bytes of exactly the scored text (specs/helix.md §3.6, §4.2).

Glossary:
    ids         the whole text tokenised once (no BOS/EOS added), N tokens
    W           window length in tokens; window j scores ids[jW : (j+1)W]
    prefix      every window is conditioned on the EOS id alone (BOS when the tokenizer has no EOS), so the text's
                first token — and each window's first token — is scored as P(token | prefix); no token is left
                unscored and none is scored twice. Tokens see only earlier tokens of their own window.
    NLL         Σ over all N tokens of −log P (nats)
    B           UTF-8 byte length of the decoded ids (the text the scored tokens encode); equal to the file's byte
                length when the tokenizer round-trips (recorded as `roundtrip_exact`)
    bpb         NLL / (B · ln 2). No tokens-per-byte constant is used anywhere.

Text files: a plain UTF-8 file is one text. A `.jsonl` file holds one text per line, `{"text": ..., "lang": ...}`
(`lang`, or `language`, optional): each line is tokenised and windowed on its own, and besides the overall
`bpb` (Σ NLL over all lines / (Σ B · ln 2)) the run reports `bpb_<lang>` for each language, from that language's
lines alone. Lines without a language count only in the overall figure.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from titan_eval.engine import ScoreRequest, TokenCounter, score
from titan_eval.errors import DataError, UsageError
from titan_eval.models.base import LanguageModel
from titan_eval.records import TaskFingerprint, TaskOutput, TaskResult
from titan_eval.hashing import sha256_file, sha256_json
from titan_eval.tokenizers import Tokenizer

TASK = "bpb"
DEFAULT_WINDOW = 1024
_LANG = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class BpbResult:
    """The numbers of one bpb measurement (glossary); `window_nll`/`window_tokens` per window."""

    bpb: float
    nll: float
    tokens: int
    bytes: int
    text_bytes: int
    roundtrip_exact: bool
    window: int
    prefix_id: int
    window_nll: tuple[float, ...]
    window_tokens: tuple[int, ...]

    @property
    def nll_per_token(self) -> float:
        return self.nll / self.tokens


def _windows(ids: Sequence[int], window: int) -> list[tuple[int, ...]]:
    return [tuple(ids[s : s + window]) for s in range(0, len(ids), window)]


def window_shares(nll: Sequence[float], n_bytes: int) -> list[float]:
    """x [J]: window j's share of the bpb, x_j = NLL_j · J / (B · ln 2) for J windows and B bytes, so mean(x) = bpb.
    The per-window values `compare`, `gate` and `sweep` pair two runs' bpb on (the same windows of the same text)."""
    scale = len(nll) / (n_bytes * math.log(2))
    return [float(x) * scale for x in nll]


def bits_per_byte_texts(model: LanguageModel, tok: Tokenizer, texts: Sequence[str], window: int = DEFAULT_WINDOW,
                        batch_size: int = 8, reuse_prefix: bool = True,
                        counter: TokenCounter | None = None) -> list[BpbResult]:
    """bpb of each text on its own (module docstring), every text's windows scored in one batch; one result per
    text, in order."""
    if window < 1:
        raise UsageError("bpb window must be at least 1 token")
    prefix = tok.eos_id if tok.eos_id is not None else tok.bos_id
    if prefix is None:
        raise DataError(f"tokenizer {tok.name} has neither EOS nor BOS to condition the first token on")
    encoded = [tok.encode(text) for text in texts]
    for i, ids in enumerate(encoded):
        if not ids:
            raise DataError(f"bpb: text {i + 1} encodes to no tokens")
    per_text = [_windows(ids, window) for ids in encoded]
    requests = [ScoreRequest((prefix,), w) for ws in per_text for w in ws]
    nlls_all = [-r.logprob for r in score(model, requests, batch_size, reuse_prefix, counter)]
    out, at = [], 0
    for i, (text, ids, windows) in enumerate(zip(texts, encoded, per_text)):
        nlls = tuple(nlls_all[at : at + len(windows)])
        at += len(windows)
        decoded = tok.decode(ids)
        n_bytes = len(decoded.encode("utf-8"))
        if n_bytes == 0:
            raise DataError(f"bpb: the scored tokens of text {i + 1} decode to no bytes")
        total = math.fsum(nlls)
        out.append(BpbResult(total / (n_bytes * math.log(2)), total, len(ids), n_bytes, len(text.encode("utf-8")),
                             decoded == text, window, prefix, nlls, tuple(len(w) for w in windows)))
    return out


def bits_per_byte(model: LanguageModel, tok: Tokenizer, text: str, window: int = DEFAULT_WINDOW, batch_size: int = 8,
                  reuse_prefix: bool = True, counter: TokenCounter | None = None) -> BpbResult:
    """bpb of one `text` (module docstring)."""
    return bits_per_byte_texts(model, tok, [text], window, batch_size, reuse_prefix, counter)[0]


@dataclass(frozen=True)
class BpbText:
    """One text of a bpb file: its 1-based line (None for a plain file), the text and its language."""

    line: int | None
    text: str
    lang: str | None = None


def read_texts(file: Path) -> list[BpbText]:
    """The texts of a bpb file (module docstring); `DataError` naming the file and line for anything malformed."""
    if not file.is_file():
        raise DataError(f"text file {file} does not exist")
    try:
        raw = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{file}: not UTF-8 (byte {err.start})") from err
    if file.suffix.lower() != ".jsonl":
        return [BpbText(None, raw)]
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise DataError(f"{file}:{n}: not a JSON object ({err.msg})") from err
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"]:
            raise DataError(f"{file}:{n}: each line needs a non-empty string field \"text\"")
        lang = obj.get("lang", obj.get("language"))
        if lang is not None and (not isinstance(lang, str) or not _LANG.fullmatch(lang)):
            raise DataError(f"{file}:{n}: lang must be letters, digits, '-' or '_', got {lang!r}")
        out.append(BpbText(n, obj["text"], lang))
    if not out:
        raise DataError(f"{file}: no text lines")
    return out


def _by_language(texts: Sequence[BpbText], results: Sequence[BpbResult]) -> dict[str, dict[str, Any]]:
    """lang → {nll_nats (fsum over its windows), bytes, tokens, texts}, over the texts that name a language."""
    grouped: dict[str, list[tuple[BpbText, BpbResult]]] = {}
    for t, r in zip(texts, results):
        if t.lang is not None:
            grouped.setdefault(t.lang, []).append((t, r))
    return {lang: {"nll_nats": math.fsum(x for _, r in pairs for x in r.window_nll),
                   "bytes": sum(r.bytes for _, r in pairs), "tokens": sum(r.tokens for _, r in pairs),
                   "texts": len(pairs)} for lang, pairs in sorted(grouped.items())}


def run_bpb(loaded: Any, options: Any) -> TaskOutput:
    """Native-task entry point (`titan-eval run bpb --text FILE`)."""
    path = options.native.get("text")
    if not path:
        raise UsageError("bpb needs a text file: --text FILE")
    file = Path(path)
    texts = read_texts(file)
    counter = TokenCounter()
    window = int(options.native.get("window", DEFAULT_WINDOW))
    results = bits_per_byte_texts(loaded.model, loaded.tokenizer, [t.text for t in texts], window,
                                  options.batch_size, options.reuse_prefix, counter)
    prefix = results[0].prefix_id
    lines, j = [], 0
    for t, res in zip(texts, results):
        start = 0
        for nll, n in zip(res.window_nll, res.window_tokens):
            line: dict[str, Any] = {"task": TASK, "mode": "ll", "doc_id": j, "start_token": start, "n_tokens": n,
                                    "nll": nll}
            if t.line is not None:
                line.update({"text_line": t.line, "lang": t.lang})
            lines.append(line)
            j, start = j + 1, start + n
    nll = math.fsum(x for r in results for x in r.window_nll)
    n_bytes, n_tokens = sum(r.bytes for r in results), sum(r.tokens for r in results)
    langs = _by_language(texts, results)
    fingerprint = TaskFingerprint(
        task=TASK, mode="ll", scorer="bpb-measured-bytes-v1", data_sha256=sha256_file(file),
        prompt_sha256=sha256_json({"window": window, "prefix_id": prefix}),
        doc_ids_sha256=sha256_json(list(range(len(lines)))))
    meta: dict[str, Any] = {
        "text_file": str(file.resolve()), "tokens": n_tokens, "bytes": n_bytes,
        "text_bytes": sum(r.text_bytes for r in results), "roundtrip_exact": all(r.roundtrip_exact for r in results),
        "nll_nats": nll, "window": window, "prefix_id": prefix,
        "first_token": "each window's first token is scored given the prefix id alone",
        "forward_tokens": counter.tokens}
    metrics: dict[str, Any] = {"alias": TASK, "bpb,none": nll / (n_bytes * math.log(2)), "bpb_stderr,none": "N/A",
                               "nll_per_token,none": nll / n_tokens, "nll_per_token_stderr,none": "N/A"}
    if texts[0].line is not None:
        meta.update({"texts": len(texts), "languages": langs})
    for lang, acc in langs.items():
        metrics[f"bpb_{lang},none"] = acc["nll_nats"] / (acc["bytes"] * math.log(2))
        metrics[f"bpb_{lang}_stderr,none"] = "N/A"
    lower = {"bpb": False, "nll_per_token": False, **{f"bpb_{k}": False for k in langs}}
    result = TaskResult(TASK, metrics, len(lines), fingerprint, higher_is_better=lower, meta=meta)
    return TaskOutput(tuple(lines), (result,))
