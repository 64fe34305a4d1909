#!/usr/bin/env bash
# Issue 32: the CUDA path checked in one go, on one GPU in under 8 minutes:
#   1. environment: torch, CUDA, the device, whether mamba-ssm's kernels import (`titan-eval env`)
#   2. parity: every reference vector on the device, PyTorch path and (where mamba-ssm imports) the kernel path in
#      fp32, and bf16, against the stated tolerances (benchmarks/gpu_parity.py; exit 1 on any failure)
#   3. the full-size benchmark on the device: the four real shapes in fp32 and bf16 (benchmarks/full_size.py)
#   4. a summary: both tables again, one after the other
# Usage: bash benchmarks/gpu_check.sh [--device cuda|cuda:1|cpu] [--out DIR]
# With --device cpu it is a smoke test: the tiny shapes (full_size.py --small), one repeat.
set -euo pipefail
DEVICE=cuda
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --device DEV, --out DIR)" >&2; exit 2 ;;
  esac
done
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PY="${PYTHON:-python}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ "$DEVICE" = cpu ]; then SIZE=(--small --repeats 1 --docs 4 --prompts 2 --new-tokens 8); else
  SIZE=(--repeats 3 --docs 50 --prompts 8 --new-tokens 64); fi
echo "== 1/3 environment" | tee "$OUT/env.txt"
"$PY" -m titan_eval env 2>&1 | tee -a "$OUT/env.txt"
echo "== 2/3 parity on $DEVICE"
status=0
"$PY" "$HERE/gpu_parity.py" --device "$DEVICE" > "$OUT/parity.txt" 2>&1 || status=$?
cat "$OUT/parity.txt"
echo "== 3/3 full-size benchmark on $DEVICE"
"$PY" "$HERE/full_size.py" --device "$DEVICE" "${SIZE[@]}" --dir "$OUT/checkpoints" > "$OUT/full_size.txt" 2>&1 || status=$?
cat "$OUT/full_size.txt"
rm -rf "$OUT/checkpoints"
echo "== summary ($DEVICE; files in $OUT)"
grep -E "^parity on" "$OUT/parity.txt" || echo "parity: did not finish"
sed -n '/^tiny shapes\|^real shapes/,$p' "$OUT/full_size.txt"
exit "$status"
