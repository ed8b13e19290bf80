# The pipeline, stage by stage, as file targets: a stage whose inputs did not change is not run
# again. `make all` runs everything on the built-in synthetic faces; `make test` runs the tests.
#
# Run on other data: make all INPUTS="path/to/face.ndjson path/to/cat.ndjson"
# Another config:    make all CONFIG=my.toml
# Stage flags:       make all CLUSTER_FLAGS="--vectors embedding --k 3"
#                    TRAIN_FLAGS="--max-steps 1500 --max-minutes 0" (on a fresh WORK: a flag
#                    is not a file, so changing one alone does not run the stage again)

SHELL := /bin/bash
CARGO ?= cargo
CONFIG ?= pipeline.toml
# read from the config so that the Makefile and the stages agree
toml_key = $(shell sed -n '/^\[$(1)\]/,/^\[/{s/^$(2) *= *"\{0,1\}\([^"]*\)"\{0,1\} *\(#.*\)\{0,1\}$$/\1/p}' $(CONFIG) | head -1)
WORK ?= $(or $(call toml_key,paths,work_dir),work)
SYNTH_COUNT ?= $(or $(call toml_key,synth,count),10000)
SYNTH_SEED ?= $(or $(call toml_key,synth,seed),1)
# a second synthetic set from a seed the model never trains on, for `evaluate`
HELDOUT_SEED ?= $(shell echo $$(( $(SYNTH_SEED) + 1000 )))
HELDOUT_COUNT ?= $(or $(call toml_key,synth,heldout_count),10000)
CLUSTER_FLAGS ?=
TRAIN_FLAGS ?=
# `make generate`: drawings like cluster LIKE_CLUSTER (K, K,K,... or all) of the fitted clusters
# (not part of `all`)
LIKE_CLUSTER ?= all
GENERATE_FLAGS ?=

# PROFILE=debug builds faster and runs slower (the end-to-end test uses it)
PROFILE ?= release
BIN := target/$(PROFILE)
CARGO_PROFILE := $(if $(filter debug,$(PROFILE)),,--profile $(PROFILE))
STAGES := ingest train embed cluster plot evaluate
# the count is in the names, so that a new count makes new files
SYNTH := $(WORK)/data/synth_faces_seed$(SYNTH_SEED)_n$(SYNTH_COUNT).ndjson
INPUTS ?= $(SYNTH)
HELDOUT := $(WORK)/data/synth_faces_seed$(HELDOUT_SEED)_n$(HELDOUT_COUNT).ndjson

DRAWINGS := $(WORK)/drawings.parquet
MODEL := $(WORK)/run/model.safetensors
EMBEDDINGS := $(WORK)/embeddings.parquet
CLUSTERS := $(WORK)/clusters.parquet
REPORT := $(WORK)/plots/report.html
H_DRAWINGS := $(WORK)/heldout/drawings.parquet
H_EMBEDDINGS := $(WORK)/heldout/embeddings.parquet
H_CLUSTERS := $(WORK)/heldout/clusters.parquet
EVALUATION := $(WORK)/evaluation.json
EVAL_INPUTS := $(if $(filter $(SYNTH),$(INPUTS)),$(H_DRAWINGS) $(H_EMBEDDINGS) $(H_CLUSTERS) $(WORK)/heldout/reconstructions.parquet,$(DRAWINGS) $(EMBEDDINGS) $(CLUSTERS) $(WORK)/reconstructions.parquet)

.PHONY: cuda all build data download ingest train embed cluster plot evaluate generate workflow test bench bench-scale clean-work FORCE
.DELETE_ON_ERROR:

all: $(REPORT)
	@echo "[make all] done: open $(REPORT)"

# cargo decides whether anything needs rebuilding; a binary it leaves untouched keeps its
# time, so the stages after it do not run again
build: $(addprefix $(BIN)/,$(STAGES))
$(addprefix $(BIN)/,$(STAGES)) &: FORCE
	$(CARGO) build $(CARGO_PROFILE) $(addprefix --bin ,$(STAGES))

data: $(SYNTH)
$(SYNTH): | $(BIN)/ingest
	$(BIN)/ingest synth --count $(SYNTH_COUNT) --seed $(SYNTH_SEED) -o $@
$(HELDOUT): | $(BIN)/ingest
	$(BIN)/ingest synth --count $(HELDOUT_COUNT) --seed $(HELDOUT_SEED) -o $@

ingest: $(DRAWINGS)
$(DRAWINGS): $(INPUTS) $(CONFIG) $(BIN)/ingest
	$(BIN)/ingest --config $(CONFIG) -o $@ $(INPUTS)

train: $(MODEL)
$(MODEL): $(DRAWINGS) $(CONFIG) $(BIN)/train
	$(BIN)/train --config $(CONFIG) $(TRAIN_FLAGS) --overwrite -o $(WORK)/run $(DRAWINGS)

embed: $(EMBEDDINGS)
$(EMBEDDINGS): $(DRAWINGS) $(MODEL) $(CONFIG) $(BIN)/embed
	$(BIN)/embed --config $(CONFIG) --model $(WORK)/run -o $@ $(DRAWINGS)

cluster: $(CLUSTERS)
$(CLUSTERS): $(EMBEDDINGS) $(CONFIG) $(BIN)/cluster
	$(BIN)/cluster --config $(CONFIG) $(CLUSTER_FLAGS) -o $@ $(EMBEDDINGS)

evaluate: $(EVALUATION)
$(H_DRAWINGS): $(HELDOUT) $(CONFIG) $(BIN)/ingest
	$(BIN)/ingest --config $(CONFIG) -o $@ $(HELDOUT)
$(H_EMBEDDINGS): $(H_DRAWINGS) $(MODEL) $(CONFIG) $(BIN)/embed
	$(BIN)/embed --config $(CONFIG) --model $(WORK)/run --interpolations 0 -o $@ $(H_DRAWINGS)
$(H_CLUSTERS): $(H_EMBEDDINGS) $(CONFIG) $(BIN)/cluster
	$(BIN)/cluster --config $(CONFIG) $(CLUSTER_FLAGS) -o $@ $(H_EMBEDDINGS)
$(EVALUATION): $(EVAL_INPUTS) $(CONFIG) $(BIN)/evaluate
	$(BIN)/evaluate --config $(CONFIG) -o $@ $(EVAL_INPUTS)

plot: $(REPORT)
$(REPORT): $(DRAWINGS) $(EMBEDDINGS) $(CLUSTERS) $(EVALUATION) $(CONFIG) $(BIN)/plot
	$(BIN)/plot --config $(CONFIG) -o $(WORK)/plots $(WORK)

# Quick, Draw!'s files for the named categories (needs the network): resumed when broken,
# checked against the server's length and MD5, never a partial file in a good one's place.
#   make download CATEGORIES="face cat" [FORMAT=simplified|raw|binary|sketchrnn]
CATEGORIES ?= face
FORMAT ?= simplified
download:
	python3 scripts/download.py --format $(FORMAT) --out $(WORK)/data $(CATEGORIES)

# Optional, not in `all`: new drawings like cluster $(LIKE_CLUSTER), as a drawings table (and
# simplified ndjson) that `make plot` then draws beside the cluster's members.
GENERATED := $(WORK)/generated.parquet
generate: $(CLUSTERS) $(MODEL)
	$(CARGO) build $(CARGO_PROFILE) --bin generate
	$(BIN)/generate --config $(CONFIG) --model $(WORK)/run --clusters $(WORK)/cluster_model.json \
		--like-cluster $(LIKE_CLUSTER) $(GENERATE_FLAGS) -o $(GENERATED) --ndjson $(WORK)/generated.ndjson
	$(BIN)/plot --config $(CONFIG) -o $(WORK)/plots $(WORK)

test:
	$(CARGO) test --workspace
	python3 scripts/test_download.py
	scripts/e2e.sh
	scripts/defaults-check.sh
	scripts/workflow-check.sh
	scripts/torch-check.sh
	scripts/cuda-check.sh

# The pipeline over SHARDS shards through Snakemake (workflow/Snakefile), JOBS jobs at once, in
# $(WORK)-shards: make workflow SHARDS=4 JOBS=2 INPUTS="face.ndjson cat.ndjson"
SHARDS ?= 4
JOBS ?= $(shell nproc)
workflow: build $(INPUTS)
	$$(dirname $$(scripts/python-env.sh))/snakemake -s workflow/Snakefile --cores $(JOBS) \
	  --config inputs="$(INPUTS)" shards=$(SHARDS) work=$(WORK)-shards bin=$(BIN) \
	  pipeline=$(CONFIG) train_flags="$(TRAIN_FLAGS)"

bench: build
	scripts/bench.sh

# the pipeline at 200k and 2M synthetic faces, one process per stage and as shards through the
# workflow: drawings/s and peak memory of every stage (about half an hour on 2 cores)
BENCH_SCALE_FLAGS ?=
bench-scale: build
	python3 scripts/bench_scale.py --bin $(BIN) $(BENCH_SCALE_FLAGS)

# The stages and the bench example built with `--features cuda`, in target/cuda (apart from the
# CPU build): CUDA 13 from NVIDIA's PyPI wheels unless CUDA_ROOT names a toolkit, and the GPU
# generation CUDA_COMPUTE_CAP (90: H100), both as scripts/cuda-toolkit.sh --env says; no GPU
# needed to build. Then, on a GPU machine: scripts/gpu-check.sh (docs/cuda.md).
cuda:
	eval "$$(scripts/cuda-toolkit.sh --env)" && export CARGO_TARGET_DIR=target/cuda && \
	  $(CARGO) build --release --features cuda && \
	  $(CARGO) build --release --features cuda -p seqae --example bench

clean-work:
	rm -rf $(WORK)
