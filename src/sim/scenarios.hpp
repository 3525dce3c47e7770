// SPDX-License-Identifier: MIT
// Named, scripted conversations on the simulated network: `synack sim SCENARIO` and
// `synack demo` run these and draw their ladders.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "observe/ladder.hpp"
#include "sim/sim_pair.hpp"

namespace synack::sim {

struct ScenarioResult {
  bool ok = false;      // the scenario reached the end it scripts
  std::string summary;  // one line on what happened
  observe::Ladder ladder;
  State final_state[2] = {State::Closed, State::Closed};
  Counters counters[2];
};

struct Scenario {
  std::string name;
  std::string description;
  std::function<bool(SimPair&, std::string& summary)> body;
  // Makes a fresh drop filter for one run (lost-syn, ...), applied before any random loss.
  std::function<std::function<bool(const sim::PacketInfo&)>()> make_drop;
};

const std::vector<Scenario>& all_scenarios();
const Scenario* find_scenario(const std::string& name);

// Builds the pair from `options`, runs the scenario, returns the ladder and final states.
ScenarioResult run_scenario(const Scenario& scenario, const SimOptions& options);

}  // namespace synack::sim
