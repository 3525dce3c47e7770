// SPDX-License-Identifier: MIT
// `synack attach`'s helper child: setns into the target's user and network namespaces, make
// and configure the TUN there, pass its descriptor up, exit.
#include "os/netns_attach.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "os/fd_passing.hpp"

namespace synack::os {
namespace {

constexpr int kSetupTimeoutMs = 20000;

struct TunMessage {
  char status = 0;  // 'R' ready (a descriptor attached), 'E' error
  bool vnet_hdr = false;
  unsigned mtu = 0;
  char name[16] = {};
  char error[400] = {};
};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

[[noreturn]] void child_fail(int sock, const std::string& message) {
  TunMessage m;
  m.status = 'E';
  std::snprintf(m.error, sizeof m.error, "%s", message.c_str());
  (void)::send(sock, &m, sizeof m, MSG_NOSIGNAL);
  ::_exit(1);
}

// Whether `path` is the user namespace we are in already (setns(2) refuses to re-enter it).
bool is_own_user_namespace(int fd) {
  struct stat theirs {
  }, ours{};
  if (::fstat(fd, &theirs) != 0 || ::stat("/proc/self/ns/user", &ours) != 0) return false;
  return theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

[[noreturn]] void child_main(const AttachTunConfig& config, int sock) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  // Both opened before either is entered: after the user namespace, /proc paths may no
  // longer be ours to open.
  int userns = -1;
  if (!config.target.userns_path.empty()) {
    userns = ::open(config.target.userns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (userns < 0) child_fail(sock, errno_text("opening " + config.target.userns_path));
  }
  int netns = ::open(config.target.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (netns < 0) child_fail(sock, errno_text("opening " + config.target.netns_path));
  // user_namespaces(7): the owner of a user namespace holds every capability inside it,
  // which is what lets an unprivileged synack create a TUN in a rootless container's network
  // namespace (slirp4netns --userns-path does the same).
  if (userns >= 0 && !is_own_user_namespace(userns) && ::setns(userns, CLONE_NEWUSER) != 0)
    child_fail(sock, errno_text("entering the user namespace " + config.target.userns_path));
  if (::setns(netns, CLONE_NEWNET) != 0)
    child_fail(sock, errno_text("entering the network namespace " + config.target.netns_path) +
                         (::geteuid() != 0 && userns < 0 ? " (not root: give --userns-path)" : ""));
  auto tun = TunDevice::open(config.tun);
  if (!tun && config.replace_tap && run_command({"ip", "link", "show", config.tun.name}, true)) {
    // A persistent TAP of that name, made by the caller (rootlesskit's `ip tuntap add tap0
    // mode tap` for slirp4netns): TUNSETIFF refuses a TUN over it (EINVAL). synack serves
    // IP, not Ethernet: the TAP is replaced by a TUN of the same name, up as the TAP was;
    // the caller's configuration by name (addresses, routes) then applies to it.
    if (auto r = run_command({"ip", "link", "del", config.tun.name}); !r)
      child_fail(sock, tun.error() + "; and " + r.error());
    tun = TunDevice::open(config.tun);
    if (tun && !config.configure) {
      if (auto r = run_command({"ip", "link", "set", config.tun.name, "up"}); !r)
        child_fail(sock, r.error());
    }
  }
  if (!tun) child_fail(sock, tun.error());
  if (config.configure) {
    if (auto r = run_command({"ip", "link", "set", "lo", "up"}); !r) child_fail(sock, r.error());
    KernelSideConfig kernel;
    kernel.ifname = (*tun)->name();
    kernel.mtu = config.tun.mtu;
    kernel.addresses = config.addresses;
    kernel.peers = config.gateways;
    kernel.default_via = config.gateways;
    if (auto r = configure_kernel_side(kernel); !r) child_fail(sock, r.error());
  }
  TunMessage ready;
  ready.status = 'R';
  ready.vnet_hdr = (*tun)->offload();
  ready.mtu = (*tun)->mtu();
  std::snprintf(ready.name, sizeof ready.name, "%s", (*tun)->name().c_str());
  ::_exit(send_with_descriptor(sock, &ready, sizeof ready, (*tun)->fd()) ? 0 : 1);
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Expected<NamespaceTarget, std::string> resolve_namespace(const std::string& target,
                                                         const std::string& type,
                                                         const std::string& userns_path) {
  NamespaceTarget t;
  t.userns_path = userns_path;
  bool as_pid = type == "pid" || (type == "auto" && all_digits(target));
  if (type != "auto" && type != "pid" && type != "path")
    return Unexpected{"--netns-type: expected pid or path, got " + type};
  if (as_pid) {
    int pid = 0;
    auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), pid);
    if (ec != std::errc{} || end != target.data() + target.size() || pid <= 0)
      return Unexpected{"not a process id: " + target};
    t.pid = pid;
    t.netns_path = "/proc/" + target + "/ns/net";
    // Not root: the process's own user namespace is the one that owns its network namespace
    // (as for every rootless container); root needs none.
    if (t.userns_path.empty() && ::geteuid() != 0) t.userns_path = "/proc/" + target + "/ns/user";
  } else if (target.find('/') == std::string::npos) {
    t.netns_path = "/run/netns/" + target;  // a name given to `ip netns add`
  } else {
    t.netns_path = target;
  }
  struct stat st {};
  if (::stat(t.netns_path.c_str(), &st) != 0)
    return Unexpected{errno_text(t.pid ? "process " + target : t.netns_path)};
  return t;
}

Expected<std::unique_ptr<TunDevice>, std::string> open_tun_in_namespace(
    const AttachTunConfig& config) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Unexpected{errno_text("socketpair")};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return Unexpected{errno_text("fork")};
  }
  if (pid == 0) {
    ::close(sv[0]);
    child_main(config, sv[1]);
  }
  ::close(sv[1]);
  pollfd p{sv[0], POLLIN, 0};
  int ready = ::poll(&p, 1, kSetupTimeoutMs);
  TunMessage m;
  int fd = -1;
  bool got = ready > 0 && receive_with_descriptor(sv[0], &m, sizeof m, &fd);
  ::close(sv[0]);
  if (!got) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!got)
    return Unexpected{std::string("the namespace helper did not report (timed out or died)")};
  if (m.status != 'R' || fd < 0) {
    if (fd >= 0) ::close(fd);
    m.error[sizeof m.error - 1] = 0;
    return Unexpected{std::string(m.error)};
  }
  m.name[sizeof m.name - 1] = 0;
  return TunDevice::adopt(fd, m.name, m.vnet_hdr, m.mtu);
}

Expected<pid_t, std::string> spawn_in_namespace(const NamespaceTarget& target,
                                                const std::vector<std::string>& argv) {
  if (argv.empty()) return Unexpected{std::string("no command given")};
  pid_t pid = ::fork();
  if (pid < 0) return Unexpected{errno_text("fork")};
  if (pid > 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a command left without its network only hangs
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM}) ::signal(sig, SIG_DFL);
  auto die = [](const std::string& what) {
    std::fprintf(stderr, "synack run: %s: %s\n", what.c_str(), std::strerror(errno));
    ::_exit(126);
  };
  int userns = -1;
  if (!target.userns_path.empty()) {
    userns = ::open(target.userns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (userns < 0) die("opening " + target.userns_path);
  }
  int netns = ::open(target.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (netns < 0) die("opening " + target.netns_path);
  if (userns >= 0 && !is_own_user_namespace(userns) && ::setns(userns, CLONE_NEWUSER) != 0)
    die("entering " + target.userns_path);
  if (::setns(netns, CLONE_NEWNET) != 0) die("entering " + target.netns_path);
  ::close(netns);
  if (userns >= 0) ::close(userns);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  int e = errno;
  std::fprintf(stderr, "synack run: %s: %s\n", args[0], std::strerror(e));
  ::_exit(e == ENOENT ? 127 : 126);
}

std::optional<bool> namespace_has_processes(const std::string& netns_path) {
  struct stat ns {};
  if (::stat(netns_path.c_str(), &ns) != 0) return std::nullopt;
  DIR* proc = ::opendir("/proc");
  if (!proc) return std::nullopt;
  bool found = false;
  std::string path;
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;  // processes only
    path.assign("/proc/").append(entry->d_name).append("/ns/net");
    struct stat member {};
    if (::stat(path.c_str(), &member) == 0 && member.st_dev == ns.st_dev &&
        member.st_ino == ns.st_ino) {
      found = true;
      break;
    }
  }
  ::closedir(proc);
  return found;
}

}  // namespace synack::os
