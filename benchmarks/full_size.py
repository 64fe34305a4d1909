"""Issue 32: the four real shapes, each in its real checkpoint format with seeded random weights, measured in child
processes: load (wall, peak-RSS growth over the weights' bytes in the run dtype), ARC-Easy log-likelihood scoring
(forward tokens/s) and think decoding (generated tokens/s), per dtype.

    PYTHONPATH=. python benchmarks/full_size.py [--cards mamba-1.4b,titan-1.4b-sft20,helix-v2-1b,h64lm-249m]
        [--dtypes float32,bfloat16] [--docs 20] [--prompts 8] [--new-tokens 64] [--repeats 3] [--dir DIR]
        [--device cpu|cuda] [--small]

Checkpoints (written once into --dir, default a temporary folder; reused when present):
  mamba-1.4b         a transformers `MambaForCausalLM` safetensors directory of the card's shape (d_model 2048 × 48,
                     GPT-NeoX vocabulary; the layout of state-spaces/mamba-1.4b-hf), loaded with the card's
                     architecture and the shared GPT-NeoX tokenizer
  titan-1.4b-sft20   `{"step", "model"}` .pt (the layout of phase_sft20_best.pt), the card's config (1.72B parameters)
  helix-v2-1b        `{"model", "metadata", "step"}` .pt (a training `step_N.pt`), the card's config
  h64lm-249m         `{"epoch", "step", "model_state_dict"}` .pt, the card's config
each from the architecture's own seeded init (`init_seed` 0) in fp32. Every measurement is its own child process
(interpreter start, imports, `titan_eval.loading.load` — the path `titan-eval run` takes —, then the work), repeats
interleaved, medians reported. "scoring": the first --docs ARC-Easy test documents as lm-eval's ARC requests through
`engine.score` (batch 8); tokens/s counts the tokens the model ran. "decoding": --prompts ARC questions in the card's
think format, --new-tokens greedy tokens each (end-of-text banned), one batch of 8 through `engine.generate`.
`--small` swaps in the tiny cards' shapes (a smoke test of this script and of `benchmarks/gpu_check.sh`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, ROOT, SHARED, TOKENIZER, hf_mamba_dir, machine, median, table  # noqa: E402

REAL = ("mamba-1.4b", "titan-1.4b-sft20", "helix-v2-1b", "h64lm-249m")
SMALL = {"titan-1.4b-sft20": "titan-tiny", "helix-v2-1b": "helix-tiny", "h64lm-249m": "h64lm-tiny"}
TOKENIZERS = {"titan-1.4b-sft20": str(TOKENIZER), "helix-v2-1b": str(SHARED / "tokenizers" / "helix-v2" /
                                                                      "helix_v2_tokenizer.model"),
              "h64lm-249m": str(SHARED / "tokenizers" / "mistral-7b" / "tokenizer.json")}

CHILD = r"""
import json, sys, time
args = json.loads(sys.argv[1])
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) * 1024
import torch
torch.set_grad_enabled(False)
from titan_eval.loading import load
from titan_eval.engine import GenerationConfig, TokenCounter, generate, score
sys.path.insert(0, args['bench'])
from _common import arc_requests, DATA
out = {}
before, start = hwm(), time.perf_counter()
loaded = load(args['card'], checkpoint=args['checkpoint'], tokenizer=args['tokenizer'], device=args['device'],
              dtype=args['dtype'])
def sync():
    if args['device'].startswith('cuda'):
        torch.cuda.synchronize()
sync()
out['load_s'] = time.perf_counter() - start
out['load_grew'] = hwm() - before
model, tok = loaded.model, loaded.tokenizer
out['weights'] = sum(p.numel() * p.element_size() for p in model.parameters())
out['backend'] = str(model.backend)
if args['docs']:
    reqs = arc_requests(tok, args['docs'])
    counter = TokenCounter()
    start = time.perf_counter()
    score(model, reqs, 8, True, counter)
    sync()
    out['score_s'] = time.perf_counter() - start
    out['score_tokens'] = counter.tokens
if args['prompts']:
    fmt = loaded.card.prompt
    lines = (DATA / 'arc' / 'ARC-Easy-Test.jsonl').read_text().splitlines()[:args['prompts']]
    texts = [fmt.template.format(question=json.loads(x)['question']['stem']) + (fmt.think_open or '') for x in lines]
    prompts = [tok.encode(t) for t in texts]
    banned = tuple(i for i in (tok.eos_id,) if i is not None)
    config = GenerationConfig(max_new_tokens=args['new_tokens'], banned_ids=banned)
    start = time.perf_counter()
    gens = generate(model, tok, prompts, config, batch_size=8)
    sync()
    out['decode_s'] = time.perf_counter() - start
    out['decode_tokens'] = sum(len(g.ids) for g in gens)
out['peak_grew'] = hwm() - before
print(json.dumps(out))
"""


def write_checkpoint(name: str, folder: Path, small: bool) -> tuple[object, str, str | None]:
    """(card for `load`, checkpoint path, tokenizer override) of `name`, writing the checkpoint once."""
    if name == "mamba-1.4b":
        d, n = (64, 2) if small else (2048, 48)
        path = hf_mamba_dir(folder / f"mamba-{d}x{n}", d_model=d, n_layer=n)
        return {"arch": "mamba", "tokenizer": {"kind": "hf", "path": str(TOKENIZER), "eos": "<|endoftext|>"},
                "prompt": {"template": "User: {question}\nAssistant:", "think_open": " <think>\n"}}, str(path), None
    import torch

    from titan_eval.cards import load_card
    from titan_eval.loading import _construct
    from titan_eval.models.registry import get_architecture

    card_name = SMALL[name] if small else name
    card = load_card(card_name)
    path = folder / f"{card_name}.pt"
    if not path.exists():
        model = _construct(get_architecture(card.arch), {**card.config, "init_seed": 0}, card).eval()
        sd = model.state_dict()
        wrapped = {"titan-1.4b-sft20": lambda: {"step": 0, "model": sd},
                   "helix-v2-1b": lambda: {"model": sd, "metadata": {"dtype": "fp32"}, "step": 0},
                   "h64lm-249m": lambda: {"epoch": 0, "step": 0, "model_state_dict": sd}}[name]()
        tmp = path.with_suffix(".tmp")
        torch.save(wrapped, tmp)
        tmp.replace(path)
        del model, sd, wrapped
    return card_name, str(path), None if small else TOKENIZERS[name]


def measure(card: object, checkpoint: str, tokenizer: str | None, dtype: str, a: argparse.Namespace) -> dict:
    """One child process's figures (CHILD)."""
    spec = {"card": card, "checkpoint": checkpoint, "tokenizer": tokenizer, "dtype": dtype, "device": a.device,
            "docs": a.docs, "prompts": a.prompts, "new_tokens": a.new_tokens, "bench": str(Path(__file__).parent)}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TITAN_EVAL_SHARED": str(SHARED)}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{card} {dtype} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rate(runs: list[dict], tokens: str, seconds: str) -> str:
    if tokens not in runs[0]:
        return "—"
    return f"{median([r[tokens] / r[seconds] for r in runs]):,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", default=",".join(REAL))
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="Checkpoint folder (kept; default: a temp dir).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--small", action="store_true", help="The tiny cards' shapes: a smoke test.")
    a = parser.parse_args()
    cards = [c.strip() for c in a.cards.split(",") if c.strip()]
    unknown = [c for c in cards if c not in REAL]
    if unknown:
        raise SystemExit(f"unknown card(s) {unknown}; choose from {', '.join(REAL)}")
    dtypes = [d.strip() for d in a.dtypes.split(",") if d.strip()]
    print(machine(), flush=True)
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in cards:
            card, checkpoint, tokenizer = write_checkpoint(name, folder, a.small)
            size = sum(p.stat().st_size for p in Path(checkpoint).rglob("*") if p.is_file()) \
                if Path(checkpoint).is_dir() else Path(checkpoint).stat().st_size
            runs: dict[str, list[dict]] = {d: [] for d in dtypes}
            for _ in range(a.repeats):
                for dtype in dtypes:
                    runs[dtype].append(measure(card, checkpoint, tokenizer, dtype, a))
            for dtype, rs in runs.items():
                weights = rs[0]["weights"]
                rows.append([name, dtype, f"{size / 1e9:.2f}", f"{weights / 1e9:.2f}",
                             f"{median([r['load_s'] for r in rs]):.1f}",
                             f"{median([r['load_grew'] for r in rs]) / weights:.2f}x",
                             f"{median([r['peak_grew'] for r in rs]) / 1e9:.2f}",
                             _rate(rs, "score_tokens", "score_s"), _rate(rs, "decode_tokens", "decode_s"),
                             rs[0].get("backend") or "—"])
                print(" | ".join(rows[-1]), flush=True)
    print(f"\n{'tiny shapes (--small)' if a.small else 'real shapes'}, device {a.device}, medians of {a.repeats}; "
          f"scoring: {a.docs} ARC-Easy docs; decoding: {a.prompts} prompts x {a.new_tokens} tokens")
    print(table(["card", "dtype", "checkpoint GB", "weights GB (run dtype)", "load s", "load peak RSS / weights",
                 "peak RSS growth GB (whole child)", "scoring tok/s", "decoding tok/s", "backend"], rows))
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
