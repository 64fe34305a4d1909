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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from titan_eval.engine import ScoreRequest, TokenCounter, score
from titan_eval.errors import DataError, UsageError
from titan_eval.models.base import LanguageModel
from titan_eval.records import TaskFingerprint, TaskOutput, TaskResult
from titan_eval.hashing import sha256_file, sha256_json
from titan_eval.tokenizers import Tokenizer

TASK = "bpb"
DEFAULT_WINDOW = 1024


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


def bits_per_byte(model: LanguageModel, tok: Tokenizer, text: str, window: int = DEFAULT_WINDOW, batch_size: int = 8,
                  reuse_prefix: bool = True, counter: TokenCounter | None = None) -> BpbResult:
    """bpb of `text` (module docstring)."""
    if window < 1:
        raise UsageError("bpb window must be at least 1 token")
    prefix = tok.eos_id if tok.eos_id is not None else tok.bos_id
    if prefix is None:
        raise DataError(f"tokenizer {tok.name} has neither EOS nor BOS to condition the first token on")
    ids = tok.encode(text)
    if not ids:
        raise DataError("bpb: the text encodes to no tokens")
    windows = [tuple(ids[s : s + window]) for s in range(0, len(ids), window)]
    results = score(model, [ScoreRequest((prefix,), w) for w in windows], batch_size, reuse_prefix, counter)
    nlls = tuple(-r.logprob for r in results)
    decoded = tok.decode(ids)
    n_bytes = len(decoded.encode("utf-8"))
    if n_bytes == 0:
        raise DataError("bpb: the scored tokens decode to no bytes")
    total = math.fsum(nlls)
    return BpbResult(total / (n_bytes * math.log(2)), total, len(ids), n_bytes, len(text.encode("utf-8")),
                     decoded == text, window, prefix, nlls, tuple(len(w) for w in windows))


def run_bpb(loaded: Any, options: Any) -> TaskOutput:
    """Native-task entry point (`titan-eval run bpb --text FILE`)."""
    path = options.native.get("text")
    if not path:
        raise UsageError("bpb needs a text file: --text FILE")
    file = Path(path)
    if not file.is_file():
        raise DataError(f"text file {file} does not exist")
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{file}: not UTF-8 (byte {err.start})") from err
    counter = TokenCounter()
    res = bits_per_byte(loaded.model, loaded.tokenizer, text, int(options.native.get("window", DEFAULT_WINDOW)),
                        options.batch_size, options.reuse_prefix, counter)
    lines = tuple({"task": TASK, "mode": "ll", "doc_id": j, "start_token": j * res.window, "n_tokens": n, "nll": nll}
                  for j, (nll, n) in enumerate(zip(res.window_nll, res.window_tokens)))
    fingerprint = TaskFingerprint(
        task=TASK, mode="ll", scorer="bpb-measured-bytes-v1", data_sha256=sha256_file(file),
        prompt_sha256=sha256_json({"window": res.window, "prefix_id": res.prefix_id}),
        doc_ids_sha256=sha256_json(list(range(len(res.window_nll)))))
    meta = {"text_file": str(file.resolve()), "tokens": res.tokens, "bytes": res.bytes, "text_bytes": res.text_bytes,
            "roundtrip_exact": res.roundtrip_exact, "nll_nats": res.nll, "window": res.window,
            "prefix_id": res.prefix_id, "first_token": "each window's first token is scored given the prefix id alone",
            "forward_tokens": counter.tokens}
    metrics = {"alias": TASK, "bpb,none": res.bpb, "bpb_stderr,none": "N/A",
               "nll_per_token,none": res.nll_per_token, "nll_per_token_stderr,none": "N/A"}
    result = TaskResult(TASK, metrics, len(res.window_nll), fingerprint,
                        higher_is_better={"bpb": False, "nll_per_token": False}, meta=meta)
    return TaskOutput(lines, (result,))
