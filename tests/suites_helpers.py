"""A bigram language model for the suite tests: the logits at position t are row ids[t] of a [V, V] table, so
every probability is known by hand and weights can be edited to favour chosen continuations."""

from __future__ import annotations

import torch
from torch import Tensor

from titan_eval.cards import load_card
from titan_eval.loading import LoadedModel
from titan_eval.models.base import Capabilities, LanguageModel
from titan_eval.tokenizers import ByteTokenizer

TOK = ByteTokenizer(["<|endoftext|>", "<think>", "</think>"], "<|endoftext|>")
V = TOK.size  # 259


class BigramLM(LanguageModel):
    """logits[b, t] = table[ids[b, t]] (shape [B, L, V]); causal and padding-exact by construction."""

    arch = "test-bigram"

    def __init__(self, vocab: int = V, seed: int = 0) -> None:
        super().__init__()
        self.vocab_size = vocab
        self.capabilities = Capabilities(recurrent_state=False)
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed)))

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.table[ids]

    def logprob(self, prev: int, nxt: int) -> float:
        """log P(nxt | prev), by hand."""
        return float(torch.log_softmax(self.table[prev].detach().double(), -1)[nxt])

    def boost(self, text_ids: list[int], amount: float) -> None:
        """Add `amount` to the logit of each bigram along `text_ids`."""
        with torch.no_grad():
            for a, b in zip(text_ids, text_ids[1:]):
                self.table[a, b] += amount


def loaded(model: LanguageModel, card: str = "mamba-tiny") -> LoadedModel:
    """A LoadedModel around `model` with a card's prompt format and the byte tokenizer."""
    return LoadedModel(model=model.eval(), tokenizer=TOK, card=load_card(card), checkpoint_sha256=None,
                       device=torch.device("cpu"), dtype=torch.float32)
