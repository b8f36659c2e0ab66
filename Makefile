# The two commands of the quick start: `make demo` and `make test`. Each bootstraps .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned and installed before anything that needs it: an unpinned torch pulled in by
# trl would resolve to a multi-GB CUDA build.
TORCH := torch==2.13.0

# text_similarity's METEOR reads WordNet 3.0 offline from Debian's wordnet-base package (nltk's
# downloader needs the internet). Installed when we are root with apt-get; otherwise say how.
WORDNET := /usr/share/wordnet/index.noun

.PHONY: demo test bench lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.full: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[rl,dev]'
	touch $@ $(VENV)/.base

# verl and OpenRLHF, driven through their own code by tests/rl_adapter/test_{verl,openrlhf}_real.py,
# live in their own environment: verl caps transformers below 5.11, which TRL's tests need newer.
# OpenRLHF goes in without its dependencies: its flash-attn and deepspeed pins do not build
# without CUDA, and its reward client imports none of them. Cached by the stamp; rebuilt when
# pyproject.toml changes.
TRAINERS_VENV := .venv-trainers
OPENRLHF := openrlhf==0.11.2
TRAINER_TESTS := tests/rl_adapter/test_verl_real.py tests/rl_adapter/test_openrlhf_real.py
# Ray and verl leave sockets and an event loop for the garbage collector at session end.
TRAINER_WARNINGS := -W ignore::ResourceWarning -W ignore::pytest.PytestUnraisableExceptionWarning

$(TRAINERS_VENV)/.stamp: pyproject.toml
	@echo "make: building $(TRAINERS_VENV) (verl, OpenRLHF) for the trainer contract tests (once, about 3-5 min)"
	$(PYTHON) -m venv $(TRAINERS_VENV)
	$(TRAINERS_VENV)/bin/pip install -q --upgrade pip
	$(TRAINERS_VENV)/bin/pip install -q $(TORCH)
	$(TRAINERS_VENV)/bin/pip install -q -e '.[dev,trainers]'
	$(TRAINERS_VENV)/bin/pip install -q --no-deps $(OPENRLHF)
	@# Both wheels ship a top-level `tests` package, which would shadow this repository's tests/.
	rm -rf $(TRAINERS_VENV)/lib/python*/site-packages/tests
	touch $@

demo: $(VENV)/.base
	$(BIN)/python examples/demo.py

lint: $(VENV)/.full
	$(BIN)/ruff check .

typecheck: $(VENV)/.full
	$(BIN)/mypy

$(WORDNET):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordnet-base >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordnet-base >/dev/null; }; \
	else \
		echo "METEOR tests need WordNet 3.0: sudo apt-get install wordnet-base (or set WNSEARCHDIR)"; \
	fi

test: lint typecheck $(WORDNET) $(TRAINERS_VENV)/.stamp
	$(BIN)/pytest
	@echo "make: the trainer contract tests, in $(TRAINERS_VENV)"
	$(TRAINERS_VENV)/bin/pytest $(TRAINER_WARNINGS) $(TRAINER_TESTS)

# Benchmarks compare against peers installed into the benchmark environment only, pinned to the
# version the committed results.json and docs/benchmarks.md name.
bench: $(VENV)/.full $(TRAINERS_VENV)/.stamp
	$(BIN)/pip install -q math-verify==0.9.0
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(TRAINERS_VENV) .mypy_cache .pytest_cache .ruff_cache
