// SPDX-License-Identifier: MIT
#include "control/control_socket.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>

#include "synack/event_loop.hpp"

namespace synack::control {
using namespace synack::os;
namespace {

class EventLoopControl final : public ControlLoop {
 public:
  explicit EventLoopControl(os::EventLoop& loop) : loop_(loop) {}
  bool add_fd(int fd, std::uint32_t events, FdHandler handler) override {
    return loop_.add_fd(fd, events, std::move(handler)).has_value();
  }
  void modify_fd(int fd, std::uint32_t events) override { (void)loop_.modify_fd(fd, events); }
  void remove_fd(int fd) override { loop_.remove_fd(fd); }
  TimerId call_at(Instant at, std::function<void()> handler) override {
    return loop_.call_at(at, std::move(handler));
  }
  void cancel_timer(TimerId id) override { loop_.cancel_timer(id); }
  Instant now() const override { return loop_.now(); }

 private:
  os::EventLoop& loop_;
};

std::string errno_text(int e) { return std::strerror(e); }

bool fill_address(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

// A directory we can trust with the socket: ours, a real directory (not a symlink), and
// writable. Makes the last component (mode 0700) when missing.
bool usable_directory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) return false;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return false;
  return ::access(dir.c_str(), W_OK | X_OK) == 0;
}

std::optional<long> pid_of_socket_name(std::string_view name) {
  constexpr std::string_view suffix = ".sock";
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  name.remove_suffix(suffix.size());
  long pid = 0;
  for (char c : name) {
    if (c < '0' || c > '9' || pid > 100000000) return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 ? std::optional<long>(pid) : std::nullopt;
}

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until `deadline`; false on timeout or poll error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

}  // namespace

std::unique_ptr<ControlLoop> event_loop_control(os::EventLoop& loop) {
  return std::make_unique<EventLoopControl>(loop);
}

std::vector<std::string> control_directories() {
  std::vector<std::string> dirs{"/run/synack"};
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/')
    dirs.push_back(std::string(xdg) + "/synack");
  dirs.push_back("/tmp/synack-" + std::to_string(::geteuid()));
  return dirs;
}

Expected<std::string, std::string> make_control_directory() {
  std::string tried;
  for (const auto& dir : control_directories()) {
    if (usable_directory(dir)) return dir;
    tried += (tried.empty() ? "" : ", ") + dir;
  }
  return Unexpected{"no usable directory for the control socket (tried " + tried + ")"};
}

// --- server ---

Expected<std::unique_ptr<ControlServer>, std::string> ControlServer::start(ControlLoop& loop,
                                                                           const Stack& stack,
                                                                           ProcessInfo process,
                                                                           Options options) {
  if (options.directory.empty()) {
    auto dir = make_control_directory();
    if (!dir) return Unexpected{dir.error()};
    options.directory = *dir;
  }
  std::string path = options.directory + "/" + std::to_string(process.pid) + ".sock";
  sockaddr_un addr{};
  if (!fill_address(path, addr)) return Unexpected{"control socket path too long: " + path};
  std::unique_ptr<ControlServer> server(
      new ControlServer(loop, stack, std::move(process), std::move(options)));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{"socket: " + errno_text(errno)};
  server->listen_fd_ = fd;
  // A file of that name belongs to an earlier process with our pid: it is gone.
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    return Unexpected{"bind " + path + ": " + errno_text(errno)};
  server->path_ = path;  // from here on, the destructor removes it
  ::chmod(path.c_str(), 0600);
  if (::listen(fd, 16) < 0) return Unexpected{"listen " + path + ": " + errno_text(errno)};
  ControlServer* self = server.get();
  if (!loop.add_fd(fd, EPOLLIN, [self](std::uint32_t) { self->on_listen_ready(); }))
    return Unexpected{std::string("cannot watch the control socket")};
  return server;
}

ControlServer::~ControlServer() {
  while (!clients_.empty()) drop(clients_.begin()->first, false);
  if (listen_fd_ >= 0) {
    loop_.remove_fd(listen_fd_);
    ::close(listen_fd_);
  }
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::string ControlServer::answer(std::string_view request) const {
  while (!request.empty() && (request.back() == '\n' || request.back() == '\r' ||
                              request.back() == ' ' || request.back() == '\t'))
    request.remove_suffix(1);
  while (!request.empty() && (request.front() == ' ' || request.front() == '\t'))
    request.remove_prefix(1);
  if (request == "ss")
    return connections_json(process_,
                            sources_.connections ? sources_.connections() : stack_.connections(),
                            options_.max_connections);
  if (request == "stats")
    return counters_json(process_, sources_.counters ? sources_.counters() : stack_.counters());
  if (extra_)
    if (auto answer = extra_(request)) return *answer;
  return error_json(process_, "unknown request (expected \"ss\" or \"stats\")");
}

void ControlServer::on_listen_ready() {
  // A bounded number per wakeup, so a flood of connects cannot hold the loop.
  for (int i = 0; i < 16; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors (EMFILE...): the client stays queued and the listener readable,
      // which would spin the loop; it rests for a while. EAGAIN: all taken.
      if (rest_.after_failure(listen_fd_, errno)) ++rests_;
      return;
    }
    if (clients_.size() >= options_.max_clients) {
      ++dropped_;
      ::close(fd);
      continue;
    }
    Client& client = clients_[fd];
    if (!loop_.add_fd(fd, EPOLLIN | EPOLLRDHUP,
                      [this, fd](std::uint32_t ev) { on_client_ready(fd, ev); })) {
      clients_.erase(fd);
      ::close(fd);
      continue;
    }
    client.timer = loop_.call_at(loop_.now() + options_.client_timeout, [this, fd] {
      auto found = clients_.find(fd);
      if (found == clients_.end()) return;
      found->second.timer = 0;  // it has fired: drop() must not cancel it
      drop(fd, false);
    });
  }
}

void ControlServer::on_client_ready(int fd, std::uint32_t events) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& client = it->second;
  if (client.answering) {
    if (events & (EPOLLERR | EPOLLHUP)) return drop(fd, false);
    return write_some(fd, client);
  }
  char buf[kMaxRequest];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return drop(fd, false);
  }
  client.in.append(buf, static_cast<std::size_t>(n));
  auto nl = client.in.find('\n');
  bool eof = n == 0;
  if (nl == std::string::npos && !eof) {
    if (client.in.size() > kMaxRequest) drop(fd, false);  // not our protocol
    return;
  }
  if (nl == std::string::npos && client.in.empty()) return drop(fd, false);  // said nothing
  std::string_view line = std::string_view(client.in).substr(0, nl);
  if (line.size() > kMaxRequest) return drop(fd, false);
  client.out = answer(line);
  client.answering = true;
  ++served_;
  // Room for the whole answer in one write when the kernel allows it; a shorter write
  // continues on EPOLLOUT, bounded by the client's timeout.
  std::size_t room = options_.send_buffer ? options_.send_buffer : client.out.size() + 4096;
  int want = static_cast<int>(std::min<std::size_t>(room, 8u << 20));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
  write_some(fd, client);
}

void ControlServer::write_some(int fd, Client& client) {
  while (client.sent < client.out.size()) {
    ssize_t n = ::send(fd, client.out.data() + client.sent, client.out.size() - client.sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      client.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      loop_.modify_fd(fd, EPOLLOUT);
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    return drop(fd, false);
  }
  drop(fd, true);
}

void ControlServer::drop(int fd, bool completed) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (it->second.timer) loop_.cancel_timer(it->second.timer);
  if (!completed) ++dropped_;
  clients_.erase(it);
  loop_.remove_fd(fd);
  ::close(fd);
}

std::unique_ptr<ControlService> ControlService::open(os::EventLoop& loop, const Stack& stack,
                                                     std::string_view command) {
  std::unique_ptr<ControlService> service(new ControlService());
  service->loop_ = event_loop_control(loop);
  auto server = ControlServer::start(
      *service->loop_, stack, ProcessInfo{static_cast<long>(::getpid()), std::string(command)},
      ControlServer::Options{});
  if (!server) {
    std::cerr << "synack " << command << ": no control socket (synack ss/stats will not see "
              << "this process): " << server.error() << "\n";
    return service;
  }
  service->server_ = std::move(*server);
  return service;
}

ControlService::~ControlService() = default;

// --- client ---

std::vector<ControlEndpoint> find_control_sockets(std::optional<long> only) {
  std::vector<ControlEndpoint> found;
  std::set<long> seen;
  for (const auto& dir : control_directories()) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* entry = ::readdir(d)) {
      auto pid = pid_of_socket_name(entry->d_name);
      if (!pid || (only && *pid != *only) || seen.count(*pid)) continue;
      // Stale: the process is gone (it was killed before it could remove its socket).
      if (::kill(static_cast<pid_t>(*pid), 0) < 0 && errno == ESRCH) continue;
      std::string path = dir + "/" + entry->d_name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) < 0 || !S_ISSOCK(st.st_mode)) continue;
      seen.insert(*pid);
      found.push_back({*pid, std::move(path)});
    }
    ::closedir(d);
  }
  std::sort(found.begin(), found.end(),
            [](const ControlEndpoint& a, const ControlEndpoint& b) { return a.pid < b.pid; });
  return found;
}

Expected<std::string, std::string> query_control_socket(const std::string& path,
                                                        std::string_view request, Duration timeout,
                                                        std::size_t max_bytes) {
  auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  if (!fill_address(path, addr)) return Unexpected{std::string("path too long")};
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{"socket: " + errno_text(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // A UNIX connect completes at once or fails (EAGAIN: the backlog is full).
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    return Unexpected{"connect: " + errno_text(errno)};
  std::string line = std::string(request) + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    if (!wait_for(fd, POLLOUT, deadline)) return Unexpected{std::string("timed out")};
    ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Unexpected{"send: " + errno_text(errno)};
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[65536];
  while (true) {
    if (!wait_for(fd, POLLIN, deadline)) return Unexpected{std::string("timed out")};
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return answer;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Unexpected{"recv: " + errno_text(errno)};
    }
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > max_bytes) return Unexpected{std::string("answer too large")};
  }
}

}  // namespace synack::control
