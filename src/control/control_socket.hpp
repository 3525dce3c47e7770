// SPDX-License-Identifier: MIT
// The control socket of a running `synack serve` / `synack connect`, and its client
// (`synack ss`, `synack stats`).
//
// Each process listens on a UNIX stream socket <dir>/<pid>.sock, where <dir> is the first of
// /run/synack, $XDG_RUNTIME_DIR/synack, /tmp/synack-<uid> that we own or can make (mode
// 0700), and removes it on exit. Protocol: the client connects and writes one line, "ss" or
// "stats"; the process answers with JSON lines (status_format.hpp) and closes.
//
// The server lives inside the stack's event loop and must never stall it: the listening
// socket and every client are non-blocking, a request is at most kMaxRequest bytes, an
// answer is built once and written as the socket accepts it, at most max_clients are served
// at a time, and a client that has not finished within client_timeout is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/status_format.hpp"
#include "os/accept_rest.hpp"
#include "synack/expected.hpp"
#include "synack/stack.hpp"
#include "synack/time.hpp"

namespace synack::os {
class EventLoop;
}

namespace synack::control {

// What the control server needs from an event loop (epoll event bits, level-triggered).
// os::EventLoop provides it through event_loop_control(); tests bring a poll() loop.
class ControlLoop {
 public:
  using FdHandler = std::function<void(std::uint32_t epoll_events)>;
  using TimerId = std::uint64_t;
  virtual ~ControlLoop() = default;
  virtual bool add_fd(int fd, std::uint32_t epoll_events, FdHandler handler) = 0;
  virtual void modify_fd(int fd, std::uint32_t epoll_events) = 0;
  virtual void remove_fd(int fd) = 0;
  virtual TimerId call_at(Instant at, std::function<void()> handler) = 0;
  virtual void cancel_timer(TimerId id) = 0;
  virtual Instant now() const = 0;
};

std::unique_ptr<ControlLoop> event_loop_control(os::EventLoop& loop);

// The directories a control socket may live in, most preferred first.
std::vector<std::string> control_directories();
// The first of control_directories() that exists (or is made, mode 0700), is a directory
// owned by us and is writable. Errors: a message naming what was tried.
Expected<std::string, std::string> make_control_directory();

class ControlServer {
 public:
  static constexpr std::size_t kMaxRequest = 256;
  struct Options {
    std::string directory;  // empty: make_control_directory()
    Duration client_timeout = 2s;
    std::size_t max_clients = 16;
    std::size_t max_connections = kMaxListedConnections;
    std::size_t send_buffer = 0;  // SO_SNDBUF per client; 0: room for the whole answer (≤ 8 MiB)
  };

  // Binds <directory>/<pid>.sock (replacing a stale file of that name) and registers it on
  // `loop`. Errors: a message (no usable directory, path too long, socket/bind/listen).
  static Expected<std::unique_ptr<ControlServer>, std::string> start(ControlLoop& loop,
                                                                     const Stack& stack,
                                                                     ProcessInfo process,
                                                                     Options options);
  // Unregisters, closes every client and removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }
  std::size_t clients() const { return clients_.size(); }
  std::uint64_t requests_served() const { return served_; }
  std::uint64_t clients_dropped() const { return dropped_; }
  std::uint64_t accept_rests() const { return rests_; }  // out of descriptors

  // Requests beyond "ss" and "stats" (`synack forward ...` for the processes that relay):
  // given the request line (blanks trimmed), the answer, or nullopt when it is not one of its.
  using RequestHandler = std::function<std::optional<std::string>(std::string_view request)>;
  void set_request_handler(RequestHandler handler) { extra_ = std::move(handler); }
  // Where "ss" and "stats" take their connections and counters when not from the stack given
  // to start() alone (`synack run --queues`: every queue's stack). Either may be empty.
  struct Sources {
    std::function<std::vector<ConnectionInfo>()> connections;
    std::function<Counters()> counters;
  };
  void set_sources(Sources sources) { sources_ = std::move(sources); }

  // The answer to one request line ("ss", "stats"; surrounding blanks ignored).
  std::string answer(std::string_view request) const;

 private:
  struct Client {
    std::string in;
    std::string out;
    std::size_t sent = 0;
    bool answering = false;
    ControlLoop::TimerId timer = 0;
  };
  ControlServer(ControlLoop& loop, const Stack& stack, ProcessInfo process, Options options)
      : loop_(loop), stack_(stack), process_(std::move(process)), options_(std::move(options)) {}

  void on_listen_ready();
  void on_client_ready(int fd, std::uint32_t events);
  void write_some(int fd, Client& client);
  void drop(int fd, bool completed);

  ControlLoop& loop_;
  const Stack& stack_;
  ProcessInfo process_;
  Options options_;
  std::string path_;
  int listen_fd_ = -1;
  std::unordered_map<int, Client> clients_;
  std::uint64_t served_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t rests_ = 0;                  // times the listener rested
  os::AcceptRest<ControlLoop> rest_{loop_};  // accept4() out of descriptors: the listener rests
  RequestHandler extra_;
  Sources sources_;
};

// For `synack serve` and `synack connect`: a control server on the event loop for
// `command`. When it cannot be made, warns on stderr and returns a handle holding nothing;
// the program runs on without one.
class ControlService {
 public:
  static std::unique_ptr<ControlService> open(os::EventLoop& loop, const Stack& stack,
                                              std::string_view command);
  ~ControlService();
  ControlServer* server() { return server_.get(); }

 private:
  ControlService() = default;
  // Declaration order: the server goes before the loop adapter it uses.
  std::unique_ptr<ControlLoop> loop_;
  std::unique_ptr<ControlServer> server_;
};

// --- client ---

struct ControlEndpoint {
  long pid = 0;
  std::string path;
};
// The control sockets in control_directories() whose process still runs (stale files of
// processes that are gone are skipped), by pid; only `pid`'s when given.
std::vector<ControlEndpoint> find_control_sockets(std::optional<long> pid = std::nullopt);
// Connects to `path`, sends `request` + "\n", and reads the answer until the process closes,
// within `timeout` in all and at most `max_bytes`. Errors: a message (refused, timed out,
// too large...).
Expected<std::string, std::string> query_control_socket(const std::string& path,
                                                        std::string_view request,
                                                        Duration timeout = 3s,
                                                        std::size_t max_bytes = 64u << 20);

}  // namespace synack::control
