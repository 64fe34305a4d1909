"""Writing telemetry: the numbers as JSON, the plots as PNG beside them, and a markdown report embedding both.

    write_report(out_dir, probe_result, stem="probe")     # probe.json, *.png, probe.md
    run_telemetry(loaded, options, run_dir)                # `titan-eval run --telemetry`: telemetry.json/.md/*.png

Run telemetry probes the run's model over the prompt span of a few prompts per category of the run's suite (the
`--suite` file when the run has one, else reasoning85 or its built-in fallback), and adds the think-length and
answer-margin histograms of the run's own samples.jsonl (margin = log p(gold) − max log p(other choice), summed
log-probabilities as stored in each multiple-choice line; think length = `think.length` of cot lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from titan_eval.jsonl import read_jsonl
from titan_eval.loading import LoadedModel
from titan_eval.store import atomic_write_json, atomic_write_text
from titan_eval.telemetry import anatomy, plots
from titan_eval.telemetry.probe import ProbeOptions, ProbeResult, resolve_suite, run_probe

RUN_PROMPTS_PER_CATEGORY = 3


def sample_series(samples_path: Path) -> dict[str, list[float]]:
    """{"think_lengths": [...], "margins": [...]} from a run's samples.jsonl (empty lists when absent)."""
    out: dict[str, list[float]] = {"think_lengths": [], "margins": []}
    if not samples_path.is_file():
        return out
    for _, row in read_jsonl(samples_path):
        think = row.get("think")
        if isinstance(think, dict) and isinstance(think.get("length"), int):
            out["think_lengths"].append(think["length"])
        logprobs, gold = row.get("logprobs"), row.get("gold")
        if isinstance(logprobs, list) and len(logprobs) > 1 and isinstance(gold, int) and 0 <= gold < len(logprobs):
            others = [v for i, v in enumerate(logprobs) if i != gold]
            out["margins"].append(float(logprobs[gold]) - max(float(v) for v in others))
    return out


def make_plots(out_dir: Path, result: ProbeResult, series: Mapping[str, list[float]] | None = None) -> dict[str, str]:
    """Every plot the data allow; {figure key: file name} (files in `out_dir`)."""
    numbers, files = result.numbers, {}
    name = numbers["model"]
    routing = numbers.get("routing", {})
    layers = sorted({layer for layers in routing.values() if isinstance(layers, dict) for layer in layers})
    for layer in layers if "skipped" not in routing else []:
        tag = layer.replace(".", "_")
        cats, table = anatomy.weight_table(routing, layer)
        files[f"routing_{tag}"] = plots.routing_heatmap(
            cats, table, out_dir / f"routing_{tag}.png", f"{name}: mean route weight, {layer}, span {numbers['signal']['span']}").name
        pairs = anatomy.pooled_pairs(routing, layer)
        if pairs:
            files[f"pairs_{tag}"] = plots.pair_bars(pairs, out_dir / f"pairs_{tag}.png", f"{name}: top-2 pairs, {layer}").name
    if result.arm_cosine is not None:
        files["arm_cosine"] = plots.cosine_matrix(result.arm_cosine, out_dir / "arm_cosine.png",
                                                  f"{name}: arm-output cosine (span means)").name
    files["signal_growth"] = plots.signal_growth(numbers["signal"]["growth"], out_dir / "signal_growth.png",
                                                 f"{name}: residual-stream norm, span {numbers['signal']['span']}").name
    if result.head_norms is not None:
        files["vault"] = plots.vault_plot(result.head_norms, numbers["vault"]["tokens"], out_dir / "vault.png",
                                          f"{name}: LM-head row norms").name
    lengths = list((series or {}).get("think_lengths", [])) or list(result.think_lengths)
    if lengths:
        files["think_lengths"] = plots.histogram(lengths, out_dir / "think_lengths.png", f"{name}: think length",
                                                 "think tokens").name
    margins = list((series or {}).get("margins", []))
    if margins:
        files["margins"] = plots.histogram(margins, out_dir / "margins.png", f"{name}: answer margin",
                                           "log p(gold) − max log p(other)").name
    return files


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def markdown(numbers: Mapping[str, Any], files: Mapping[str, str], json_name: str) -> str:
    """The report: headline tables, then every figure embedded by its file name."""
    lines = [f"# Telemetry: {numbers['model']} ({numbers['arch']})", "",
             f"Suite: {numbers['suite']}. Span: {numbers['span_definition']}. Numbers: `{json_name}`.", ""]
    routing = numbers.get("routing", {})
    if "skipped" not in routing:
        lines += ["## Routing anatomy", "", "| category | layer | positions | H(mean w) | mean H(w) | mean weight per arm |",
                  "|---|---|---|---|---|---|"]
        for cat, layers in routing.items():
            for layer, s in layers.items():
                weights = " ".join(f"{w:.2f}" for w in s["mean_weight"])
                lines.append(f"| {cat} | {layer} | {s['n_positions']} | {_fmt(s['entropy_of_mean'])} | "
                             f"{_fmt(s['mean_token_entropy'])} | {weights} |")
        lines.append("")
    collapse = numbers.get("arm_collapse", {})
    if "skipped" not in collapse:
        lines += ["## Arm collapse", "", f"{collapse['definition']}: mean off-diagonal {_fmt(collapse['mean_off_diagonal'])}, "
                  f"max {_fmt(collapse['max_off_diagonal'])}.", ""]
    kl = numbers.get("blackboard_kl", {})
    if "skipped" not in kl:
        lines += ["## Blackboard ablation", "", kl["definition"] + ".", "", "| category | mean KL | max KL | n |", "|---|---|---|---|"]
        lines += [f"| {c} | {_fmt(s['mean'])} | {_fmt(s['max'])} | {s['n']} |" for c, s in kl["per_category"].items()]
        lines.append("")
    lines += ["## Signal growth", "", "| after | mean norm | max norm |", "|---|---|---|"]
    lines += [f"| {g['point']} | {_fmt(g['mean'])} | {_fmt(g['max'])} |" for g in numbers["signal"]["growth"]]
    for inj, v in numbers["signal"]["injections"].items():
        lines.append(f"\n{inj}: mean norm {_fmt(v['norm_mean'])} next to the backbone's {_fmt(v['backbone_norm_mean'])} "
                     f"({v['backbone_point']}), ratio {_fmt(v['ratio'])}.")
    lines += ["", "## Termination vault", "", "| token | id | row norm | percentile (all rows) | rank |", "|---|---|---|---|---|"]
    for piece, t in numbers["vault"]["tokens"].items():
        lines.append(f"| `{piece}` | {t['id']} | {_fmt(t['norm'])} | {_fmt(t['percentile'])} | {t['rank']} |")
    lines += ["", "## Figures", ""]
    lines += [f"![{key}]({name})" for key, name in files.items()]
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, result: ProbeResult, stem: str = "probe",
                 series: Mapping[str, list[float]] | None = None) -> dict[str, Any]:
    """Write `<stem>.json`, the PNGs and `<stem>.md` into `out_dir`; returns the numbers with `figures` added."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = make_plots(out_dir, result, series)
    numbers = {**result.numbers, "figures": files, "report": f"{stem}.md"}
    atomic_write_json(out_dir / f"{stem}.json", numbers)
    atomic_write_text(out_dir / f"{stem}.md", markdown(numbers, files, f"{stem}.json"))
    return numbers


def run_telemetry(loaded: LoadedModel, options: Any, run_dir: Path) -> dict[str, Any]:
    """`run --telemetry`: probe the prompt span of the suite (module docstring), write telemetry.json/.md and
    the PNGs into the run folder; returns the numbers (for run.json)."""
    prompts, source = resolve_suite(options.native.get("suite"))
    opts = ProbeOptions(batch_size=options.batch_size, per_category=RUN_PROMPTS_PER_CATEGORY)
    result = run_probe(loaded, prompts, opts, source)
    return write_report(Path(run_dir), result, "telemetry", sample_series(Path(run_dir) / "samples.jsonl"))
