# herd: `make run` and `make test` each do all set-up (packages via scripts/setup.sh) first.
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
JOBS      ?= 2
BUILD_TYPE ?= Release

.PHONY: all setup setup-test configure build test test-asan test-report docs-screenshot determinism mutation coverage fuzz run demo bench format clean

all: build

setup:
	@scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The tests' own packages (GoogleTest, Google Benchmark, Prometheus...) come with `make test`
# only: `make run` needs none of them.
setup-test:
	@scripts/setup.sh test

test: setup-test build
	@ctest --test-dir $(BUILD_DIR) -j$(JOBS) --output-on-failure

# The tests again under AddressSanitizer and UndefinedBehaviorSanitizer; tests labelled
# `large` (big simulations) stay out of this run.
test-asan: setup-test
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHERD_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_DIR) -j$(JOBS)
	@ctest --test-dir $(ASAN_DIR) -j$(JOBS) --output-on-failure -LE large

# The HTML report in headless Chromium (Debian's chromium, installed here: heavy, so not part of
# `make test`'s set-up; there the test is skipped, saying so). Screenshots land in
# $(BUILD_DIR)/tests/report/artifacts.
test-report: setup-test build
	@scripts/setup.sh chromium
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -L report

# docs/report_partition_heal.png, the README's picture of the HTML report, made again.
docs-screenshot: build
	@scripts/setup.sh chromium
	@$(BUILD_DIR)/cli/herd sim scenarios/partition_heal.scn --html $(BUILD_DIR)/partition_heal.html --quiet >/dev/null
	@rm -rf $(BUILD_DIR)/chromium-profile && chromium --headless --no-sandbox --disable-gpu --disable-quic \
	  --no-first-run --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$(abspath $(BUILD_DIR))/chromium-profile --hide-scrollbars --window-size=1100,1480 \
	  --screenshot=$(abspath docs/report_partition_heal.png) file://$(abspath $(BUILD_DIR))/partition_heal.html 2>/dev/null

# The main job: replay the partition-and-heal story in the simulator and print its report.
run: build
	@$(BUILD_DIR)/cli/herd sim scenarios/partition_heal.scn

demo: build
	@$(BUILD_DIR)/cli/herd demo

# The mutation score: each realistic bug of core/defects.hpp swept over the shipped sweep bases,
# 2 000 seeds per base at most (about four minutes on two cores); prints found / not found, the
# seed and shrunk size of each find, and `mutation score: N %`; first, the same seeds with no
# defect must all pass (no false alarm; about two more minutes).
mutation: setup-test build
	@$(BUILD_DIR)/tests/sweep/mutation_score --clean --seeds 2000
	@$(BUILD_DIR)/tests/sweep/mutation_score --seeds 2000 --jobs $(JOBS)

# How much of core/ (lines, branches taken) the sweeps over the shipped bases reach: `herd` built
# with gcov in build-cov, 2 000 seeds of each base, with the base's herd and with --topology vary.
coverage: setup
	@SHOW_FILES=1 scripts/coverage.sh build-cov 2000

# core + sim built with clang-14 and libc++ must give the same trace hashes as this build.
determinism: setup-test build
	@scripts/determinism.sh $(BUILD_DIR)

# Two minutes of libFuzzer (clang) on the Node: random bytes as a client and as a peer.
fuzz:
	@scripts/setup.sh clang-14 libclang-rt-14-dev
	@CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DHERD_FUZZ=ON -DHERD_CORE_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_node
	@mkdir -p build-fuzz/corpus && build-fuzz/tests/fuzz/fuzz_node -max_total_time=120 build-fuzz/corpus

# Speed is measured here, never asserted in tests.
bench: setup-test build
	@$(BUILD_DIR)/bench/sim_bench

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR) build-libcxx build-fuzz
