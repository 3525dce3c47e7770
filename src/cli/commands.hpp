// SPDX-License-Identifier: MIT
// Each subcommand registers itself on the CLI11 app and returns the exit status via a
// callback. main.cpp wires them together.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace synack::cli {

// Set by a subcommand's callback; main() returns it.
int& exit_status();

void register_demo(CLI::App& app);
void register_sim(CLI::App& app);
void register_soak(CLI::App& app);
void register_serve(CLI::App& app);    // cmd_serve.cpp
void register_connect(CLI::App& app);  // cmd_connect.cpp
void register_run(CLI::App& app);      // cmd_run.cpp
// CMD and its arguments for `synack run`: main() moves everything after "--" here.
std::vector<std::string>& run_command_line();
void register_attach(CLI::App& app);       // cmd_attach.cpp
void register_slirp4netns(CLI::App& app);  // cmd_slirp4netns.cpp
void register_forward(CLI::App& app);      // cmd_forward.cpp
void register_diagram(CLI::App& app);      // cmd_diagram.cpp
void register_status(CLI::App& app);       // cmd_status.cpp: ss, stats
void register_decode(CLI::App& app);       // cmd_decode.cpp

}  // namespace synack::cli
