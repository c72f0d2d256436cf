# effectual: the entry points. `make demo` and `make test` install what is missing (Debian
# packages), build, and run. CMake does the building; this file only wraps it.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release -DEFF_WERROR=ON
FUZZ_SECONDS ?= 20
MODEL      ?= models/lenet5.onnx
BIN        := $(BUILD)/effectual

.PHONY: all build deps deps-test deps-bench demo test test-unit test-asan test-fuzz bench format clean

all: build

deps:
	@tools/deps.sh build

deps-test:
	@tools/deps.sh test

deps-bench:
	@tools/deps.sh bench

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	tools/demo.sh $(BIN) $(MODEL)

# Every test: unit + conformance + CLI (ctest), then the ASan+UBSan build of the unit tests, then
# each fuzzer for a bounded time.
test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEFF_WERROR=ON -DEFF_SANITIZE=ON > /dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target unit_tests
	OMP_WAIT_POLICY=passive ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(ASAN_BUILD)/tests/unit_tests --gtest_brief=1

test-fuzz: deps-test
	FUZZ_BUILD=$(FUZZ_BUILD) tools/run_fuzzers.sh $(FUZZ_SECONDS)

bench: deps-bench build
	tools/bench.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
