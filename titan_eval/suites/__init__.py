"""The project's own suites, run natively on the engine (registered in `titan_eval.tasks.catalog.NATIVE_TASKS`):

- `reasoning` — reasoning85: think-then-answer generation, strict and author-compatible scoring (`scorers`).
- `margins` — fact_margins: contrastive per-token NLL margins with hardness levels, and the Helix margin-probe YAML
  (`probe_files`, `margin_math`).
- `bpb` — bits per byte of a text file from measured UTF-8 bytes.
- `contamination` — n-gram overlap of suite prompts with training text.
"""
