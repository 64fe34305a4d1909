"""Issue 30: K sampled generations per document share the document's prefill.

    PYTHONPATH=. python benchmarks/sampled_prefix.py [--docs 16] [--samples 8] [--new-tokens 32] [--shots 4]
        [--repeats 3] [--cards mamba-tiny,titan-tiny]

For each card, in one process on the same weights: gsm8k-style prompts (`--shots` worked examples from the GSM8K
train split, then a test question, as lm-eval's gsm8k builds them), each repeated K times as `titan-eval run --samples
K` hands them to the engine (lm-eval's `repeats`), sampled at T = 0.8 with one seed per (document, sample):
  shared        `titan_eval.engine.generate` as runs use it: a repeated prompt is prefilled once, its state copied
  independent   the same call with `share_prompts=False`: every one of the K copies prefilled on its own
Interleaved repeats, median wall time, and whether both sides generated identical tokens.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, add_device_args, fmt_times, interleave, machine, median, parse_device_args, table  # noqa: E402


def prompts_text(docs: int, shots: int) -> list[str]:
    """lm-eval gsm8k's default form: `Question: …\\nAnswer: …` examples separated by blank lines, then the question."""
    folder = DATA / "openai" / "gsm8k" / "main"
    train = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()[:shots]]
    test = [json.loads(x) for x in (folder / "test.jsonl").read_text().splitlines()[:docs]]
    examples = "".join(f"Question: {e['question']}\nAnswer: {e['answer']}\n\n" for e in train)
    return [f"{examples}Question: {d['question']}\nAnswer:" for d in test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--cards", default="mamba-tiny,titan-tiny")
    args = parse_device_args(parser)

    import torch

    from titan_eval.engine import GenerationConfig, generate
    from titan_eval.loading import load
    from titan_eval.seeding import derived_seed

    torch.set_grad_enabled(False)
    texts = prompts_text(args.docs, args.shots)
    rows = []
    for card in args.cards.split(","):
        loaded = load(card, device=args.device, dtype=args.dtype)
        prompts = [loaded.tokenizer.encode(t) for t in texts for _ in range(args.samples)]
        seeds = [derived_seed(0, "gsm8k", d, "generate", k) for d in range(args.docs) for k in range(args.samples)]
        config = GenerationConfig(max_new_tokens=args.new_tokens, temperature=0.8,
                                  stop_ids=(), mask_vocab_from=loaded.card.generation.get("mask_vocab_from"))
        out: dict[str, list] = {}

        def side(share: bool):
            def run() -> None:
                out[str(share)] = [g.ids for g in generate(loaded.model, loaded.tokenizer, prompts, config, seeds,
                                                           batch_size=args.samples * 2, share_prompts=share)]
            return run

        times = interleave({"shared": side(True), "independent": side(False)}, args.repeats)
        same = out["True"] == out["False"]
        mean_len = sum(map(len, prompts)) / len(prompts)
        for name in ("independent", "shared"):
            rows.append([card, name, f"{mean_len:.0f}", fmt_times(times[name]), f"{median(times[name]):.2f}",
                         f"{median(times['independent']) / median(times[name]):.2f}x", "yes" if same else "NO"])
    print(machine())
    print(f"{args.docs} documents x {args.samples} samples, {args.new_tokens} new tokens each, {args.shots}-shot prompts")
    print(table(["card", "side", "prompt tokens", "wall s (repeats)", "median s", "speed-up", "identical tokens"],
                rows))


if __name__ == "__main__":
    main()
