# NIL — the two commands: `make run` and `make test`. Everything else is a building block.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD_DIR ?= build
TEST_BUILD_DIR ?= build-test
NIL_LISTEN ?= 127.0.0.1:8080
NIL_DATA_DIR ?= ./nil-data
PREFIX ?= /usr/local
# `make run` as root (a fresh development VM, CI): nild refuses root without --user, so say that
# root is intended here (docs/operations.md). As any other user this adds nothing.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: bootstrap build run cluster cluster-down test test-tsan fuzz lint format docs-settings bench install check-install clean

bootstrap:
	@scripts/bootstrap

# Release build of everything (nild, tests' helpers, benchmarks).
build: bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIL_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@echo "nild: log in as admin (password: NIL_ADMIN_PASSWORD, or the one printed below on the first start)," >&2
	@echo "      or get an API key: $(BUILD_DIR)/src/nild/nild keys create --user admin --data-dir $(NIL_DATA_DIR)" >&2
	@echo "      then: curl -H \"Authorization: Bearer nil_...\" http://$(NIL_LISTEN)/functions   (docs/security.md)" >&2
	$(BUILD_DIR)/src/nild/nild $(ALLOW_ROOT) --listen $(NIL_LISTEN) --data-dir $(NIL_DATA_DIR)

# A local cluster (docs/operations.md, "Cluster"): a throwaway PostgreSQL 15, three nilds and
# HAProxy on 127.0.0.1:$(NIL_CLUSTER_PORT) health-checking their /readyz. NIL_CLUSTER_STORE=sqlite:
# every node on one SQLite file instead. `make cluster-down` stops it; scripts/cluster status.
NIL_CLUSTER_PORT ?= 8088
cluster: build
	@NILD=$(BUILD_DIR)/src/nild/nild NIL_CLUSTER_PORT=$(NIL_CLUSTER_PORT) scripts/cluster up

cluster-down:
	@scripts/cluster down

# Test build: ASan + UBSan, debug assertions on, warnings are errors (NIL_WERROR: -Wall -Wextra
# must stay clean; CI runs this), then every suite (unit + integration against a real nild).
# -O1 -g1 halves the compile time of the Boost.Beast-heavy files against -O2 -g
# (measured: http_server.cpp 49 s vs 94 s of CPU) and keeps line numbers in sanitizer reports.
test: bootstrap
	@cmake -S . -B $(TEST_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DNIL_SANITIZE=ON -DNIL_WERROR=ON -DNIL_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(TEST_BUILD_DIR) -j $(JOBS)
	@cd $(TEST_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 600

# ThreadSanitizer build of the threaded suites (engine, invoke, store, host, auth, and the
# integration binaries: their nilds are TSan builds too). ctest labels are the test binaries'
# names (tests/CMakeLists.txt); only these binaries (and nild) are built. Reports of every process
# (test binaries, the nilds they start) go to $(TSAN_BUILD_DIR)/tsan-reports/: any race,
# lock-order inversion or other TSan warning there fails the target even when no test noticed.
# TSAN_EXCLUDE: native-tier tests TSan cannot run as meant (docs/operations.md, "Testing").
# Not part of `make test`. Measured on the shared 2-core machine (load 10+): the build from scratch
# ~45 min (nothing in ccache for TSan; only nild and these 7 binaries), the tests ~8-10 min
# (396 tests, 616 s wall including one 300 s hang since excluded).
TSAN_BUILD_DIR ?= build-tsan
TSAN_SUITES ?= engine_test|invoke_test|store_test|host_test|auth_test|integration_test|integration_security_test
TSAN_EXCLUDE ?= NativeTest\.(AThousandTimeoutsLeaveTheThreadHealthy|ManyThreadsTrappingAtOnceAffectNoOneElse|ASmallThreadStackStillServesHostCallsAndTrapsDeepRecursion|ThreadsThatEndReleaseTheirReservations)$$|GuestLimits\.RepeatedTimeoutsAndTrapsLeaveTheEngineHealthy$$|OffloadTest\.HealthzAnswersWhileSlowFirstCallsRun$$|(InfiniteLoopTimesOutAndTheNextInvokeWorks|TenMillisecondTimeoutIsHonoured|RecursionWithoutLoopsTimesOut|ConcurrentInvocations|LoopOfLargeBulkMemoryTimesOut)/.native.$$
test-tsan: bootstrap
	@cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DNIL_TSAN=ON -DNIL_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target nild $(subst |, ,$(TSAN_SUITES))
	@rm -rf $(TSAN_BUILD_DIR)/tsan-reports && mkdir -p $(TSAN_BUILD_DIR)/tsan-reports
	@cd $(TSAN_BUILD_DIR) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp log_path=$(abspath $(TSAN_BUILD_DIR))/tsan-reports/tsan" \
		ctest --output-on-failure -j $(JOBS) --timeout 900 -L '^($(TSAN_SUITES))$$' -E '$(TSAN_EXCLUDE)'; rc=$$?; \
		reports=$$(grep -l 'WARNING: ThreadSanitizer' tsan-reports/* 2>/dev/null); \
		if [ -n "$$reports" ]; then cat $$reports; echo "ThreadSanitizer reports: $$reports" >&2; exit 1; fi; exit $$rc

# libFuzzer (clang-16) on every fuzz target for FUZZ_SECONDS each (default 600); new inputs that
# reach new coverage are added to a scratch corpus, crashes are written to build-fuzz/crashes/.
FUZZ_SECONDS ?= 600
fuzz: bootstrap
	@scripts/fuzz $(FUZZ_SECONDS)

# Formatting and static analysis: clang-format-16 must leave every file unchanged and
# clang-tidy-16 (.clang-tidy) must be clean on src/. .ci/run runs this.
lint: bootstrap
	@scripts/lint

# Regenerates the settings table of docs/operations.md from nild (`nild --settings-markdown`, the
# settings of src/nild/settings.h); ctest's settings_doc_test fails when they differ. Builds only
# nild (release, BUILD_DIR); NILD=path/to/nild uses an existing one instead.
NILD ?=
docs-settings:
	@if [ -z "$(NILD)" ]; then \
		cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIL_BUILD_TESTS=OFF >/dev/null && \
		cmake --build $(BUILD_DIR) -j $(JOBS) --target nild; fi
	@scripts/docs-settings $(or $(NILD),$(BUILD_DIR)/src/nild/nild) docs/operations.md

# Formats every C++ file in place (clang-format-16, .clang-format).
format:
	@git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'bench/*.h' | xargs clang-format-16 -i

# Installs nild, nil, the SDKs and the AssemblyScript compile worker (with its node_modules) under
# PREFIX (default /usr/local; DESTDIR is honoured): PREFIX/bin/nild then needs no source tree.
# A Debian package instead: `cd build && cpack -G DEB` (docs/operations.md).
install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The Debian package end to end (not part of `make test`: it needs a release build): release
# build in BUILD_DIR, `cpack -G DEB`, its metadata, then nild and nil run from the extracted
# package (dpkg -x, nothing installed) deploy and invoke one function per language, on both tiers.
check-install: bootstrap
	@scripts/check-install $(BUILD_DIR)

bench: build
	@bench/run $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(TEST_BUILD_DIR)
