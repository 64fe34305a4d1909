"""titan-eval: an evaluation harness for small custom language models.

Public API:
    load_model(card, checkpoint=None, tokenizer=None) -> LanguageModel   (forward(ids, lengths) -> logits [B, L, V])
    load(card, ...) -> LoadedModel  (model + tokenizer + provenance)
"""

from titan_eval.loading import LoadedModel, load, load_model

__version__ = "0.1.0"
__all__ = ["LoadedModel", "__version__", "load", "load_model"]
