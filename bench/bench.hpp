// SPDX-License-Identifier: MIT
// The benchmarks of synack-bench (bench.cpp): options and callback on a CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace synack::bench {

void register_bench(CLI::App& app);
int& exit_status();  // set by the callback; main() returns it

}  // namespace synack::bench
