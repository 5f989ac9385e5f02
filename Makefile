# One virtualenv in .venv, built from the pinned requirements files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run tune test lint format clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The dashboard on http://localhost:8501, offline default dataset (mnist-5k).
run: $(STAMP)
	$(BIN)/streamlit run app.py

# The seed experiment, headless: 10 + 2 trials, 5 epochs, batch 64, then one test evaluation.
tune: $(STAMP)
	$(BIN)/python -m core tune --dataset mnist-5k --final-test --export runs/best.json

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
