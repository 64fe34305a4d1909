"""Small models for tests: a seeded random transformers Mamba folder (what lm-eval's HFLM loads) and a titan-tiny
card whose checkpoint makes one byte's embedding NaN."""

from __future__ import annotations

from pathlib import Path


def tiny_hf_mamba(out: Path, shared: Path, seed: int) -> Path:
    """A random transformers Mamba (hidden 32, 2 layers, GPT-NeoX vocabulary and tokenizer) saved to `out`."""
    import torch
    import transformers

    cfg = transformers.MambaConfig(vocab_size=50280, hidden_size=32, state_size=8, num_hidden_layers=2,
                                   expand=2, conv_kernel=4, eos_token_id=0, bos_token_id=0, pad_token_id=1)
    torch.manual_seed(seed)
    transformers.MambaForCausalLM(cfg).eval().save_pretrained(out)
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(shared / "tokenizers" / "gpt-neox-20b" / "tokenizer.json"),
        eos_token="<|endoftext|>", bos_token="<|endoftext|>", unk_token="<|endoftext|>", pad_token="<|padding|>")
    tok.save_pretrained(out)
    return out


def nan_card(tmp_path: Path, byte: str) -> Path:
    """titan-tiny (untied head) with the embedding row of one byte set to NaN: only rows containing it go NaN."""
    import torch
    import yaml

    from titan_eval.loading import load
    from titan_eval.paths import CARDS_DIR

    state = load("titan-tiny", device="cpu").model.state_dict()
    state["embedding.weight"][ord(byte)] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    card = yaml.safe_load((CARDS_DIR / "titan-tiny.yaml").read_text())
    card.update(name="titan-nan", checkpoint=str(tmp_path / "nan.pt"))
    path = tmp_path / "titan-nan.yaml"
    path.write_text(yaml.safe_dump(card))
    return path
