// SPDX-License-Identifier: MIT
// synack: a user-space TCP/IP stack you can watch at work.
#include <CLI/CLI.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"
#include "synack_build_info.hpp"  // generated at build time (cmake/build-info.cmake)

int main(int argc, char** argv) {
  CLI::App app{"synack — a user-space TCP/IP stack (RFC 9293) and tools to watch TCP at work"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("synack ") + SYNACK_BUILD_VERSION + " (commit " +
                                        SYNACK_BUILD_COMMIT + ")");
  synack::cli::register_demo(app);
  synack::cli::register_sim(app);
  synack::cli::register_soak(app);
  synack::cli::register_serve(app);
  synack::cli::register_connect(app);
  synack::cli::register_run(app);
  synack::cli::register_attach(app);
  synack::cli::register_slirp4netns(app);
  synack::cli::register_forward(app);
  synack::cli::register_diagram(app);
  synack::cli::register_status(app);
  synack::cli::register_decode(app);
  // Invoked as `slirp4netns` (the symlink /usr/libexec/synack/slirp4netns that podman's
  // network_cmd_path or rootlesskit's --slirp4netns-binary names): `synack slirp4netns ...`.
  std::vector<char*> args(argv, argv + argc);
  static char slirp4netns[] = "slirp4netns";
  if (std::string_view name = argv[0]; name.substr(name.rfind('/') + 1) == "slirp4netns") {
    args.insert(args.begin() + 1, slirp4netns);
    argc = static_cast<int>(args.size());
    argv = args.data();
  }
  // `synack run [OPTIONS] -- CMD [ARGS...]`: what follows the first "--" is CMD's alone and
  // never reaches the option parser (CMD's options must not be read as synack's).
  if (argc > 1 && std::string_view(argv[1]) == "run") {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) != "--") continue;
      synack::cli::run_command_line().assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }
  CLI11_PARSE(app, argc, argv);
  return synack::cli::exit_status();
}
