# The two commands of the README: `make run` and `make test`. Both install what is
# missing (apt-get, when root), then build with CMake into build/.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
RUN_ARGS ?=
FUZZ_SECONDS ?= 20

BUILD_PACKAGES := cmake g++ make prometheus-cpp-dev libcivetweb-dev libspdlog-dev catch2 \
  libyaml-cpp-dev libcrypt-dev libssl-dev zlib1g-dev nlohmann-json3-dev libasio-dev libbpf-dev \
  bpftool clang-14 pkg-config linux-libc-dev
TEST_PACKAGES := linux-perf prometheus prometheus-node-exporter prometheus-process-exporter smem curl \
  python3 systemd clang libclang-rt-14-dev dpkg-dev file python3-yaml strace libcap2-bin \
  openssl util-linux systemd-container chromium victoria-metrics prometheus-alertmanager

# Rebuilds reuse earlier objects where ccache is installed (nothing changes without it).
CCACHE := $(if $(shell command -v ccache 2>/dev/null),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: all deps test-deps build run test test-sanitize fuzz bench golden package clean

all: build

deps:
	@./tests/install-packages.sh $(BUILD_PACKAGES)

test-deps:
	@./tests/install-packages.sh $(BUILD_PACKAGES) $(TEST_PACKAGES)

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CCACHE)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/memledger_exporter $(RUN_ARGS)

test: test-deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

test-sanitize: test-deps
	cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DMEMLEDGER_SANITIZE=ON $(CCACHE)
	cmake --build build-sanitize -j $(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 600 -LE no-sanitize

# Every parser's libFuzzer target (clang, ASan + UBSan) for FUZZ_SECONDS each, seeded
# from the fixtures (tests/fuzz/run.sh).
fuzz: test-deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CCACHE) \
	  -DMEMLEDGER_FUZZ=ON -DBUILD_TESTING=OFF
	cmake --build build-fuzz -j $(JOBS)
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# The performance benchmark (root, a few minutes): memledger_exporter against the raw-read
# floor, node_exporter and process-exporter with 1,000 and 10,000 extra idle processes
# (tests/bench/bench.py; BENCH_ARGS=--help lists its options); then the HTTP front door
# under 1,000 idle and 100 trickling connections next to node_exporter, and its memory per
# idle connection (tests/bench/frontdoor_bench.py); then the stall a large process's PSS
# read causes it (tests/bench/pss_bench.py). Not part of `make test`.
BENCH_ARGS ?=
bench: test-deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS) --target memledger_exporter bench_tool mmap_victim
	MEMLEDGER_BENCH_COMMAND="make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" \
	  python3 tests/bench/bench.py --exporter $(BUILD_DIR)/memledger_exporter \
	  --tool $(BUILD_DIR)/tests/bench_tool $(BENCH_ARGS)
	python3 tests/bench/sockets_bench.py $(BUILD_DIR)/memledger_exporter
	python3 tests/bench/frontdoor_bench.py --exporter $(BUILD_DIR)/memledger_exporter
	MEMLEDGER_BENCH_COMMAND="make bench" \
	  python3 tests/bench/blackhole_bench.py --exporter $(BUILD_DIR)/memledger_exporter
	MEMLEDGER_BENCH_COMMAND="make bench" python3 tests/bench/pss_bench.py \
	  --exporter $(BUILD_DIR)/memledger_exporter --victim $(BUILD_DIR)/tests/mmap_victim

# Regenerates the golden expositions tests/golden/<host>.prom from the fixture hosts in
# tests/fixtures/hosts/ (tests/golden/golden.py); review `git diff tests/golden` after.
golden: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS) --target memledger_exporter
	python3 tests/golden/golden.py update --exporter $(BUILD_DIR)/memledger_exporter

# The Debian package, build/memledger-exporter_<version>_<arch>.deb (CPack); dpkg-dev
# provides dpkg-shlibdeps, which computes its Depends.
package: build
	@./tests/install-packages.sh dpkg-dev
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR) build-sanitize build-fuzz
