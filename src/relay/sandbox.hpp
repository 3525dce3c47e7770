// SPDX-License-Identifier: MIT
// The child of `synack run`: the init of a new PID namespace, in a new network namespace (and
// a new user namespace when not root, as rootless container tools do; and a new mount
// namespace, so that its /etc/resolv.conf can name synack's resolver and /proc is its own),
// that creates and configures a TUN interface there, hands the descriptor to its parent over
// a Unix socket, waits for the parent's go, then starts the command as its only child: it
// passes on synack's signals, reaps orphans, and exits with the command's status, which ends
// whatever the command left running. The parent stays in the host's namespaces, where its relay
// sockets reach the host's network.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "os/netns.hpp"
#include "synack/expected.hpp"
#include "synack/tun_device.hpp"

namespace synack::relay {

struct SandboxConfig {
  std::vector<std::string> argv;               // the command; argv[0] looked up in PATH
  os::TunConfig tun;                           // created inside the namespace
  std::vector<os::InterfacePrefix> addresses;  // the command's addresses on the TUN
  std::vector<wire::IpAddress> gateways;       // synack's addresses: default routes via these
  std::string resolv_conf;                     // bind-mounted over /etc/resolv.conf when set
  // Forces a user namespace even as root (tests of the rootless path).
  bool user_namespace = false;
  // pasta's -T: TCP ports to listen on at the namespace's 127.0.0.1 (and ::1 when the
  // namespace has IPv6); the listening sockets are passed up (take_loopback_listeners()).
  std::vector<std::uint16_t> loopback_tcp_ports;
};

// A listening socket the child made on its loopback.
struct LoopbackListener {
  int fd = -1;
  std::uint16_t port = 0;
  bool ipv6 = false;
};

class Sandbox {
 public:
  // Forks the child and waits (at most 20 s) until its TUN is configured. Errors: a message
  // from the step that failed, in the child or here.
  static Expected<std::unique_ptr<Sandbox>, std::string> start(const SandboxConfig& config);
  // Kills the child (SIGKILL) if it is still running, and reaps it.
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // The TUN the child created (its first queue); once.
  std::unique_ptr<os::TunDevice> take_tun() { return std::move(tun_); }
  // Its other queues (SandboxConfig::tun.queues - 1 of them); once.
  std::vector<std::unique_ptr<os::TunDevice>> take_tun_queues() { return std::move(queues_); }
  // The -T listeners (ours to close); once.
  std::vector<LoopbackListener> take_loopback_listeners() { return std::move(listeners_); }
  // Lets the child execute the command.
  void release();
  pid_t pid() const { return pid_; }
  // Readable when the child has exited (pidfd), or -1 where pidfds are missing (kernel < 5.3).
  int exit_fd() const { return pidfd_; }
  // The command's exit status once it has exited (128 + N after signal N), else nullopt.
  std::optional<int> poll_exit();
  // Passes a signal on to the command (through the init).
  void signal(int sig) const;

 private:
  Sandbox() = default;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int control_fd_ = -1;  // our end of the socket pair
  std::unique_ptr<os::TunDevice> tun_;
  std::vector<std::unique_ptr<os::TunDevice>> queues_;
  std::vector<LoopbackListener> listeners_;
  std::optional<int> exit_status_;
  bool user_namespace_ = false;
  std::string resolv_file_;  // a temporary file, removed with us
};

}  // namespace synack::relay
