"""Prefix-state reuse vs full rows, same process, same requests: forward tokens, wall time, and agreement.

    .venv/bin/python benchmarks/prefix_reuse.py [--card mamba-tiny] [--docs 100] [--data-dir ../shared/data]

Prints one line per card: tokens and seconds for both paths and the ratios (full / reuse).
"""

from __future__ import annotations

import argparse
import time

import torch

from titan_eval.engine import ScoreRequest, TokenCounter, score
from titan_eval.loading import load
from titan_eval.tasks.catalog import load_lm_eval_tasks


def requests_for(tok, task, docs: int) -> list[ScoreRequest]:
    """lm-eval's arc_easy (context, " choice") pairs, tokenised the causal way (whole, then split)."""
    out = []
    for doc in list(task.eval_docs)[:docs]:
        ctx = task.doc_to_text(doc)
        ctx_ids = tok.encode(ctx)
        for choice in task.doc_to_choice(doc):
            whole = tok.encode(ctx + " " + choice)
            out.append(ScoreRequest(tuple(ctx_ids), tuple(whole[len(ctx_ids):])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--card", action="append", default=None)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    task = load_lm_eval_tasks(["arc_easy"], args.data_dir)["arc_easy"]
    torch.set_num_threads(torch.get_num_threads())
    for card in args.card or ["mamba-tiny", "helix-tiny", "h64lm-tiny"]:
        loaded = load(card, device="cpu")
        reqs = requests_for(loaded.tokenizer, task, args.docs)
        score(loaded.model, reqs[:8], args.batch_size)  # warm-up
        timings = {}
        for reuse in (True, False):
            counter = TokenCounter()
            t0 = time.perf_counter()
            res = score(loaded.model, reqs, args.batch_size, reuse_prefix=reuse, counter=counter)
            timings[reuse] = (counter.tokens, time.perf_counter() - t0, res)
        (tok_r, sec_r, res_r), (tok_f, sec_f, res_f) = timings[True], timings[False]
        worst = max(abs(a.logprob - b.logprob) for a, b in zip(res_r, res_f))
        print(f"{card:12s} requests={len(reqs)} reuse: {tok_r} tok {sec_r:.2f}s | full rows: {tok_f} tok {sec_f:.2f}s | "
              f"token ratio {tok_f / tok_r:.2f}x time ratio {sec_f / sec_r:.2f}x | max |Δ logprob| {worst:.1e}")


if __name__ == "__main__":
    main()
