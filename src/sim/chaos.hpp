// SPDX-License-Identifier: MIT
// Seeded random hostile networks for the chaos tests and `synack soak`: one seed picks the
// faults, buffers, reader speed, directions and size, so any failure replays from its seed.
#pragma once

#include <cstdint>
#include <string>

#include "sim/bulk.hpp"

namespace synack::sim {

// Each seed's transfer must finish within this multiple of the path model's time (plus
// BulkOptions::budget_slack): docs/reliability.md says how it was chosen.
inline constexpr double kChaosBudgetFactor = 10;

BulkOptions chaos_options(std::uint64_t seed);
// One line describing what the seed chose, for failure reports.
std::string describe_chaos(const BulkOptions& options);

}  // namespace synack::sim
