"""Training-run sweeps (`titan-eval sweep`): every checkpoint of a run evaluated on the same documents and seeds,
one trend table and plot with error bands, incremental and resumable (README "Sweeping a training run";
docs/results-format.md "sweep.json").

Modules: `discovery` (which checkpoints, which step), `weights` (one model, weights copied in per step),
`sweep_run` (the loop over `runner.run`), `sweep_record` (sweep.json), `trend` (values, paired changes, Holm),
`table` / `plot` (rendering), `gate_newest` (the gate on the newest step).
"""
