"""Target 3: Titan (exact) scoring and think decoding, titan-eval vs the original method.

    PYTHONPATH=. python benchmarks/titan_scoring.py [--docs 30] [--repeats 3] [--device cuda --dtype bfloat16]

A seeded random Mamba-Titan (vocab 50304, d_model 256, 12 layers, 8 arms: ConceptPerceptron injections after layers
5 and 11) scores ARC-Easy (first --docs test documents, lm-eval's prompts and " choice" continuations, GPT-NeoX
tokenizer), interleaved:
  original        one request per forward, unpadded (the author's scripts): full logits, fp32 log-softmax, gather;
                  the row is lm-eval's (context + continuation)[:-1] on all sides (the author's scripts also feed
                  the last continuation token, which the non-causal CP then sees: a definition difference, not speed)
  titan-eval run  the path `titan-eval run` takes: `engine.score` inside the run's routing recorder
                  (`tasks.lm_eval_run.routing_recorder`, which every CLI run of a routing model attaches):
                  length-sorted right-padded batches with each row's real length (the CP pools over it, so a padded
                  row equals its batch-1 run), head + log-softmax only at scored positions; a context shared by a
                  document's choices runs once through the primer and the layers before the first CP injection (the
                  exact prefix cache), each choice extends that cached state
  engine          the same `engine.score` with no recorder (the figure earlier sessions reported)
  whole-forward recorder   `engine.score` inside `telemetry.routing.RouteRecorder`, what CLI runs attached before
                  the streaming recorder: it turns the prefix cache off (for comparison)
and, once per repeat, `titan-eval run arc_easy --model <this card as YAML> --limit --docs` as a whole child process
(its wall time, and the scoring time its run.json records, `timings.lm_eval_ll_s`; its log-likelihoods are compared
with the original's). Then think decoding (greedy, --gen-prompts prompts × --gen-tokens tokens):
  recompute       full prefix recompute every token (`generate(..., use_state=False)`)
  titan-eval run  `generate(...)` inside the run's routing recorder, as the CLI's cot mode does: primer and layers
                  0..5 (every block before the first CP injection) advance from their Mamba states; the CP and the
                  rest are recomputed over the prefix, as the faithful forward does
  cached          the same without a recorder
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, TOKENIZER, add_device_args, run_child, arc_requests, fmt_times, interleave, machine, median, parse_device_args, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--docs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--gen-prompts", type=int, default=8)
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--n-layers", type=int, default=12)
    parser.add_argument("--d-model", type=int, default=256, help="2048 with --n-layers 48: SFT20's real shape")
    parser.add_argument("--profile", action="store_true", help="torch.profiler tables of one request per forward "
                        "and of titan-eval's batched scoring (first 40 requests), then exit")
    args = parse_device_args(parser)
    dtype = args.dtype

    import torch

    from titan_eval.engine import GenerationConfig, generate, score
    from titan_eval.loading import load
    from titan_eval.tasks.lm_eval_run import routing_recorder
    from titan_eval.telemetry.routing import RouteRecorder

    torch.set_grad_enabled(False)
    card = {"arch": "titan", "config": {"vocab_size": 50304, "d_model": args.d_model, "n_layers": args.n_layers, "mimo_paths": 8},
            "tokenizer": {"kind": "hf", "path": str(TOKENIZER), "eos": "<|endoftext|>"}}
    loaded = load(card, device=args.device, dtype=dtype)
    model, tok = loaded.model, loaded.tokenizer
    reqs = arc_requests(tok, args.docs)
    out: dict[str, list] = {}

    def original() -> None:
        res = []
        for r in reqs:
            ids = torch.tensor([(r.context + r.continuation)[:-1]], device=args.device)  # the row lm-eval scores
            logp = model(ids)[0].float().log_softmax(-1)
            pos = torch.arange(len(r.context) - 1, len(r.context) + len(r.continuation) - 1, device=args.device)
            tgt = torch.tensor(r.continuation, device=args.device)
            res.append((float(logp[pos, tgt].double().sum()), bool((logp[pos].argmax(-1) == tgt).all())))
        out["original"] = res

    def engine() -> None:
        out["engine"] = [(s.logprob, s.is_greedy) for s in score(model, reqs, args.batch_size)]

    def ours() -> None:
        with routing_recorder(loaded) as recorder:
            out["titan-eval run"] = [(s.logprob, s.is_greedy) for s in score(model, reqs, args.batch_size)]
        assert recorder is not None and recorder.layers, "the run's routing recorder recorded nothing"

    def whole_forward_recorder() -> None:
        with RouteRecorder(model):
            out["whole-forward recorder"] = [(s.logprob, s.is_greedy) for s in score(model, reqs, args.batch_size)]

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        reqs[:] = reqs[:40]
        for name, fn in (("original", original), ("titan-eval run", ours)):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                fn()
            print(f"\n{name}, {len(reqs)} requests:\n" + prof.key_averages().table(sort_by="self_cpu_time_total",
                                                                                    row_limit=10))
        return
    ours()
    times = interleave({"original": original, "titan-eval run": ours, "engine": engine,
                        "whole-forward recorder": whole_forward_recorder}, args.repeats)
    pred = lambda res: [max(range(i, i + 4), key=lambda k: res[k][0]) for i in range(0, len(res) - 3, 4)]  # noqa: E731
    print(f"machine: {machine()}; device {args.device}, dtype {dtype}, batch size {args.batch_size}")
    print(f"model: random Titan vocab 50304, d_model {args.d_model}, {args.n_layers} layers, 8 arms; ARC-Easy {args.docs} docs, "
          f"{len(reqs)} requests")
    print(table(["side", "wall s (repeats)", "median s", "speed-up"],
                [[k, fmt_times(v), f"{median(v):.2f}", f"{median(times['original']) / median(v):.2f}x"]
                 for k, v in times.items()]))
    cli_wall, cli_scoring, cli_lines = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        card_path = Path(tmp) / "titan-bench.yaml"
        card_path.write_text(json.dumps({**card, "name": "titan-bench"}))  # JSON is YAML
        for repeat in range(args.repeats):
            run_dir = Path(tmp) / f"run-{repeat}"
            cli_wall.append(run_child(["-m", "titan_eval", "run", "arc_easy", "--model", str(card_path), "--data-dir",
                                       str(DATA), "--limit", str(args.docs), "--batch-size", str(args.batch_size),
                                       "--device", args.device, "--dtype", dtype, "--output", str(run_dir)]))
            run = json.loads((run_dir / "run.json").read_text())
            cli_scoring.append(run["titan_eval"]["timings"]["lm_eval_ll_s"])
            assert run["titan_eval"]["tasks"]["arc_easy"]["routing"]["layers"], "no routing summary in run.json"
            cli_lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    cli_lls = [lp for ln in cli_lines for lp in ln["logprobs"]]
    print(f"\n`titan-eval run arc_easy --limit {args.docs}` whole process: wall {fmt_times(cli_wall)} s (median "
          f"{median(cli_wall):.2f}); scoring inside it (run.json timings.lm_eval_ll_s) {fmt_times(cli_scoring)} s "
          f"(median {median(cli_scoring):.2f}); routing summary written; max |Δ log-likelihood| vs original "
          f"{max(abs(a - b[0]) for a, b in zip(cli_lls, out['original'], strict=True)):.1e}")
    for side in ("titan-eval run", "engine", "whole-forward recorder"):
        worst = max(abs(a[0] - b[0]) for a, b in zip(out["original"], out[side]))
        greedy_diff = sum(a[1] != b[1] for a, b in zip(out["original"], out[side]))
        argmax_diff = sum(a != b for a, b in zip(pred(out["original"]), pred(out[side])))
        print(f"original vs {side}: max |Δ log-likelihood| {worst:.1e}, greedy-flag differences {greedy_diff}, "
              f"argmax-choice differences (4-choice docs) {argmax_diff}")

    prompts = [tok.encode(f"User: question {i}?\nAssistant: <think>\n") for i in range(args.gen_prompts)]
    cfg = GenerationConfig(max_new_tokens=args.gen_tokens, stop_ids=(0,), min_new_tokens=args.gen_tokens)
    gens: dict[str, list] = {}
    def cli_cached() -> None:
        with routing_recorder(loaded):
            gens["titan-eval run"] = generate(model, tok, prompts, cfg, batch_size=len(prompts))

    sides = {"recompute": lambda: gens.__setitem__("recompute", generate(model, tok, prompts, cfg, use_state=False,
                                                                         batch_size=len(prompts))),
             "titan-eval run": cli_cached,
             "cached": lambda: gens.__setitem__("cached", generate(model, tok, prompts, cfg, batch_size=len(prompts)))}
    times = interleave(sides, args.repeats)
    same = sum(a.ids == b.ids == c.ids for a, b, c in zip(gens["recompute"], gens["cached"], gens["titan-eval run"]))
    dlp = max(abs(x - y) for a, b in zip(gens["recompute"], gens["titan-eval run"])
              for x, y in zip(a.token_logprobs, b.token_logprobs))
    n_blocks = 1 + args.n_layers + 8
    print(f"\nthink decoding, {len(prompts)} prompts × {args.gen_tokens} tokens; cached blocks: primer + layers "
          f"0..{model.reusable_prefix - 1} = {1 + model.reusable_prefix} of {n_blocks} Mamba blocks")
    print(table(["side", "wall s (repeats)", "median s", "speed-up"],
                [[k, fmt_times(v), f"{median(v):.2f}", f"{median(times['recompute']) / median(v):.2f}x"]
                 for k, v in times.items()]))
    print(f"\nidentical token sequences (all three sides) {same}/{len(prompts)}, max |Δ token log-prob| recompute vs "
          f"titan-eval run {dlp:.1e}")


if __name__ == "__main__":
    main()
