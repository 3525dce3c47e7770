# SPDX-License-Identifier: MIT
# The commands the README tells people to run. Each installs what it needs from Debian.
#   make demo   build (Release) and watch a TCP connection on the simulated network
#   make test   build with ASan+UBSan and run the whole suite through ctest
#   make build  Release build only; the tool is build/synack
#   make packetdrill-shim  build/packetdrill/libsynack_packetdrill.so (Release), packetdrill's
#               --so_filename object; `ctest --test-dir build -L packetdrill` runs the scripts

SHELL := /bin/bash
# Build dependencies (Debian 12 package names).
BUILD_DEPS := cmake ninja-build g++ clang pkg-config libgtest-dev libgmock-dev libpcap-dev libcli11-dev \
  nlohmann-json3-dev libssl-dev libgraphviz-dev
# Tools the tests drive: tshark checks captures, graphviz/rsvg render pictures,
# iproute2/netcat/curl/python3 are the kernel-side peers of the interop tests.
TEST_DEPS := clang-format clang-tidy nftables tshark graphviz librsvg2-bin iproute2 iputils-ping curl netcat-openbsd python3 tcpdump podman rootlesskit uidmap busybox-static
JOBS ?= $(shell nproc)

.PHONY: tidy demo test build packetdrill-shim packetdrill-test packetdrill-ubsan-test bench bench-deps bench-usermode bench-usermode-deps deps test-deps fuzz docs clean format

demo: build
	./build/synack demo

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

# packetdrill's shared-object shim (src/packetdrill). Release: an ASan build cannot be
# dlopen()ed with RTLD_DEEPBIND.
packetdrill-shim: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target synack_packetdrill

# Two jobs run in the background at idle priority (SCHED_IDLE), so that they take only the CPU
# the foreground leaves: clang-tidy (ctest -L tidy, about 480 CPU-seconds, nearly half of the
# ASan suite's) from the end of the ASan suite, and the fuzzers (a clang build, then each for a
# fixed number of inputs, FUZZ_COUNTED) from the end of the package tests, when the packetdrill
# suite begins to wait out the kernel's real timers and leaves the CPUs idle. Counted inputs,
# not seconds: a fuzzer sharing the CPU still does its share of work (it only takes longer,
# FUZZ_SECONDS at most). Their logs: build-asan/tidy.log and build-asan/fuzz.log, printed when
# they fail. (The suite runs without --preset: ctest 3.25 lets a preset's label filter win over
# -LE on the command line.)
test: deps test-deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --test-dir build-asan -LE 'packetdrill|package|tidy' --output-on-failure -j $(JOBS) --timeout 900
	@chrt --idle 0 ctest --preset asan -L tidy >build-asan/tidy.log 2>&1 & tidy=$$!; \
	rc=0; fuzz=; \
	if $(MAKE) --no-print-directory package-test; then \
	  chrt --idle 0 $(MAKE) --no-print-directory fuzz FUZZ_COUNTED=1 \
	    FUZZ_SECONDS=$${FUZZ_SECONDS:-180} >build-asan/fuzz.log 2>&1 & fuzz=$$!; \
	  $(MAKE) --no-print-directory packetdrill-ubsan-test || rc=$$?; \
	else rc=1; fi; \
	if [ -n "$$fuzz" ]; then \
	  echo "waiting for the fuzzers (build-asan/fuzz.log)"; \
	  if wait $$fuzz; then grep -E '^fuzzing|Done' build-asan/fuzz.log; else cat build-asan/fuzz.log; rc=1; fi; \
	fi; \
	echo "waiting for clang-tidy (ctest -L tidy, build-asan/tidy.log)"; \
	if wait $$tidy; then tail -3 build-asan/tidy.log; else cat build-asan/tidy.log; rc=1; fi; \
	exit $$rc

# The packetdrill suite against Linux and against synack (the shim is a Release object: an ASan
# build cannot be dlopen()ed by packetdrill). Needs root; skips with a message otherwise.
# Four at a time, but the runs against Linux one at a time (they disturb each other's timing;
# tests/packetdrill/CMakeLists.txt), the long ones first (the kernel's SYN retries run over two
# minutes of real time on almost no CPU); the runs against synack fill the other slots.
packetdrill-test: packetdrill-shim
	ctest --test-dir build -L packetdrill --output-on-failure -j 4

# The same scripts against a shim built with UBSan (tests/packetdrill/run-ubsan.sh): the shim's
# teardown and error paths under the sanitizer an RTLD_DEEPBIND dlopen() allows.
packetdrill-ubsan-test: packetdrill-test
	cmake -S . -B build-ubsan-shim -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
	  -DCMAKE_CXX_FLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" >/dev/null
	cmake --build build-ubsan-shim -j $(JOBS) --target synack_packetdrill
	./tests/packetdrill/run-ubsan.sh build/packetdrill/packetdrill \
	  build-ubsan-shim/packetdrill/libsynack_packetdrill.so; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ]

# synack's benchmarks and the kernel's TCP over loopback (iperf3) side by side, and the same
# work over 1, 100 and 10,000 concurrent connections; writes docs/performance.md and its curves
# docs/pictures/bench-inmemory-*.svg (bench/run.sh, bench/plot.sh: gnuplot).
bench: build bench-deps
	./bench/run.sh

bench-deps:
	$(call ensure_packages,iperf3 gnuplot-nox)

# Throughput between synack on a TUN and the kernel, both ways, MTU 1500/65520, offloads on/off,
# beside the kernel over veth (bench/tun.sh; root). Writes its section of docs/performance.md.
.PHONY: bench-tun
bench-tun: build bench-deps
	./bench/tun.sh

# Completion times under loss, synack beside the kernel (CUBIC, and BBR for reference): a client
# namespace, a router namespace, packets dropped both ways (nftables: the router's forward hook
# towards the servers, the client's ingress towards it), offloads off on every veth; then the
# simulator at 1, 25 and 100 ms RTT (bench/loss.sh; root). Writes its section of
# docs/performance.md and docs/pictures/bench-loss.svg.
# A smaller matrix: LOSSES="0 5 10" SIZES=2097152 RUNS=3 make bench-loss
LOSS_BENCH_DEPS := nftables ethtool iproute2 iputils-ping python3 gnuplot-nox
.PHONY: bench-loss bench-loss-deps
bench-loss: build bench-loss-deps
	./bench/loss.sh

bench-loss-deps:
	$(call ensure_packages,$(LOSS_BENCH_DEPS))

# User-mode networking side by side: veth, slirp4netns, pasta and `synack run`, a client in a
# namespace and servers on host loopback (bench/usermode.sh; root), then the scaling curves at
# MTU 65520 (iperf3 -P 1/4/16/64, wrk -c 16/256/1024). Writes its sections of
# docs/performance.md and docs/pictures/bench-usermode-*.svg. The curves alone:
# PHASES=scaling make bench-usermode (SCALING_SECONDS=1 for a quick check).
USERMODE_BENCH_DEPS := slirp4netns passt iperf3 wrk nginx redis-server redis-tools iproute2 python3 gnuplot-nox
bench-usermode: build bench-usermode-deps
	./bench/usermode.sh

bench-usermode-deps:
	$(call ensure_packages,$(USERMODE_BENCH_DEPS))

# Installs missing packages with apt-get when root; otherwise prints the line to run.
define ensure_packages
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing packages; run as root:"; \
	    echo "  sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	fi
endef

deps:
	$(call ensure_packages,$(BUILD_DEPS))

test-deps:
	$(call ensure_packages,$(TEST_DEPS))

# libFuzzer targets (clang); each runs for FUZZ_SECONDS from the seed corpus. With
# FUZZ_COUNTED=1 each runs its number of inputs below (about three quarters of what it does
# in 30 s on an idle 2-CPU AMD EPYC VM), FUZZ_SECONDS at most: `make test` uses this.
FUZZ_SECONDS ?= 60
FUZZ_COUNTED ?=
FUZZ_INPUTS = fuzz_wire_roundtrip:1500000 fuzz_stack_input:150000 fuzz_connection:30000
fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS) --target fuzz_wire_roundtrip fuzz_stack_input fuzz_connection
	@for fi in $(FUZZ_INPUTS); do \
	  f=$${fi%%:*}; runs=; \
	  mkdir -p build-fuzz/corpus-$$f; \
	  if [ -n "$(FUZZ_COUNTED)" ]; then \
	    runs=-runs=$${fi#*:}; echo "fuzzing $$f for $${fi#*:} inputs, $(FUZZ_SECONDS)s at most"; \
	  else echo "fuzzing $$f for $(FUZZ_SECONDS)s"; fi; \
	  ./build-fuzz/fuzz/$$f $$runs -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build-fuzz/corpus-$$f fuzz/corpus/$$f >build-fuzz/$$f.log 2>&1; rc=$$?; \
	  grep -E '^Done|^stat::(number_of_executed_units|average_exec_per_sec)' build-fuzz/$$f.log; \
	  if [ $$rc -ne 0 ]; then tail -80 build-fuzz/$$f.log; exit 1; fi; \
	done

docs: build
	./docs/make-pictures.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	./tools/check-format.sh

# clang-tidy over src/ and bench/ (.clang-tidy; tools/check-tidy.sh); the tree is clean under it.
# `make test` runs the same check as ctest shards (structure_tidy_*, label tidy) over build-asan;
# this target runs it whole over the release build, all cores at once.
tidy: build
	$(call ensure_packages,clang-tidy)
	cmake --preset release >/dev/null
	JOBS=$(JOBS) ./tools/check-tidy.sh build

clean:
	rm -rf build build-asan build-fuzz build-ubsan-shim

# --- synack as a package (issue 15; cmake/package.cmake, packaging/) ---
# make install PREFIX=/opt/synack   the command, libraries (static and shared), headers, CMake
#                                   and pkg-config files, man pages, completion (default /usr/local)
# make deb                          build-deb/deb/synack_<version>_<arch>.deb and libsynack-dev_...
# make api-docs                     Doxygen over include/synack: build/api-docs/html/index.html
# make package-test                 ctest -L package: install-and-build-the-examples, the .debs
PREFIX ?= /usr/local
PACKAGE_DEPS := help2man doxygen lintian pkg-config dpkg-dev
.PHONY: install deb api-docs package-test package-deps

package-deps:
	$(call ensure_packages,$(PACKAGE_DEPS))

install: deps package-deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target all
	cmake --install build --prefix $(PREFIX)

deb: deps package-deps
	cmake -S . -B build-deb -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNACK_TESTS=OFF \
	  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	cmake --build build-deb -j $(JOBS)
	cd build-deb && cpack -G DEB
	@ls -l build-deb/deb/*.deb

api-docs: package-deps
	cmake --preset release >/dev/null
	cmake --build --preset release --target api-docs

# Builds only what the install rules take (the package-parts target), not the Release test suite.
package-test: deps package-deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target package-parts
	ctest --preset release -L package
