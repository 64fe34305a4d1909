# Two commands on a fresh machine:  `make demo` (main job on the embedded default model) and `make test`.
# Each creates .venv and installs what it needs; torch 2.13.0 goes in first (CPU build unless CUDA is present:
# pass TORCH_INDEX=https://download.pytorch.org/whl/cpu to force the CPU wheel from PyTorch's index).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
SHARED ?= $(abspath ../shared)

.PHONY: install demo test gate baseline clean

$(BIN)/titan-eval: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[test,view]"
	$(BIN)/python -m titan_eval.lm_eval_hook --install
	touch $@

install: $(BIN)/titan-eval

demo: install
	$(BIN)/titan-eval run titan_sample --model titan-tiny --output results/demo-$$(date +%Y%m%d-%H%M%S)

test: install
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

# CI gate: the embedded default on a fixed subset vs the committed baseline; non-inferiority at a 0.03 margin
# (`titan-eval plan`: with 200 docs and 2 metrics no margin below 0.019 can pass; 0.03 tolerates a flipped doc or two).
GATE_ARGS = arc_easy --model titan-tiny --data-dir $(SHARED)/data --limit 200 --seed 0 --batch-size 8
gate: install
	rm -rf results/ci-candidate
	$(BIN)/titan-eval run $(GATE_ARGS) --output results/ci-candidate
	$(BIN)/titan-eval gate results/baselines/titan-tiny-arc_easy results/ci-candidate --metric acc,acc_norm --max-drop 0.03 --rule non-inferiority

baseline: install
	rm -rf results/baselines/titan-tiny-arc_easy
	$(BIN)/titan-eval run $(GATE_ARGS) --output results/baselines/titan-tiny-arc_easy

clean:
	rm -rf $(VENV) results/demo-* results/ci-candidate
