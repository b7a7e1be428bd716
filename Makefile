# Two commands do all the set-up: `make run` starts the dashboard, `make test` runs the test suite.
# Each creates .venv and installs the requirements on first use (and again when they change).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The file watcher is off (also in .streamlit/config.toml): it watched the whole checkout, .venv included, and an
# idle server with one tab open used a full core. `make dev` turns it on, polling only the project's own modules.
STREAMLIT_BASE := --server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false
STREAMLIT_FLAGS := $(STREAMLIT_BASE) --server.fileWatcherType none

.PHONY: run dev test test-fast bench browser-deps data clean wild-dev gpu-pack gpu-unpack screenshots

# uv (from PyPI, into the venv) installs the requirements: it fetches and unpacks wheels in parallel and reuses its
# cache, so a fresh checkout is ready in seconds rather than the two minutes pip took (TensorFlow alone is 250 MB).
# --compile-bytecode writes the .pyc files once, at install: where PYTHONDONTWRITEBYTECODE is set (as on CI
# machines) every new process otherwise compiled TensorFlow's 3,500 modules again, 7 s of CPU per training run.
UV := $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY)

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv
	$(UV) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(UV) -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/streamlit run app.py $(STREAMLIT_FLAGS)

# While editing the code: reruns the app when a project file is saved.
dev: $(VENV)/.installed
	$(VENV)/bin/streamlit run app.py $(STREAMLIT_BASE) --server.fileWatcherType poll --server.runOnSave true

# The browser tests need Debian's chromium; install it once (root, apt-get) if it is missing.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The suite runs in TEST_WORKERS processes (pytest-xdist), each test given to the next free one: most tests wait
# on a browser, a server or a child process, so three share two cores well (`make test TEST_WORKERS=0`: one process).
TEST_WORKERS ?= 3
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal

test: $(VENV)/.installed-dev browser-deps
	$(PYTEST) --durations=25

# Everything but the browser tests.
test-fast: $(VENV)/.installed-dev
	$(PYTEST) -m "not browser"

bench: $(VENV)/.installed
	$(PY) -m benchmarks.run_all

# The README's pictures of the dashboard (docs/images/), taken from the real app in headless Chromium.
screenshots: $(VENV)/.installed-dev browser-deps
	$(PY) tools/screenshots.py

# FER2013 Training and PublicTest as class folders in data/ (for evaluation and training; not needed to run).
FER2013_TGZ ?= ../shared/data/fer2013_trainval.tgz
data:
	@test -d data/PublicTest || { mkdir -p data && tar xzf $(FER2013_TGZ) -C data; }
	@test -f data/ferplus_votes_trainval.csv || cp $(dir $(FER2013_TGZ))ferplus_votes_trainval.csv data/
	@echo "FER2013 in data/Training and data/PublicTest"

# wild_dev (web and TV photos, not FER2013) and its committed split by person (splits/wild_dev.csv): models are
# tuned and chosen on data/wild_dev_tune and reported on data/wild_dev_kept_out.
WILD_TGZ ?= ../shared/data/wild_dev.tgz
wild-dev:
	@test -d data/wild_dev || { mkdir -p data && tar xzf $(WILD_TGZ) -C data; }
	@test -d data/wild_dev_kept_out || $(PYTHON) splits/make_wild_dev_split.py --link data/wild_dev
	@echo "wild_dev in data/wild_dev, split into data/wild_dev_tune and data/wild_dev_kept_out"

# GPU training job (tools/gpu_job/README.md): pack what travels with the device call, unpack what came back.
gpu-pack:
	bash tools/gpu_job/pack.sh
gpu-unpack:
	@test -n "$(RESULTS)" || { echo "usage: make gpu-unpack RESULTS=/work/.device/N"; exit 2; }
	bash tools/gpu_job/unpack.sh $(RESULTS)

clean:
	rm -rf $(VENV) test-output .pytest_cache
