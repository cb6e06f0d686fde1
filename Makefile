# One-command set-up: `make demo` and `make test` create .venv, install agqc
# (editable) with a CPU build of torch, and install Graphviz's dot if missing (`make test`: chromium too).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
STAMP := $(VENV)/.agqc-installed

.PHONY: setup demo test lint check bench fuzz clean dot browser lecture

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: on this project's machines it is the CPU build on disk;
	# agqc's own range (torch>=2.2) then installs nothing more.
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || echo "warning: could not install graphviz"; \
	  else echo "warning: Graphviz's dot is missing; install the 'graphviz' package to render drawings"; fi; }

# The headless browser tests/test_draw_html.py drives (skipped without it): for `make test` only, not `make demo`.
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "warning: could not install chromium"; \
	  else echo "warning: chromium or chromedriver is missing; install the 'chromium' and 'chromium-driver' packages to run the browser tests of drawings"; fi; }

setup: $(STAMP) dot

demo: setup
	$(VENV)/bin/agqc build specs/cgan.agq

# One pytest worker per core (pytest-xdist), each test file on one worker (module fixtures run once).
test: setup browser lint
	$(PY) -m pytest -n auto --dist loadfile

# ruff over the code; mypy over the typed core (the files listed under [tool.mypy] in pyproject.toml).
lint: setup
	$(VENV)/bin/ruff check agqc tests benchmarks
	$(VENV)/bin/mypy

check: setup
	$(VENV)/bin/agqc check specs/*.agq

bench: setup
	$(PY) benchmarks/check_speed.py
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/attention.py --sweep
	$(PY) benchmarks/train_step.py
	$(PY) benchmarks/lsp_latency.py

# The lecture's five studies (docs/lecture4.md says what each measures and how long it took here):
# each trains from specs/, writes benchmarks/results/lecture/<study>.json and docs/images/lecture/*.png;
# report.py then rewrites docs/lecture4.md's tables. One thread per training process (the seed spread runs
# two at a time), so the figures repeat exactly; finished runs under runs/lecture/ are reused.
lecture: export OMP_NUM_THREADS = 1
lecture: setup
	$(PY) benchmarks/lecture/seed_spread.py --jobs 2
	$(PY) benchmarks/lecture/model_compare.py
	$(PY) benchmarks/lecture/cnn_tf_best.py
	$(PY) benchmarks/lecture/sinusoid.py
	$(PY) benchmarks/lecture/cgan_control.py
	$(PY) benchmarks/lecture/report.py

fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -m property -q -p no:randomly

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
