// SPDX-License-Identifier: MIT
// What `synack attach` and the slirp4netns front share: serve a network namespace that exists
// already, until the namespace's process exits, the exit fd closes, the TUN goes away or a
// signal arrives.
#pragma once

#include <string>
#include <vector>

#include "cli/net_options.hpp"
#include "wire/ip_address.hpp"

namespace synack::cli {

struct AttachArgs {
  std::string who = "synack attach";  // prefixes messages
  NetOptions net;                     // addr/peer (synack / the namespace), tun, mtu, traces
  std::string target;                 // PID or PATH
  std::string netns_type = "auto";    // auto, pid, path
  std::string userns_path;
  bool configure = true;     // addresses, routes, link up on the TUN (slirp4netns: --configure)
  bool replace_tap = false;  // see os::AttachTunConfig::replace_tap
  bool allow_host_loopback = false;
  std::vector<std::string> forwards;   // -p specs (cli/forward_spec.hpp)
  std::vector<std::string> tcp_ports;  // -t (pasta)
  std::vector<std::string> udp_ports;  // -u (pasta)
  std::string dns;                     // upstream ADDR[:PORT]; empty: the host's resolver
  bool disable_dns = false;
  std::vector<wire::IpAddress> dns_addresses;  // further resolver addresses (10.0.2.3)
  int ready_fd = -1;
  int exit_fd = -1;
  std::string pid_file;
  std::string api_socket;
  // `synack run --netns`: run this inside the namespace once it is served; its exit ends
  // synack with its status (128+N after signal N), and SIGINT/SIGTERM are passed on to it.
  std::vector<std::string> command;
};

// Exit status: with a command, the command's (125 when setting up failed); else 0 when the
// namespace's process exited or the exit fd closed; 1 when setting up failed or the TUN went away;
// after SIGINT/SIGTERM the signal is raised again once everything is cleaned up (so the caller sees
// what slirp4netns's would: killed by that signal).
int serve_namespace(const AttachArgs& args);

}  // namespace synack::cli
