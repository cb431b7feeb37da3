# Two commands for a fresh Debian 12 machine:
#   make run    install what is missing, build, migrate, serve config/dev.env on 127.0.0.1:8080
#   make test   install what is missing, build, run every test through CTest
BUILD     ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS ?=
# Debian packages the build and the tests need (pkg-config name -> package in deps.sh).
.PHONY: all deps build run test bench bench-pg clean sanitize
.PHONY: fuzz lint

all: build

deps:
	@bash .ci/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$$(nproc)

# Builds the daemon only (not the tests and benchmarks `make test` builds).
run: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$$(nproc) --target issuerhookd
	./$(BUILD)/issuerhookd --config config/dev.env

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2

sanitize:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_ARGS=-DIH_SANITIZE=ON

bench: build
	bash tests/bench/run.sh $(BUILD)

# The same load on one node on SQLite, one on PostgreSQL and two on one PostgreSQL database.
bench-pg: build
	bash tests/bench/run.sh --postgresql $(BUILD)

clean:
	rm -rf $(BUILD)

# libFuzzer over tests/fuzz/fuzz_input.c, built with clang, ASan and UBSan in
# $(FUZZ_BUILD); FUZZ_SECONDS of fuzzing from the seeds (tests/fuzz/corpus and the
# JSON of tests/fixtures, copied into $(FUZZ_BUILD)/corpus, which keeps what a run
# finds for the next). Fails on a crash, a leak or a failed property; the input that
# did it is in $(FUZZ_BUILD)/artifacts/ (replay: $(FUZZ_BUILD)/tests/fuzz/ihfuzz FILE).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_PKGS    := clang libclang-rt-14-dev llvm-14

fuzz: deps
	@probe=$$(mktemp -d); \
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > $$probe/p.c; \
	if ! clang -fsanitize=fuzzer $$probe/p.c -o $$probe/p >/dev/null 2>&1 || ! command -v llvm-symbolizer >/dev/null; then \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(FUZZ_PKGS); \
	  else \
	    echo "make fuzz needs clang with libFuzzer. Run as root:" >&2; \
	    echo "  apt-get update && apt-get install -y --no-install-recommends $(FUZZ_PKGS)" >&2; \
	    rm -rf $$probe; exit 1; \
	  fi; \
	fi; \
	rm -rf $$probe
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIH_FUZZ=ON -DIH_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$$(nproc) --target ihfuzz
	mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts
	cp tests/fuzz/corpus/* $(FUZZ_BUILD)/corpus/
	find tests/fixtures -name '*.json' | while read -r f; do \
	  cp "$$f" "$(FUZZ_BUILD)/corpus/fixture-$$(echo "$${f#tests/fixtures/}" | tr / -)"; done
	$(FUZZ_BUILD)/tests/fuzz/ihfuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	  -rss_limit_mb=2048 -dict=tests/fuzz/issuerhook.dict -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/ $(FUZZ_ARGS) $(FUZZ_BUILD)/corpus

# Every shell script through shellcheck (tests/lint/shellcheck.sh, also the CTest test
# shellcheck), and openapi/*.yaml through Redocly CLI with .redocly.yaml (its
# recommended rules, findings as errors). Needs shellcheck, and node >= 20.19 with npx
# and the npm registry; the Redocly version is pinned here.
REDOCLY ?= @redocly/cli@2.77.0

lint:
	bash tests/lint/shellcheck.sh
	npx --yes $(REDOCLY) lint --config .redocly.yaml openapi/*.yaml
