"""titan-eval: an evaluation harness for small custom language models.

Public API (imported lazily, so `import titan_eval` stays cheap):
    load_model(card, checkpoint=None, tokenizer=None) -> LanguageModel   (forward(ids, lengths) -> logits [B, L, V])
    load(card, ...) -> LoadedModel  (model + tokenizer + provenance)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["LoadedModel", "__version__", "load", "load_model"]


def __getattr__(name: str) -> Any:
    if name in ("LoadedModel", "load", "load_model"):
        from titan_eval import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'titan_eval' has no attribute {name!r}")
