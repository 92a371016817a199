# The two commands a user needs: `make run` and `make test`. Both set up a fresh machine first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# ccache (installed by scripts/setup) keeps compiled objects across checkouts and rebuilds. Paths are
# taken relative to the checkout, so another clone on the same machine (CI's) reuses them.
ifneq ($(shell command -v ccache 2>/dev/null),)
CMAKE_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
endif

.PHONY: setup build run test bench clean python python-test gpu-build gpu-test gpu-bench gpu-bench-sae fuzz-build fuzz fuzz-smoke

setup:
	@scripts/setup

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The default study: Fashion-MNIST, TinyLeNet features (size_scale 0.5), global vs majority vote vs TTT.
run: build
	$(BUILD)/tttlab run --config configs/default.toml

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) python-test

# The Python package (pyproject.toml, python/, docs/python.md) in a virtual environment of Debian's
# Python, which sees Debian's python3-torch (the LibTorch the C++ build links). pip builds the
# extension in build-py/ through ccache, so after `make build` the library's objects are not compiled
# again. --no-build-isolation: the build tools come from the environment (installed once below).
PY_VENV ?= $(CURDIR)/.venv
VENV_PYTHON ?= /usr/bin/python3

$(PY_VENV)/bin/python:
	$(VENV_PYTHON) -m venv --system-site-packages $(PY_VENV)
	$(PY_VENV)/bin/pip install -q "scikit-build-core>=0.10" "pybind11>=2.11" pytest

# CXX: the plain build's compiler by the same name (scikit-build-core would otherwise take Python's,
# x86_64-linux-gnu-g++, and ccache keys its objects on the compiler's name).
python: build $(PY_VENV)/bin/python
	CXX="$$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' $(BUILD)/CMakeCache.txt)" CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) \
	  $(PY_VENV)/bin/pip install -q --no-build-isolation .

python-test: python
	TTTLAB_CLI=$(CURDIR)/$(BUILD)/tttlab $(PY_VENV)/bin/python -m pytest -q python/tests

bench: build
	$(BUILD)/bench_ttt_cpu

# libFuzzer targets for the readers of outside files (fuzz/README.md), built with clang in their own
# folder so that the gcc build above is untouched. `make fuzz` runs each target FUZZ_SECONDS seconds
# and prints its executions; `make fuzz-smoke` is the short run CI does.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_SECONDS ?= 60
# CI's short run is reproducible: a fixed seed and a fixed number of executions per target.
FUZZ_SMOKE_SEED ?= 1
FUZZ_SMOKE_RUNS ?= 20000

$(FUZZ_BUILD)/CMakeCache.txt:
	cmake -S fuzz -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ $(CMAKE_FLAGS)

fuzz-build: setup $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	python3 fuzz/make_seeds.py $(FUZZ_BUILD)/seeds

fuzz: fuzz-build
	BUILD=$(FUZZ_BUILD) fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	BUILD=$(FUZZ_BUILD) FUZZ_SEED=$(FUZZ_SMOKE_SEED) FUZZ_RUNS=$(FUZZ_SMOKE_RUNS) fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# The GPU machine (LibTorch 2.x with CUDA from its Python, no FAISS, no GoogleTest or header
# packages, no internet): `scripts/gpu-deps` fills .deps/ here (header-only libraries, zlib's headers,
# GoogleTest's source), which travels with the device tool's `carry`.
GPU_BUILD ?= build-gpu
GTEST_SOURCE ?= $(firstword $(wildcard $(CURDIR)/.deps/googletest /usr/src/googletest))
EXTRA_INCLUDE ?= $(wildcard $(CURDIR)/.deps/include)
ICU_ROOT ?= $(wildcard $(CURDIR)/.deps/icu)
GPU_CMAKE_FLAGS ?=
OLD_STYLE_RPATH := -Wl,--disable-new-dtags

$(GPU_BUILD)/CMakeCache.txt:
	cmake -S . -B $(GPU_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_PREFIX_PATH="$$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
	  $(if $(GTEST_SOURCE),-DTTTLAB_GTEST_SOURCE=$(GTEST_SOURCE)) \
	  $(if $(EXTRA_INCLUDE),-DTTTLAB_EXTRA_INCLUDE=$(EXTRA_INCLUDE)) $(if $(ICU_ROOT),-DICU_ROOT=$(ICU_ROOT) -DCMAKE_BUILD_RPATH=$(ICU_ROOT)/lib \
	    -DCMAKE_EXE_LINKER_FLAGS=$(OLD_STYLE_RPATH)) \
	  $(GPU_CMAKE_FLAGS)

# The carried ICU's folder is in the GPU build's RPATH (above), so build-gpu/tttlab and the tests
# start without LD_LIBRARY_PATH. It is an old-style DT_RPATH (--disable-new-dtags): a DT_RUNPATH
# would not be searched for libicudata, which only libicuuc needs.

gpu-build: $(GPU_BUILD)/CMakeCache.txt
	cmake --build $(GPU_BUILD) --target tttlab tests_gpu tests_lm tests_encoder bench_ttt_cuda bench_lm bench_embed

gpu-test: gpu-build
	$(GPU_BUILD)/tests_gpu
	$(GPU_BUILD)/tests_lm
	$(GPU_BUILD)/tests_encoder

# The PyTorch per-point script (bench/ttt_pytorch_per_point.py: the baseline of bench_ttt_cuda's speed-ups),
# then the C++ benchmark given its time.
gpu-bench: gpu-build
	python3 bench/ttt_pytorch_per_point.py | tee $(GPU_BUILD)/pytorch.txt
	$(GPU_BUILD)/bench_ttt_cuda --pytorch-ms $$(awk '/^ms_per_point/ {print $$2}' $(GPU_BUILD)/pytorch.txt)

# SAE training at the ImageNet size (1.28M x 512), 3 epochs, compared on the mean of epochs 2-3: the
# PyTorch script, then ours given its time.
SAE_BENCH_EPOCHS ?= 3
gpu-bench-sae: $(GPU_BUILD)/CMakeCache.txt
	cmake --build $(GPU_BUILD) --target bench_sae_train
	python3 bench/sae_pytorch.py --epochs $(SAE_BENCH_EPOCHS) | tee $(GPU_BUILD)/sae_pytorch.txt
	$(GPU_BUILD)/bench_sae_train --device cuda --epochs $(SAE_BENCH_EPOCHS) --pytorch-s $$(awk '/^s_per_epoch/ {print $$2}' $(GPU_BUILD)/sae_pytorch.txt)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) build-py
