// SPDX-License-Identifier: MIT
// `synack run`'s namespace child: unshare, map ids, mount, create and configure the TUN, pass
// its descriptor up (SCM_RIGHTS), wait for the go, exec.
#include "relay/sandbox.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "os/fd_passing.hpp"

namespace synack::relay {
using namespace synack::os;
namespace {

constexpr int kSetupTimeoutMs = 20000;

// What the child reports once its TUN is ready (or why it is not).
struct ReadyMessage {
  char status = 0;  // 'L' a -T listener (its descriptor attached; more follow), 'Q' a further
                    // TUN queue (attached; more follow), 'R' ready (the TUN's first queue
                    // attached; the last), 'E' error
  bool vnet_hdr = false;
  bool ipv6 = false;       // 'L': on ::1
  std::uint16_t port = 0;  // 'L'
  unsigned mtu = 0;
  char name[16] = {};
  char error[400] = {};
};

[[noreturn]] void child_fail(int sock, const std::string& message) {
  ReadyMessage m;
  m.status = 'E';
  std::snprintf(m.error, sizeof m.error, "%s", message.c_str());
  (void)::send(sock, &m, sizeof m, MSG_NOSIGNAL);
  ::_exit(127);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
  return n == static_cast<ssize_t>(text.size());
}

// PID 1 of CMD's PID namespace: passes on the signals synack sends (an init receives only
// signals it handles), reaps orphans, and when CMD exits, exits with its status — which ends
// every other process of the namespace.
pid_t g_command = 0;

void forward_signal(int sig, siginfo_t* info, void*) {
  // From synack (kill(2) from outside), not from a terminal: those reach CMD directly.
  if (g_command > 0 && info && info->si_code == SI_USER) ::kill(g_command, sig);
}

constexpr int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

[[noreturn]] void run_init(pid_t command) {
  g_command = command;
  struct sigaction sa {};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : kForwardedSignals) ::sigaction(sig, &sa, nullptr);
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno == EINTR) continue;
      ::_exit(127);  // no children left (cannot happen before CMD's own exit)
    }
    if (done != command) continue;  // an orphan, reaped
    if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
    ::_exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  }
}

[[noreturn]] void child_main(const SandboxConfig& config, int sock, bool userns, uid_t uid,
                             gid_t gid, const std::string& resolv_file) {
  // Die with synack: a command left with a dead TUN would only hang. (As PID 1 of a new PID
  // namespace our parent is invisible — getppid() is 0 — so there is no race check to do.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent holds SIGINT/SIGTERM blocked and SIGPIPE ignored; the command gets defaults.
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM}) ::signal(sig, SIG_DFL);

  if (userns) {
    // Root inside, ourselves outside: one id each way (user_namespaces(7)).
    (void)write_file("/proc/self/setgroups", "deny");
    if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n"))
      child_fail(sock, errno_text("writing /proc/self/uid_map"));
    if (!write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n"))
      child_fail(sock, errno_text("writing /proc/self/gid_map"));
  }
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
    child_fail(sock, errno_text("unshare(net, mount namespaces)"));
  // Mounts made from here on stay in our mount namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    child_fail(sock, errno_text("making / a private mount"));
  if (!resolv_file.empty() && ::access("/etc/resolv.conf", F_OK) == 0 &&
      ::mount(resolv_file.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
    child_fail(sock, errno_text("bind-mounting /etc/resolv.conf"));
  // A sysfs of this namespace, as `ip netns exec` gives (tools list interfaces there). Not
  // essential: kept quiet when refused.
  (void)::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  // And a /proc of the new PID namespace (ps, /proc/self), as `unshare --mount-proc` gives.
  (void)::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);

  if (auto r = run_command({"ip", "link", "set", "lo", "up"}); !r) child_fail(sock, r.error());
  auto tun = TunDevice::open(config.tun);
  if (!tun) child_fail(sock, tun.error());
  // Every queue before the interface comes up, so that no flow is ever given one that is
  // not there yet.
  std::vector<std::unique_ptr<TunDevice>> queues;
  for (unsigned i = 1; i < config.tun.queues; ++i) {
    auto queue = (*tun)->open_queue();
    if (!queue) child_fail(sock, queue.error());
    queues.push_back(std::move(*queue));
  }
  KernelSideConfig kernel;
  kernel.ifname = (*tun)->name();
  kernel.mtu = config.tun.mtu;
  kernel.addresses = config.addresses;
  kernel.peers = config.gateways;
  kernel.default_via = config.gateways;
  if (auto r = configure_kernel_side(kernel); !r) child_fail(sock, r.error());

  // pasta's -T: listeners on this namespace's loopback, passed up before the TUN.
  const bool has_ipv6 = std::any_of(config.addresses.begin(), config.addresses.end(),
                                    [](const auto& a) { return !a.address.is_v4(); });
  for (std::uint16_t port : config.loopback_tcp_ports) {
    for (bool v6 : {false, true}) {
      if (v6 && !has_ipv6) continue;
      int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) child_fail(sock, errno_text("socket (-T)"));
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      int bound;
      if (v6) {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(port);
        sa.sin6_addr = in6addr_loopback;
        bound = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      } else {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bound = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      }
      // SOMAXCONN (the kernel caps it at net.core.somaxconn): CMD's clients may open
      // connections faster than one turn of the relay accepts them; with a backlog of 128,
      // wrk -c 1024 saw about a hundred of its connections time out (SYNs and handshake
      // ACKs dropped by the full accept queue, retried after 1 s; bench-usermode scaling).
      if (bound != 0 || ::listen(fd, SOMAXCONN) != 0)
        child_fail(sock, errno_text(("-T " + std::to_string(port) + ": listening").c_str()));
      ReadyMessage listener;
      listener.status = 'L';
      listener.ipv6 = v6;
      listener.port = port;
      if (!os::send_with_descriptor(sock, &listener, sizeof listener, fd)) ::_exit(1);
      ::close(fd);
    }
  }

  for (auto& queue : queues) {
    ReadyMessage m;
    m.status = 'Q';
    if (!os::send_with_descriptor(sock, &m, sizeof m, queue->fd())) ::_exit(1);
    ::close(queue->release());
  }
  ReadyMessage ready;
  ready.status = 'R';
  ready.vnet_hdr = (*tun)->offload();
  ready.mtu = (*tun)->mtu();
  std::snprintf(ready.name, sizeof ready.name, "%s", (*tun)->name().c_str());
  if (!os::send_with_descriptor(sock, &ready, sizeof ready, (*tun)->fd())) ::_exit(1);
  ::close((*tun)->release());  // the parent has its own copy now

  char go = 0;
  if (::read(sock, &go, 1) != 1) ::_exit(1);  // the parent gave up
  ::close(sock);
  pid_t command = ::fork();
  if (command < 0) {
    std::fprintf(stderr, "synack run: fork: %s\n", std::strerror(errno));
    ::_exit(126);
  }
  if (command > 0) run_init(command);
  std::vector<char*> args;
  for (const auto& a : config.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  int e = errno;
  std::fprintf(stderr, "synack run: %s: %s\n", args[0], std::strerror(e));
  ::_exit(e == ENOENT ? 127 : 126);  // the shell's convention
}

}  // namespace

Expected<std::unique_ptr<Sandbox>, std::string> Sandbox::start(const SandboxConfig& config) {
  if (config.argv.empty()) return Unexpected{std::string("no command given")};
  std::unique_ptr<Sandbox> box(new Sandbox());
  box->user_namespace_ = config.user_namespace || ::geteuid() != 0;
  if (!config.resolv_conf.empty()) {
    char path[] = "/tmp/synack-resolv-XXXXXX";
    int fd = ::mkstemp(path);
    if (fd < 0) return Unexpected{errno_text("creating a resolv.conf")};
    box->resolv_file_ = path;
    bool ok = ::write(fd, config.resolv_conf.data(), config.resolv_conf.size()) ==
              static_cast<ssize_t>(config.resolv_conf.size());
    ::fchmod(fd, 0644);
    ::close(fd);
    if (!ok) return Unexpected{errno_text("writing a resolv.conf")};
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Unexpected{errno_text("socketpair")};
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  // The child is the init (PID 1) of a new PID namespace, so that whatever CMD leaves
  // running dies with it. A raw clone() with no stack is a fork() into new namespaces; the
  // user namespace comes first where there is one, as creating the others needs it.
  const unsigned long clone_flags =
      CLONE_NEWPID | (box->user_namespace_ ? CLONE_NEWUSER : 0) | SIGCHLD;
  pid_t pid =
      static_cast<pid_t>(::syscall(SYS_clone, clone_flags, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0 && box->user_namespace_) {
    ::close(sv[0]);
    ::close(sv[1]);
    return Unexpected{errno_text("clone(user, pid namespaces)") +
                      " (are unprivileged user namespaces allowed?)"};
  }
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return Unexpected{errno_text("fork")};
  }
  if (pid == 0) {
    ::close(sv[0]);
    child_main(config, sv[1], box->user_namespace_, uid, gid, box->resolv_file_);
  }
  ::close(sv[1]);
  // The -T listeners come up as descriptors, two per port: as many as we are allowed (raised
  // after the fork, so CMD keeps its own limit; `synack run` raises it here anyway).
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  box->pid_ = pid;  // the init; CMD is its child
  box->control_fd_ = sv[0];
  box->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));

  ReadyMessage m;
  int fd = -1;
  // The further queues, closed here unless the set-up succeeds.
  struct QueueFds {
    std::vector<int> fds;
    ~QueueFds() {
      for (int q : fds) ::close(q);
    }
  } queue_fds;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kSetupTimeoutMs);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{sv[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    fd = -1;
    if (ready <= 0 || !os::receive_with_descriptor(sv[0], &m, sizeof m, &fd))
      return Unexpected{
          std::string("the namespace child did not report (setup timed out or it died)")};
    if (m.status == 'Q') {
      if (fd < 0) return Unexpected{std::string("the namespace child sent a queue without it")};
      queue_fds.fds.push_back(fd);  // adopted below, with the 'R' message's properties
      continue;
    }
    if (m.status != 'L') break;
    if (fd < 0) return Unexpected{std::string("the namespace child sent a -T listener without it")};
    box->listeners_.push_back(LoopbackListener{fd, m.port, m.ipv6});  // closed by the taker
  }
  if (m.status != 'R' || fd < 0) {
    if (fd >= 0) ::close(fd);
    m.error[sizeof m.error - 1] = 0;
    return Unexpected{std::string(m.error)};
  }
  m.name[sizeof m.name - 1] = 0;
  box->tun_ = TunDevice::adopt(fd, m.name, m.vnet_hdr, m.mtu);
  for (int q : queue_fds.fds)
    box->queues_.push_back(TunDevice::adopt(q, m.name, m.vnet_hdr, m.mtu));
  queue_fds.fds.clear();
  return box;
}

void Sandbox::release() {
  if (control_fd_ < 0) return;
  char go = 'g';
  (void)::write(control_fd_, &go, 1);
  ::close(control_fd_);
  control_fd_ = -1;
}

std::optional<int> Sandbox::poll_exit() {
  if (exit_status_) return exit_status_;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return std::nullopt;
  if (WIFEXITED(status))
    exit_status_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    exit_status_ = 128 + WTERMSIG(status);
  else
    return std::nullopt;
  return exit_status_;
}

void Sandbox::signal(int sig) const {
  if (pid_ > 0 && !exit_status_) ::kill(pid_, sig);
}

Sandbox::~Sandbox() {
  if (control_fd_ >= 0) ::close(control_fd_);  // a child still waiting for its go exits
  if (pid_ > 0 && !poll_exit()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  for (const auto& l : listeners_) ::close(l.fd);  // not taken
  if (!resolv_file_.empty()) ::unlink(resolv_file_.c_str());
}

}  // namespace synack::relay
