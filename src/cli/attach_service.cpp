// SPDX-License-Identifier: MIT
// serve_namespace: a TUN made inside the target namespace, the relay on our side of it.
#include "cli/attach_service.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>

#include "cli/forward_control.hpp"
#include "cli/forward_spec.hpp"
#include "cli/run_helpers.hpp"
#include "control/control_socket.hpp"
#include "os/netns_attach.hpp"
#include "relay/api_socket.hpp"
#include "relay/relay.hpp"
#include "synack/event_loop.hpp"

namespace synack::cli {
namespace {

constexpr int kFailed = 1;  // slirp4netns's EXIT_FAILURE

enum class End { Running, TargetExited, NamespaceEmpty, ExitFd, TunGone, Signal, CommandExited };

// How often a namespace given by PATH is checked for members.
constexpr Duration kMemberPoll = 1s;

}  // namespace

int serve_namespace(const AttachArgs& args) {
  // With a command (synack run --netns), 125 as synack run: not the command's status.
  const int failed = args.command.empty() ? kFailed : 125;
  auto fail = [&](const std::string& message) {
    std::cerr << args.who << ": " << message << "\n";
    return failed;
  };
  if (args.target.empty()) return fail("no namespace given (PID or PATH)");
  std::string error;
  auto addresses = parse_net_addresses(args.net, &error);
  if (!addresses) return fail(error);
  auto target = os::resolve_namespace(args.target, args.netns_type, args.userns_path);
  if (!target) return fail(target.error());

  relay::RelayConfig config;
  config.gateway = addresses->addr;
  config.gateway6 = addresses->addr6;
  config.guest = addresses->peer.address;
  if (addresses->peer6) config.guest6 = addresses->peer6->address;
  config.allow_host_loopback = args.allow_host_loopback;
  auto forwards = parse_forwards(args.forwards, args.tcp_ports, args.udp_ports);
  if (!forwards) return fail(forwards.error());
  config.forwards = std::move(*forwards);
  if (!args.disable_dns) {
    if (!args.dns.empty()) {
      config.dns_upstream = parse_endpoint(args.dns, 53);
      if (!config.dns_upstream) return fail("--dns: expected ADDR[:PORT], got " + args.dns);
    } else {
      config.dns_upstream = host_resolver();
    }
    config.dns_addresses = args.dns_addresses;
  }

  os::SignalGuard signals;
  os::AttachTunConfig tun_config;
  tun_config.target = *target;
  tun_config.tun.name = args.net.tun;
  tun_config.tun.mtu = args.net.mtu;
  tun_config.tun.offload = !args.net.no_offload;
  tun_config.configure = args.configure;
  tun_config.replace_tap = args.replace_tap;
  tun_config.addresses.push_back(addresses->peer);
  tun_config.gateways.push_back(addresses->addr);
  if (addresses->peer6) {
    tun_config.addresses.push_back(*addresses->peer6);
    tun_config.gateways.push_back(*addresses->addr6);
  }
  // The target's process, watched from before the TUN exists: its exit ends us.
  int pidfd = -1;
  if (target->pid) {
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, *target->pid, 0));
    if (pidfd < 0 && errno != ENOSYS) return fail("process " + args.target + " is gone");
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) ::close(fd);
    }
  } pidfd_closer{pidfd};
  auto tun = os::open_tun_in_namespace(tun_config);
  if (!tun) return fail(tun.error());

  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto env = NetEnvironment::adopt(args.net, std::move(*tun), true, &error);
  if (!env) return fail(error);
  auto& loop = env->loop();
  auto relay = relay::Relay::create(env->stack(), loop, config);
  if (!relay) return fail(relay.error());
  std::unique_ptr<relay::ApiSocket> api;
  if (!args.api_socket.empty()) {
    auto opened =
        relay::ApiSocket::open(loop, **relay, args.api_socket, config.guest, config.guest6, {});
    if (!opened) return fail(opened.error());
    api = std::move(*opened);
  }

  End end = End::Running;
  int end_signal = 0;
  auto stop = [&](End why) {
    if (end == End::Running) end = why;
    loop.stop();
  };
  if (pidfd >= 0)
    (void)loop.add_fd(pidfd, EPOLLIN, [&](std::uint32_t) { stop(End::TargetExited); });
  if (args.exit_fd >= 0) {
    // slirp4netns: the caller holds the write end; it closing (the caller exited) ends us.
    if (!loop.add_fd(args.exit_fd, EPOLLIN | EPOLLHUP, [&](std::uint32_t) { stop(End::ExitFd); }))
      return fail("--exit-fd " + std::to_string(args.exit_fd) + ": not a descriptor to wait on");
  }
  // A namespace given by PATH has no process to watch: it is served until its last process is
  // gone (once one has been seen: `ip netns add` makes it empty, its user comes later) or its
  // path is removed. Our TUN holds the namespace, so it would not vanish on its own.
  std::function<void()> watch_members;
  bool member_seen = false;
  if (!target->pid && args.command.empty()) {
    watch_members = [&] {
      auto members = os::namespace_has_processes(target->netns_path);
      if (members && *members) member_seen = true;
      if (!members || (member_seen && !*members)) {
        std::cerr << args.who << ": " << args.target
                  << (members ? ": its last process is gone" : ": the namespace is gone") << "\n";
        stop(End::NamespaceEmpty);
        return;
      }
      loop.call_at(loop.now() + kMemberPoll, watch_members);
    };
    loop.call_at(loop.now() + kMemberPoll, watch_members);
  }
  loop.on_tun_error([&](int e) {
    std::cerr << args.who << ": the TUN " << env->tun().name() << " is gone (" << std::strerror(e)
              << ")\n";
    stop(End::TunGone);
  });
  pid_t command = -1;
  int command_status = 0;
  int command_pidfd = -1;
  std::function<bool()> reap;          // the command has exited: its status, and stop
  std::function<void()> poll_command;  // without pidfds (kernel < 5.3): every 100 ms
  loop.on_signal([&](int sig, int code) {
    if (command > 0) {
      // The command decides what a signal means (as synack run); a terminal's Ctrl-C reached
      // it already.
      if (code != SI_KERNEL) ::kill(command, sig);
      return true;
    }
    end_signal = sig;
    stop(End::Signal);
    return true;
  });
  loop.on_socket_event([&](const SocketEvent& ev) { (*relay)->on_socket_event(ev); });
  auto control = control::ControlService::open(loop, env->stack(), "attach");
  if (control->server()) control->server()->set_request_handler(forward_request_handler(**relay));

  if (!args.pid_file.empty()) {
    std::ofstream out(args.pid_file);
    out << ::getpid() << "\n";
    if (!out) return fail("--pid-file: cannot write " + args.pid_file);
  }
  if (!args.command.empty()) {
    auto spawned = os::spawn_in_namespace(*target, args.command);
    if (!spawned) return fail(spawned.error());
    command = *spawned;
    command_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, command, 0));
    reap = [&] {
      int status = 0;
      if (::waitpid(command, &status, WNOHANG) != command) return false;
      command_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      stop(End::CommandExited);
      return true;
    };
    if (command_pidfd >= 0) {
      (void)loop.add_fd(command_pidfd, EPOLLIN, [&](std::uint32_t) { reap(); });
    } else {
      poll_command = [&] {
        if (!reap()) loop.call_at(loop.now() + 100ms, poll_command);
      };
      loop.call_at(loop.now() + 100ms, poll_command);
    }
  }
  if (args.ready_fd >= 0) {
    // As slirp4netns: "1" once the interface is configured and the API socket listens.
    (void)!::write(args.ready_fd, "1", 1);
    ::close(args.ready_fd);
  }
  loop.run();
  if (args.net.stats) {
    env->print_stats(std::cerr);
    print_relay_stats((*relay)->stats(), std::cerr);
  }
  api.reset();
  control.reset();  // its descriptors are registered with the loop `env` owns
  (*relay)->shutdown();
  loop.pump();  // the resets reach the namespace, if it is still there
  relay->reset();
  env.reset();
  if (!args.pid_file.empty()) ::unlink(args.pid_file.c_str());
  if (command_pidfd >= 0) ::close(command_pidfd);
  if (command > 0 && end != End::CommandExited) {
    // The namespace ended first (target gone, TUN deleted): the command goes with it.
    ::kill(command, SIGKILL);
    int status = 0;
    ::waitpid(command, &status, 0);
    return end == End::TunGone ? failed : 128 + SIGKILL;
  }
  if (end == End::CommandExited) return command_status;
  switch (end) {
    case End::TunGone:
      return kFailed;
    case End::Signal: {
      // What slirp4netns's caller sees: killed by the signal (it installs no handler).
      std::cout.flush();
      std::cerr.flush();
      ::signal(end_signal, SIG_DFL);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, end_signal);
      ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
      ::raise(end_signal);
      return 128 + end_signal;
    }
    default:
      return 0;
  }
}

}  // namespace synack::cli
