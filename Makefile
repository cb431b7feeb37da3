# Two commands for a fresh Debian 12 machine:
#   make run    install what is missing, build, migrate, serve config/dev.env on 127.0.0.1:8080
#   make test   install what is missing, build, run every test through CTest
BUILD     ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS ?=
# Debian packages the build and the tests need (pkg-config name -> package in deps.sh).
.PHONY: all deps build run test bench clean sanitize

all: build

deps:
	@bash .ci/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$$(nproc)

run: build
	./$(BUILD)/issuerhookd --config config/dev.env

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2

sanitize:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_ARGS=-DIH_SANITIZE=ON

bench: build
	bash tests/bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
