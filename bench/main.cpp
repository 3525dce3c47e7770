// SPDX-License-Identifier: MIT
// synack-bench: how fast and how small synack is, between two stacks in one process, and the
// kernel's TCP over loopback measured the same way (bench/run.sh runs it; docs/performance.md).
#include <CLI/CLI.hpp>

#include "bench/bench.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "synack-bench — throughput, connection rate and memory between two in-process "
      "stacks (bulk, connections, bulk_concurrent, connections_concurrent, "
      "memory_per_connection, million)"};
  synack::bench::register_bench(app);
  CLI11_PARSE(app, argc, argv);
  return synack::bench::exit_status();
}
