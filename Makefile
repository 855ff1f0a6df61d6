# Two entry points: `make serve` (the default model on REST 9000 / gRPC 5000) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MODEL ?= sklearn-iris
WORKERS ?= 1
HOST ?= 127.0.0.1

.PHONY: install fuzz-venv serve test lint builder clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all,test]"
	touch $@

# schemathesis cannot live beside seldon-core 1.18.2, so it gets its own .venv-fuzz
fuzz-venv:
	PYTHON=$(PYTHON) tools/fuzz/setup-venv.sh

serve: install
	cd models/$(MODEL) && ../../$(BIN)/python -m wrappers.launch --host $(HOST) MyModel \
		--service-type MODEL --http-port 9000 --grpc-port 5000 --workers $(WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint fuzz-venv
	$(BIN)/python -m pytest

# the s2i builder image for one framework (needs a Docker engine): FRAMEWORK=sklearn|tensorflow|torch
FRAMEWORK ?= sklearn
builder:
	docker build -f s2i/Dockerfile --build-arg FRAMEWORK=$(FRAMEWORK) -t modelrepo/s2i-$(FRAMEWORK):0.1.0 .

clean:
	rm -rf $(VENV) .venv-fuzz *.egg-info .pytest_cache .ruff_cache
