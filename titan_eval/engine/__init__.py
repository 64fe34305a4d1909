"""The engine: scoring (context, continuation) token pairs and generating text, for any `LanguageModel`."""

from titan_eval.engine.generation import Generation, GenerationConfig, generate
from titan_eval.engine.scoring import ScoreRequest, ScoreResult, TokenCounter, score

__all__ = ["Generation", "GenerationConfig", "ScoreRequest", "ScoreResult", "TokenCounter", "generate", "score"]
