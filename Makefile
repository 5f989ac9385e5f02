# One virtualenv in .venv, built from the pinned requirements files. The dashboard's
# set-up installs what the dashboard needs; tests and benchmarks add their own tools and
# the benchmark peers (Optuna, scikit-optimize, PyTorch).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP := $(VENV)/.installed-app
DEV := $(VENV)/.installed-dev

.PHONY: install run tune bench bench-system curves test lint format clean

$(APP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(APP)

$(DEV): $(APP) requirements-dev.txt requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt -r requirements-bench.txt -c constraints.txt
	touch $(DEV)

install: $(DEV)

# The dashboard on http://localhost:8501, offline default dataset (mnist-5k).
run: $(APP)
	$(BIN)/streamlit run app.py

# The seed experiment, headless: 10 + 2 trials, 5 epochs, batch 64, then one test evaluation.
tune: $(APP)
	$(BIN)/python -m core tune --preset seed --dataset mnist-5k --export runs/best.json

# The benchmark protocol behind docs/BENCHMARKS.md, section 3 (what each part costs: the
# run.json beside its results). One BLAS thread per optimizer run: two processes with the
# default threads on 2 cores spent half their time in the kernel. The seed's bayes_opt takes
# float bounds only, so the typed functions run every other declared method.
TYPED_PEERS = --methods "bayes (this project)" random "optuna TPE" "optuna GP" \
	"skopt gp_minimize" botorch
bench: $(DEV)
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces "cnn mnist-5k" \
		"cnn fashion-mnist" --seeds 80 --budget 25 --tables 12 25 --out docs/benchmarks/protocol/cnn
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces "cnn mnist-5k" \
		"cnn fashion-mnist" --seeds 80 --maps --out docs/benchmarks/protocol/maps
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces branin --seeds 40 --budget 25 \
		--tables 12 25 --out docs/benchmarks/protocol/branin
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces hartmann-6 --seeds 20 \
		--budget 50 --tables 25 50 --out docs/benchmarks/protocol/hartmann-6
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces "bumps-2d #10000" \
		"bumps-2d #10001" "bumps-4d #10000" "bumps-4d #10001" "bumps-6d #10000" \
		"bumps-6d #10001" --seeds 10 --budget 25 --tables 25 \
		--out docs/benchmarks/protocol/held-out-functions
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces "mixed-5d #10000" \
		"mixed-5d #10001" $(TYPED_PEERS) --seeds 10 --budget 25 --tables 25 \
		--out docs/benchmarks/protocol/mixed
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces "cnn-8d #10000" \
		"cnn-8d #10001" "cnn-9d #10000" "cnn-9d #10001" $(TYPED_PEERS) --seeds 10 \
		--budget 50 --tables 25 50 --out docs/benchmarks/protocol/held-out-8-9d
	OMP_NUM_THREADS=1 $(BIN)/python bench/protocol.py --surfaces "cnn mnist-5k" \
		"cnn fashion-mnist" --methods "bayes (this project)" random --seeds 80 --budget 25 \
		--tables 12 25 --jobs 1 --out docs/benchmarks/protocol/cnn-ours
	$(BIN)/python bench/summary.py --out docs/benchmarks/protocol/summary
	OMP_NUM_THREADS=1 $(BIN)/python bench/suggestion_time.py --out docs/benchmarks/suggestion-time
	$(BIN)/python bench/surfaces.py --out docs/benchmarks/surfaces
	OMP_NUM_THREADS=1 $(BIN)/python bench/default_study.py --seeds 40 --jobs 2 \
		--out docs/benchmarks/default-study

# The system benchmarks (docs/BENCHMARKS.md, sections 1, 4, 5, 6, 7 and 8: about 3 hours 40 minutes
# on 2 cores) and the optimizer diagnostics. The tabular CNN surfaces in bench/data and their
# further runs in bench/replicates are built separately (bench/make_tabular.py, about 25
# minutes each).
bench-system: $(DEV)
	$(BIN)/python bench/training.py --dataset mnist-5k --epochs 2 --repeats 6 --out docs/benchmarks/training
	$(BIN)/python bench/studies_page.py --trials 150 --out docs/benchmarks/studies-page
	OMP_NUM_THREADS=1 $(BIN)/python bench/pruning.py --seeds 20 --first-seed 0 --hint-budget 0 \
		--out docs/benchmarks/pruning-dev
	OMP_NUM_THREADS=1 $(BIN)/python bench/pruning.py --seeds 40 --out docs/benchmarks/pruning
	$(BIN)/python bench/pruning_e2e.py --pruner asha --seeds 3 --out docs/benchmarks/pruning-e2e
	$(BIN)/python bench/default_study.py --seeds 10 --real 10 --out docs/benchmarks/default-study-real
	OMP_NUM_THREADS=1 $(BIN)/python bench/parallel.py --surfaces --real "" \
		--out docs/benchmarks/parallel/scheduling
	OMP_NUM_THREADS=1 $(BIN)/python bench/parallel.py --workers --real "" --seeds 20 \
		--out docs/benchmarks/parallel/samples
	$(BIN)/python bench/parallel.py --workers --surfaces --out docs/benchmarks/parallel/real
	$(BIN)/python bench/soak.py --trials 200 --modes process ray --out docs/benchmarks/soak
	OMP_NUM_THREADS=1 $(BIN)/python bench/driver.py --trials 50 200 500 --dims 2 9 --pending 0 7 \
		--repeats 3 --out docs/benchmarks/driver
	$(BIN)/python bench/scheduling.py --workers 1 2 8 32 64 --studies 5 \
		--out docs/benchmarks/scheduling
	$(BIN)/python bench/soak.py --trials 60 --modes local --out docs/benchmarks/soak-in-process
	$(BIN)/python bench/watching.py --repeats 2 --out docs/benchmarks/watching
	OMP_NUM_THREADS=1 $(BIN)/python bench/optimizers.py --seeds 20 --out docs/benchmarks/diagnostics

# Learning curves of the real CNN for the pruning benchmark: a 10 x 10 grid over dropout2_rate
# x log lr, 6 epochs per cell, two training runs side by side on one TensorFlow thread each.
curves: $(DEV)
	$(BIN)/python bench/make_tabular.py --dataset mnist-5k --size 10 --epochs 6 --threads 1 \
		--out bench/curves/cnn-mnist-5k-run0.json & \
	$(BIN)/python bench/make_tabular.py --dataset mnist-5k --size 10 --epochs 6 --threads 1 \
		--run 1 --out bench/curves/cnn-mnist-5k-run1.json & \
	wait

test: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(DEV)
	$(BIN)/ruff check .

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
