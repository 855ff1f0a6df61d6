# Two entry points: `make serve` (the default model on REST 9000 / gRPC 5000) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MODEL ?= sklearn-iris
WORKERS ?= 1

.PHONY: install serve test lint builder clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all,test]"
	touch $@

serve: install
	cd models/$(MODEL) && ../../$(BIN)/seldon-core-microservice MyModel --service-type MODEL \
		--http-port 9000 --grpc-port 5000 --workers $(WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

# the s2i builder image for one framework (needs a Docker engine): FRAMEWORK=sklearn|tensorflow|torch
FRAMEWORK ?= sklearn
builder:
	docker build -f s2i/Dockerfile --build-arg FRAMEWORK=$(FRAMEWORK) -t modelrepo/s2i-$(FRAMEWORK):0.1.0 .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
