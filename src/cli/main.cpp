// synack: a user-space TCP/IP stack you can watch at work.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"synack — a user-space TCP/IP stack (RFC 9293) and tools to watch TCP at work"};
  app.require_subcommand(1);
  synack::cli::register_demo(app);
  synack::cli::register_sim(app);
  synack::cli::register_soak(app);
  synack::cli::register_serve(app);
  synack::cli::register_connect(app);
  synack::cli::register_run(app);
  synack::cli::register_diagram(app);
  synack::cli::register_status(app);
  synack::cli::register_decode(app);
  synack::cli::register_bench(app);
  CLI11_PARSE(app, argc, argv);
  return synack::cli::exit_status();
}
