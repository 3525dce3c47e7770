// SPDX-License-Identifier: MIT
// `synack connect HOST PORT`: netcat over synack's TCP through a TUN device. Standard input
// goes to the connection, the connection to standard output; EOF on input half-closes
// (shutdown_write); the command ends when the peer has closed, everything it sent is written
// out, and our own data and FIN are acknowledged.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/net_options.hpp"
#include "control/control_socket.hpp"
#include "synack/event_loop.hpp"

namespace synack::cli {
using namespace synack::control;
using namespace synack::os;
namespace {

// Exit statuses, documented in --help.
constexpr int kExitOk = 0;
constexpr int kExitLocalError = 1;
constexpr int kExitRefused = 2;
constexpr int kExitReset = 3;
constexpr int kExitTimedOut = 4;
constexpr int kExitUnreachable = 5;
constexpr int kExitInterrupted = 6;

constexpr std::size_t kChunk = 64 * 1024;

struct ConnectArgs {
  NetOptions net;
  std::string host;
  std::uint16_t port = 0;
  double timeout = 0;
  bool verbose = false;
};

int exit_code_for(Error e) {
  switch (e) {
    case Error::ConnectionRefused:
      return kExitRefused;
    case Error::ConnectionReset:
      return kExitReset;
    case Error::TimedOut:
      return kExitTimedOut;
    case Error::Unreachable:
      return kExitUnreachable;
    default:
      return kExitLocalError;
  }
}

// Standard input or output, made non-blocking for the run (and put back after). Descriptors
// epoll cannot watch (regular files, /dev/null) are treated as always ready.
class StdStream {
 public:
  explicit StdStream(int fd) : fd_(fd) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
      pollable_ = false;
      return;
    }
    saved_flags_ = ::fcntl(fd_, F_GETFL);
    if (saved_flags_ >= 0) ::fcntl(fd_, F_SETFL, saved_flags_ | O_NONBLOCK);
  }
  ~StdStream() {
    if (saved_flags_ >= 0) ::fcntl(fd_, F_SETFL, saved_flags_);
  }
  StdStream(const StdStream&) = delete;
  StdStream& operator=(const StdStream&) = delete;

  int fd() const { return fd_; }
  bool pollable() const { return pollable_; }
  void set_unpollable() { pollable_ = false; }

 private:
  int fd_;
  int saved_flags_ = -1;
  bool pollable_ = true;
};

class Netcat {
 public:
  Netcat(NetEnvironment& env, const ConnectArgs& args)
      : stack_(env.stack()),
        loop_(env.loop()),
        verbose_(args.verbose),
        in_(STDIN_FILENO),
        out_(STDOUT_FILENO),
        up_(kChunk),
        down_(kChunk) {}

  // Errors: the stack's error for connect().
  Expected<void, Error> start(const wire::Endpoint& remote, double timeout_seconds) {
    remote_ = remote.to_string();
    auto id = stack_.connect(remote, loop_.now());
    if (!id) return Unexpected{id.error()};
    id_ = *id;
    stdin_ready_ = !in_.pollable();
    stdout_ready_ = true;
    if (timeout_seconds > 0) {
      auto at = loop_.now() + Duration(static_cast<std::int64_t>(timeout_seconds * 1e6));
      timer_ = loop_.call_at(at, [this] {
        timer_.reset();
        if (connected_ || finished_) return;
        // Failures are reported whether or not --verbose, as nc does.
        std::cerr << "synack connect: " << remote_ << ": " << to_string(Error::TimedOut) << "\n";
        (void)stack_.abort(id_, loop_.now());
        finish(kExitTimedOut, false);
      });
    }
    return {};
  }

  void on_event(const SocketEvent& ev) {
    if (ev.is_listener || ev.handle != id_ || finished_) return;
    if (ev.events & tcp::event::Connected) {
      connected_ = true;
      if (timer_) loop_.cancel_timer(*timer_);
      timer_.reset();
      if (verbose_) {
        for (const auto& c : stack_.connections())
          if (c.id == id_)
            std::cerr << "synack connect: connected " << c.local.to_string() << " -> "
                      << c.remote.to_string() << "\n";
      }
    }
    if (ev.events & tcp::event::Reset) {
      failure_ = stack_.connection_error(id_).value_or(Error::ConnectionReset);
    }
    pump();
  }

  // The loop's shutdown hook: a signal, or our own finish().
  void on_shutdown() {
    if (!finished_) finish(kExitInterrupted, true);
  }

  int exit_code() const { return code_; }

 private:
  void pump() {
    if (finished_) return;
    if (failure_) {
      pump_down();
      if (!finished_) maybe_report_failure();
      update_interest();
      return;
    }
    pump_down();
    if (!finished_) pump_up();
    if (!finished_) maybe_done();
    update_interest();
  }

  // Done when the peer has closed and everything it sent is written out, and our direction is
  // finished too: standard input ended, and our data and FIN are acknowledged. A peer's
  // half-close must not cut our upload short. (With a terminal on standard input, the peer's
  // close ends the session, as with nc.)
  void maybe_done() {
    if (!peer_eof_ || down_begin_ < down_end_) return;
    if (interactive_ && !write_shut_) {
      finish(kExitOk, true);
      return;
    }
    if (!write_shut_) return;
    auto state = stack_.state(id_);
    if (!state || *state == State::TimeWait || *state == State::Closed) {
      finish(kExitOk, true);
      return;
    }
    // LAST-ACK or CLOSING: our FIN is not acknowledged yet; no event marks that moment, so look
    // again shortly. The stack's retransmission limit bounds the wait (a Reset event).
    if (!drain_timer_) {
      drain_timer_ = loop_.call_at(loop_.now() + 5ms, [this] {
        drain_timer_.reset();
        pump();
      });
    }
  }

  // The connection failed (a RST, or the retransmission limit). What it received before is
  // written out first and the failure reported after it, as Linux's recv() returns queued data
  // before ECONNRESET (tcp_recvmsg() reads the receive queue before it looks at sk_err).
  // RFC 9293 §3.10.7.4 says the queues "should be flushed"; we keep what the peer sent and
  // we acknowledged, which a reader of the stream expects to see.
  void maybe_report_failure() {
    if (down_begin_ < down_end_) return;                     // standard output is still taking it
    if (connected_ && !receive_done_ && !peer_eof_) return;  // the stack holds received bytes
    std::cerr << "synack connect: " << remote_ << ": " << to_string(*failure_) << "\n";
    finish(exit_code_for(*failure_), true);
  }

  // Connection -> standard output.
  void pump_down() {
    while (!finished_) {
      if (down_begin_ < down_end_) {
        if (!stdout_ready_) return;
        ssize_t n = ::write(out_.fd(), down_.data() + down_begin_, down_end_ - down_begin_);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            stdout_ready_ = !out_.pollable();
            return;
          }
          if (errno == EINTR) continue;
          std::cerr << "synack connect: write to standard output: " << std::strerror(errno) << "\n";
          finish(kExitLocalError, true);
          return;
        }
        down_begin_ += static_cast<std::size_t>(n);
        if (down_begin_ < down_end_) continue;
        down_begin_ = down_end_ = 0;
      }
      if (peer_eof_) return;  // all the peer sent is written out
      if (!connected_) return;
      auto got = stack_.receive(id_, down_, loop_.now());
      if (!got) {
        // WouldBlock; a failure (also announced by a Reset event) once all is read
        if (got.error() != Error::WouldBlock) receive_done_ = true;
        return;
      }
      if (*got == 0) {
        peer_eof_ = true;
        if (verbose_) std::cerr << "synack connect: peer closed\n";
        continue;
      }
      down_end_ = *got;
    }
  }

  // Standard input -> connection.
  void pump_up() {
    while (connected_ && !write_shut_ && !finished_) {
      if (up_begin_ < up_end_) {
        auto sent =
            stack_.send(id_, std::span(up_).subspan(up_begin_, up_end_ - up_begin_), loop_.now());
        if (!sent) return;  // WouldBlock: the Writable event brings us back
        up_begin_ += *sent;
        if (up_begin_ < up_end_) return;
        up_begin_ = up_end_ = 0;
      }
      if (stdin_eof_) {
        (void)stack_.shutdown_write(id_, loop_.now());  // our FIN after the data
        write_shut_ = true;
        return;
      }
      if (!stdin_ready_) return;
      ssize_t n = ::read(in_.fd(), up_.data(), up_.size());
      if (n > 0) {
        up_end_ = static_cast<std::size_t>(n);
      } else if (n == 0) {
        stdin_eof_ = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        stdin_ready_ = !in_.pollable();
        return;
      } else if (errno != EINTR) {
        std::cerr << "synack connect: read from standard input: " << std::strerror(errno) << "\n";
        stdin_eof_ = true;
      }
    }
  }

  // Level-triggered epoll: watch a stream only while we wait for it.
  void update_interest() {
    bool want_in = !finished_ && in_.pollable() && connected_ && !stdin_eof_ && !stdin_ready_;
    bool want_out = !finished_ && out_.pollable() && !stdout_ready_;
    watch(in_, EPOLLIN, want_in, watching_in_, [this] { stdin_ready_ = true; });
    watch(out_, EPOLLOUT, want_out, watching_out_, [this] { stdout_ready_ = true; });
  }

  template <class F>
  void watch(StdStream& s, std::uint32_t events, bool want, bool& watching, F on_ready) {
    if (want == watching) return;
    if (!want) {
      loop_.remove_fd(s.fd());
      watching = false;
      return;
    }
    auto r = loop_.add_fd(s.fd(), events, [this, on_ready](std::uint32_t) {
      on_ready();
      pump();
    });
    if (r) {
      watching = true;
    } else {
      // EPERM: epoll cannot watch it (a regular file, /dev/null): always ready.
      s.set_unpollable();
      on_ready();
      pump();
    }
  }

  void finish(int code, bool close) {
    if (finished_) return;
    finished_ = true;
    if (drain_timer_) loop_.cancel_timer(*drain_timer_);
    drain_timer_.reset();
    code_ = code;
    if (close) (void)stack_.close(id_, loop_.now());
    update_interest();
    loop_.shutdown();
  }

  Stack& stack_;
  os::EventLoop& loop_;
  bool verbose_;
  StdStream in_, out_;
  bool interactive_ = ::isatty(STDIN_FILENO) == 1;
  std::optional<os::EventLoop::TimerId> drain_timer_;
  std::optional<Error> failure_;  // the connection failed: report it once the data is out
  bool receive_done_ = false;     // receive() has failed: nothing more to read
  ConnectionId id_ = 0;
  std::string remote_;  // for messages
  std::optional<os::EventLoop::TimerId> timer_;
  bool connected_ = false, finished_ = false, peer_eof_ = false, write_shut_ = false;
  bool stdin_ready_ = false, stdin_eof_ = false, stdout_ready_ = true;
  bool watching_in_ = false, watching_out_ = false;
  int code_ = kExitOk;
  std::vector<std::byte> up_, down_;
  std::size_t up_begin_ = 0, up_end_ = 0, down_begin_ = 0, down_end_ = 0;
};

int run_connect(const ConnectArgs& args) {
  auto host = wire::IpAddress::parse(args.host);
  if (!host) {
    std::cerr << "synack connect: not an IP address: " << args.host << "\n";
    return kExitLocalError;
  }
  std::string error;
  auto env = NetEnvironment::create(args.net, "synack connect", &error);
  if (!env) {
    std::cerr << "synack connect: " << error << "\n";
    return kExitLocalError;
  }
  auto& loop = env->loop();
  auto control = ControlService::open(loop, env->stack(), "connect");  // synack ss / stats
  int code = kExitOk;
  {
    Netcat nc(*env, args);
    if (auto r = nc.start(wire::Endpoint{*host, args.port}, args.timeout); !r) {
      std::cerr << "synack connect: " << to_string(r.error()) << "\n";
      return kExitLocalError;
    }
    loop.on_socket_event([&](const SocketEvent& ev) { nc.on_event(ev); });
    loop.on_shutdown([&] { nc.on_shutdown(); });
    loop.run();
    loop.on_socket_event(nullptr);
    loop.on_shutdown(nullptr);
    code = nc.exit_code();
  }
  env->finish();
  return code;
}

}  // namespace

void register_connect(CLI::App& app) {
  auto args = std::make_shared<ConnectArgs>();
  auto* cmd = app.add_subcommand(
      "connect", "netcat over synack's TCP through a TUN device: stdin -> HOST:PORT -> stdout");
  cmd->add_option("HOST", args->host, "IPv4 or IPv6 address (the kernel side: 198.18.0.2)")
      ->required();
  cmd->add_option("PORT", args->port, "TCP port")->check(CLI::Range(1, 65535))->required();
  cmd->add_option("--timeout", args->timeout,
                  "give up if the connection is not established within SECONDS (default: the "
                  "stack's SYN retries, about 2 minutes)");
  cmd->add_flag("-v,--verbose", args->verbose, "report connection progress on stderr");
  add_net_options(cmd, args->net);
  cmd->footer(
      "End of standard input sends our FIN (half-close); the command exits once the peer\n"
      "has closed, all its data is written to standard output, and our data and FIN are\n"
      "acknowledged (with a terminal on standard input, once the peer has closed).\n\n"
      "Example:\n"
      "  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | synack connect --netns ns1 198.18.0.2 8000\n\n"
      "Exit status:\n"
      "  0  the peer closed and all output was written\n"
      "  1  local failure (TUN, namespace, arguments, standard input/output)\n"
      "  2  connection refused (RST answering our SYN, or ICMP port unreachable)\n"
      "  3  connection reset by the peer\n"
      "  4  timed out (--timeout, or retransmissions exhausted)\n"
      "  5  destination unreachable (ICMP)\n"
      "  6  interrupted by SIGINT or SIGTERM");
  cmd->callback([args] { exit_status() = run_connect(*args); });
}

}  // namespace synack::cli
