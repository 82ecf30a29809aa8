# dumpsterd - the two commands: `make run` and `make test`.
# Everything else is a helper of those two (see README).

BUILD     ?= build
BUILD_SAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS      ?= 2
CONF      ?= conf/dumpsterd.conf
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
FUZZ_TARGETS ?=
FUZZ_CORPUS_MAX ?= 1048576
FUZZ_CORPUS_FILES ?= 400
TORTURE_FAMILIES ?=

# Debian packages the build and the tests need.
DEB_PACKAGES = cmake make gcc clang pkg-config libevent-dev libsqlite3-dev libsodium-dev \
	libjansson-dev libcmocka-dev python3 sqlite3 swaks clang-format postfix \
	prometheus curl jq dovecot-core dovecot-lmtpd dovecot-sieve iproute2 \
	libssl-dev openssl libnet-ssleay-perl libio-socket-ssl-perl valgrind \
	libnats-dev nats-server
# make package, its lintian run and the CI job that installs it (pkg/).
DEB_PACKAGES += dpkg-dev file lintian systemd adduser man-db

.PHONY: all deps build asan run demo test test-unit test-asan fuzz fuzz-build fuzz-merge format clean bench torture
.PHONY: install package check-package docs

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDD_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

asan: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DDD_SANITIZE=ON -DDD_TESTS=ON >/dev/null
	cmake --build $(BUILD_SAN) -j$(JOBS)

run: build
	./$(BUILD)/dumpsterd -c $(CONF)

# Two hubs, two private Dovecots, a lossy failover healed (tests/demo/demo.py). As root.
demo: build
	DD_BUILD_DIR=$(BUILD) python3 tests/demo/demo.py

# Every test through ctest, then the same suite under ASan+UBSan.
test: build asan
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

fuzz-build: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DDD_FUZZ=ON -DDD_TESTS=OFF \
	  -DCMAKE_C_FLAGS='-fsanitize=fuzzer-no-link,address,undefined -g -O1' >/dev/null
	cmake --build $(BUILD_FUZZ) -j$(JOBS)

# Run every fuzz target for FUZZ_SECONDS each, or FUZZ_RUNS executions each
# (make fuzz FUZZ_RUNS=10000000), on the kept corpus tests/fuzz/corpus/NAME/ and
# a scratch one in build-fuzz/corpus-NAME/; prints executions and coverage per target.
# A crash (or a leak, or a timeout) fails the target: its log's tail is printed.
# make fuzz-merge folds what the runs found into tests/fuzz/corpus/ (-merge=1,
# at most FUZZ_CORPUS_MAX bytes and FUZZ_CORPUS_FILES files per target).
fuzz: fuzz-build
	python3 tests/fuzz/run.py --build $(BUILD_FUZZ) --seed --seconds $(FUZZ_SECONDS) \
	  $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	python3 tests/fuzz/run.py --build $(BUILD_FUZZ) --merge --max-bytes $(FUZZ_CORPUS_MAX) \
	  --max-files $(FUZZ_CORPUS_FILES) $(FUZZ_TARGETS)

# The long tests (tests/torture/run.py; README section 8): SIGKILL rounds, disk
# full, downstream faults, abuse, valgrind; each family bounded in time, 54 min in
# all at TORTURE_SCALE=1; the figures table goes to $(BUILD)/torture-figures.md.
# TORTURE_FAMILIES="sigkill abuse" runs some. As root (tmpfs mounts).
torture: build
	python3 tests/torture/run.py --build $(BUILD) $(TORTURE_FAMILIES)

# dumpsterd side by side with Postfix (tests/bench/run.py; BENCH_COUNT, BENCH_RUNS,
# BENCH_WORKLOADS=5k:20,..., BENCH_EXTRAS=latency,rss,startup,admin,resubmit). As root.
bench: build
	python3 tests/bench/run.py --dumpsterd $(BUILD)/dumpsterd throughput $$(echo "$$BENCH_EXTRAS" | tr , ' ')

# make install [PREFIX=/usr] [DESTDIR=...]: pkg/install.cmake says what goes where;
# an existing /etc/dumpsterd/dumpsterd.conf or directory.tsv is kept.
PREFIX    ?= /usr
BUILD_PKG ?= build-pkg
VERSION   := $(shell grep -o 'VERSION [0-9.]* LANGUAGES' CMakeLists.txt | cut -d' ' -f2)

install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# make package: $(BUILD_PKG)/dumpsterd_VERSION_ARCH.deb (CPack, pkg/package.cmake),
# built with Debian's hardening flags, then lintian on it.
package: deps
	CFLAGS="$$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS) $$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)" \
	  cmake -S . -B $(BUILD_PKG) -DCMAKE_BUILD_TYPE=None -DDD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	cmake --build $(BUILD_PKG) -j$(JOBS)
	cd $(BUILD_PKG) && cpack -G DEB
	lintian --info --display-info --pedantic $(BUILD_PKG)/dumpsterd_$(VERSION)_*.deb

# CI, as root: the package installed with dpkg, run, removed and purged
# (tests/pkg/package_ci.py).
check-package: package
	python3 tests/pkg/package_ci.py $(BUILD_PKG)/dumpsterd_$(VERSION)_$$(dpkg --print-architecture).deb

# README's configuration table and dumpsterd.conf(5)'s key list, from the
# parser's key table (tests/integration/test_docs.py fails when they drift).
docs: build
	python3 tests/tools/conf_docs.py --write $(BUILD)/confdoc

format:
	clang-format -i $$(git ls-files "*.c" "*.h")

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ) $(BUILD_PKG)
