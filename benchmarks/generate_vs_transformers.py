"""Target 2: think-style greedy generation, 32 prompts × 128 new tokens, on one random transformers Mamba-1.

    PYTHONPATH=. python benchmarks/generate_vs_transformers.py [--prompts 32] [--new-tokens 128] [--repeats 3]
        [--device cuda --dtype bfloat16]

Sides, interleaved in one process on the same weights (a seeded random `MambaForCausalLM`, d_model 256, 4 layers,
GPT-NeoX vocabulary) and the same prompts ("User: <ARC-Easy question>\\nAssistant: <think>\\n"):
  titan-eval     `titan_eval.engine.generate`, all prompts in one batch (prefill once, then O(1) recurrent steps)
  hf-b1          transformers `generate()` with its cache, one prompt at a time (exact: no padding)
  hf-batched     transformers `generate()` with its cache, all prompts in one left-padded batch (transformers'
                 Mamba lets left pads drive the conv/SSM state, so its tokens may differ; agreement reported)
  recompute      the original scripts' loop: re-run the whole prefix through titan-eval's model each token, full
                 logits at every position (`--recompute-prompts` prompts only: O(n²); compared in tokens/s)
All greedy; the end-of-text id is banned so every prompt generates exactly --new-tokens tokens on every side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, add_device_args, add_model_args, fmt_times, interleave, mamba_dir_for, machine, median, parse_device_args, table, titan_eval_card  # noqa: E402


def prompts_text(n: int) -> list[str]:
    import json

    lines = (DATA / "arc" / "ARC-Easy-Test.jsonl").read_text().splitlines()[:n]
    return [f"User: {json.loads(line)['question']['stem']}\nAssistant: <think>\n" for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--recompute-prompts", type=int, default=4)
    add_model_args(parser)
    args = parse_device_args(parser)
    dtype = args.dtype

    import torch
    import transformers

    from titan_eval.engine import GenerationConfig, generate
    from titan_eval.loading import load

    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = mamba_dir_for(args, tmp)
        hf = transformers.MambaForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(args.device).eval()
        hf_tok = transformers.AutoTokenizer.from_pretrained(model_dir)
        ours = load(titan_eval_card(), checkpoint=model_dir, device=args.device, dtype=dtype)
    texts = prompts_text(args.prompts)
    prompts = [ours.tokenizer.encode(t) for t in texts]
    assert prompts == [hf_tok(t)["input_ids"] for t in texts]
    n_new = args.new_tokens
    config = GenerationConfig(max_new_tokens=n_new, stop_ids=(0,), min_new_tokens=n_new)  # id 0 banned throughout
    hf_kwargs = dict(max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False, use_cache=True, eos_token_id=0,
                     pad_token_id=1)
    out: dict[str, list[list[int]]] = {}

    def titan_eval_side() -> None:
        out["titan-eval"] = [list(g.ids) for g in generate(ours.model, ours.tokenizer, prompts, config,
                                                            batch_size=len(prompts))]

    def hf_b1() -> None:
        res = []
        for p in prompts:
            ids = torch.tensor([p], device=args.device)
            res.append(hf.generate(ids, attention_mask=torch.ones_like(ids), **hf_kwargs)[0, len(p):].tolist())
        out["hf-b1"] = res

    def hf_batched() -> None:
        hf_tok.padding_side = "left"
        enc = hf_tok(texts, return_tensors="pt", padding=True).to(args.device)
        gen = hf.generate(**enc, **hf_kwargs)
        out["hf-batched"] = gen[:, enc["input_ids"].shape[1]:].tolist()

    sub = prompts[: args.recompute_prompts]

    def recompute() -> None:
        from titan_eval.engine.batching import pad_right

        rows = [list(p) for p in sub]
        for _ in range(n_new):
            ids, lengths = pad_right(rows, torch.device(args.device))
            logits = ours.model(ids, lengths)  # full logits at every position, as the original scripts
            logp = logits.float().log_softmax(-1)[torch.arange(len(rows)), lengths - 1]
            logp[:, 0] = float("-inf")
            for r, t in zip(rows, logp.argmax(-1).tolist()):
                r.append(t)
        out["recompute"] = [r[len(p):] for r, p in zip(rows, sub)]

    titan_eval_side()  # warm-up (first-call allocations), not timed
    times = interleave({"titan-eval": titan_eval_side, "hf-b1": hf_b1, "hf-batched": hf_batched,
                        "recompute": recompute}, args.repeats)
    tokens = {"titan-eval": len(prompts) * n_new, "hf-b1": len(prompts) * n_new, "hf-batched": len(prompts) * n_new,
              "recompute": len(sub) * n_new}
    tps = {k: tokens[k] / median(v) for k, v in times.items()}
    same_b1 = sum(a == b for a, b in zip(out["titan-eval"], out["hf-b1"]))
    same_batched = sum(a == b for a, b in zip(out["titan-eval"], out["hf-batched"]))
    same_recompute = sum(a == b for a, b in zip(out["titan-eval"], out["recompute"]))
    print(f"machine: {machine()}; device {args.device}, dtype {dtype}")
    print(f"model: random MambaForCausalLM d_model {args.d_model}, {args.n_layer} layers, vocab 50280; "
          f"{len(prompts)} prompts × {n_new} new tokens, greedy; titan-eval backend {ours.model.backend}")
    rows = [[k, tokens[k], fmt_times(v), f"{median(v):.2f}", f"{tps[k]:.0f}", f"{tps['titan-eval'] / tps[k]:.2f}x"]
            for k, v in times.items()]
    print(table(["side", "tokens", "wall s (repeats)", "median s", "tokens/s", "titan-eval speed-up"], rows))
    print(f"\nidentical token sequences with titan-eval: hf-b1 {same_b1}/{len(prompts)}, hf-batched "
          f"{same_batched}/{len(prompts)}, recompute {same_recompute}/{len(sub)}")


if __name__ == "__main__":
    main()
