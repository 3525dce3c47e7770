// SPDX-License-Identifier: MIT
// Namespaces and addresses through iproute2.
#include "os/netns.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace synack::os {
namespace {

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::vector<std::string> ip_command(const std::optional<std::string>& netns) {
  std::vector<std::string> argv{"ip"};
  if (netns) {
    argv.push_back("-n");
    argv.push_back(*netns);
  }
  return argv;
}

template <class... Args>
std::vector<std::string> with(std::vector<std::string> argv, Args&&... more) {
  (argv.push_back(std::forward<Args>(more)), ...);
  return argv;
}

}  // namespace

Expected<void, std::string> run_command(const std::vector<std::string>& argv, bool quiet) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The event loop blocks SIGINT/SIGTERM for its signalfd and ignores SIGPIPE; the child must
  // start with neither.
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  // Standard input and output are the application's data streams (`synack connect`).
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);

  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Unexpected{"cannot run " + argv[0] + ": " + std::strerror(rc)};
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Unexpected{join(argv) + ": waitpid: " + std::strerror(errno)};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status))
    return Unexpected{join(argv) + " failed (exit status " + std::to_string(WEXITSTATUS(status)) +
                      ")"};
  return Unexpected{join(argv) + " failed (signal " + std::to_string(WTERMSIG(status)) + ")"};
}

bool NetNamespace::exists(const std::string& name) {
  struct stat st;
  return ::stat(("/run/netns/" + name).c_str(), &st) == 0;
}

Expected<std::unique_ptr<NetNamespace>, std::string> NetNamespace::ensure(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return Unexpected{"bad namespace name '" + name + "'"};
  if (exists(name)) return std::unique_ptr<NetNamespace>(new NetNamespace(name, false));
  if (auto r = run_command({"ip", "netns", "add", name}); !r) return Unexpected{r.error()};
  return std::unique_ptr<NetNamespace>(new NetNamespace(name, true));
}

NetNamespace::~NetNamespace() {
  if (created_) (void)run_command({"ip", "netns", "delete", name_});
}

bool prefix_contains(const InterfacePrefix& p, const wire::IpAddress& a) {
  if (p.address.family != a.family) return false;
  unsigned bits = p.prefix;
  for (std::size_t i = 0; i < a.bytes.size() && bits > 0; ++i) {
    unsigned take = bits >= 8 ? 8 : bits;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - take));
    if ((p.address.bytes[i] & mask) != (a.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

Expected<void, std::string> move_interface(const std::string& ifname, const std::string& netns,
                                           const std::string& new_name) {
  if (auto r = run_command({"ip", "link", "set", "dev", ifname, "netns", netns}); !r)
    return Unexpected{r.error()};
  if (new_name != ifname) {
    if (auto r =
            run_command(with(ip_command(netns), "link", "set", "dev", ifname, "name", new_name));
        !r)
      return Unexpected{r.error()};
  }
  return {};
}

Expected<void, std::string> configure_kernel_side(const KernelSideConfig& config) {
  const auto ip = ip_command(config.netns);
  auto link = with(ip, "link", "set", "dev", config.ifname);
  if (config.mtu) link = with(link, "mtu", std::to_string(config.mtu));
  link.push_back("up");
  if (auto r = run_command(link); !r) return Unexpected{r.error()};
  for (const auto& a : config.addresses) {
    auto cmd = with(ip, a.address.is_v4() ? "-4" : "-6", "addr", "add",
                    a.address.to_string() + "/" + std::to_string(a.prefix), "dev", config.ifname);
    if (!a.address.is_v4()) cmd.push_back("nodad");
    if (auto r = run_command(cmd); !r) return Unexpected{r.error()};
  }
  for (const auto& peer : config.peers) {
    bool covered = false;
    for (const auto& a : config.addresses) covered = covered || prefix_contains(a, peer);
    if (covered) continue;
    auto cmd = with(ip, peer.is_v4() ? "-4" : "-6", "route", "add",
                    peer.to_string() + (peer.is_v4() ? "/32" : "/128"), "dev", config.ifname);
    if (auto r = run_command(cmd); !r) return Unexpected{r.error()};
  }
  for (const auto& gateway : config.default_via) {
    auto cmd = with(ip, gateway.is_v4() ? "-4" : "-6", "route", "add", "default", "via",
                    gateway.to_string(), "dev", config.ifname);
    if (auto r = run_command(cmd); !r) return Unexpected{r.error()};
  }
  return {};
}

}  // namespace synack::os
