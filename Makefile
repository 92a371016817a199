# The two commands a user needs: `make run` and `make test`. Both set up a fresh machine first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup build run test bench clean

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

clean:
	rm -rf $(BUILD)
