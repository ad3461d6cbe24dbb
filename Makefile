# Thin wrapper over CMake. `make run` and `make test` install what is missing
# (scripts/install-deps.sh), configure, build, then run the default suite or
# the test suite.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
SUITE ?= quick
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS ?= -LE slow
RUNS_DIR ?= results/runs
POOLBENCH = $(BUILD_DIR)/harness/poolbench

.PHONY: all deps configure build run test charts clean install

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Runs the suite, then draws the charts of that run beside its results file
# and writes the HTML report among them (index.html: open it in a browser).
# The run's own exit status (1 when a check failed) is kept.
run: build
	@mkdir -p $(RUNS_DIR); \
	out=$(RUNS_DIR)/$$(date -u +%Y%m%dT%H%M%SZ)-$(notdir $(basename $(SUITE))).json; \
	$(POOLBENCH) run --suite $(SUITE) --out $$out; status=$$?; \
	if [ -f $$out ]; then \
	    $(POOLBENCH) plot $$out --out $${out%.json}-charts || status=$$?; \
	    printf 'report: '; $(POOLBENCH) report $$out --out $${out%.json}-charts || status=$$?; \
	fi; \
	exit $$status

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# The README's two charts, from a fresh quick run on this machine.
charts: build
	$(POOLBENCH) run --suite quick --quiet --out $(BUILD_DIR)/charts-run.json; \
	$(POOLBENCH) plot $(BUILD_DIR)/charts-run.json --chart latency,lifecycle --out docs/images

install: build
	cmake --install $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
