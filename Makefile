# The two commands a user needs: `make run` and `make test`. Both set up a fresh machine first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup build run test bench clean gpu-build gpu-test gpu-bench gpu-bench-sae

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

bench: build
	$(BUILD)/bench_ttt_cpu

# The GPU machine (LibTorch 2.x with CUDA from its Python, no FAISS, no GoogleTest package):
# GoogleTest is built from a source tree, .deps/googletest (a copy of Debian's /usr/src/googletest)
# or /usr/src/googletest, whichever exists.
GPU_BUILD ?= build-gpu
GTEST_SOURCE ?= $(firstword $(wildcard $(CURDIR)/.deps/googletest /usr/src/googletest))
GPU_CMAKE_FLAGS ?=

$(GPU_BUILD)/CMakeCache.txt:
	cmake -S . -B $(GPU_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_PREFIX_PATH="$$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
	  $(if $(GTEST_SOURCE),-DTTTLAB_GTEST_SOURCE=$(GTEST_SOURCE)) $(GPU_CMAKE_FLAGS)

gpu-build: $(GPU_BUILD)/CMakeCache.txt
	cmake --build $(GPU_BUILD) --target tttlab tests_gpu bench_ttt_cuda

gpu-test: gpu-build
	$(GPU_BUILD)/tests_gpu

# (ii) the PyTorch per-point script, then the C++ benchmark given its time.
gpu-bench: gpu-build
	python3 bench/ttt_pytorch_per_point.py | tee $(GPU_BUILD)/pytorch.txt
	$(GPU_BUILD)/bench_ttt_cuda --pytorch-ms $$(awk '/^ms_per_point/ {print $$2}' $(GPU_BUILD)/pytorch.txt)

# SAE training, one epoch at the ImageNet size (1.28M x 512): the PyTorch script, then ours given its time.
gpu-bench-sae: $(GPU_BUILD)/CMakeCache.txt
	cmake --build $(GPU_BUILD) --target bench_sae_train
	python3 bench/sae_pytorch.py | tee $(GPU_BUILD)/sae_pytorch.txt
	$(GPU_BUILD)/bench_sae_train --device cuda --pytorch-s $$(awk '/^s_per_epoch/ {print $$2}' $(GPU_BUILD)/sae_pytorch.txt)

clean:
	rm -rf $(BUILD)
