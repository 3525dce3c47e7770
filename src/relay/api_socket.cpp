// SPDX-License-Identifier: MIT
// The slirp4netns-compatible API socket: requests parsed with nlohmann::json, forwards kept by
// the Relay.
#include "relay/api_socket.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace synack::relay {
namespace {

using nlohmann::json;

std::string error_reply(const std::string& desc) {
  return json{{"error", {{"desc", desc}}}}.dump();
}

// A whole number in 1..65535 (slirp4netns takes JSON numbers); nullopt otherwise.
std::optional<std::uint16_t> port_of(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_number()) return std::nullopt;
  double value = it->get<double>();
  if (!(value >= 1 && value <= 65535) || value != static_cast<double>(static_cast<int>(value)))
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A string member, "" when absent; nullopt when present but not a string.
std::optional<std::string> string_of(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Expected<std::unique_ptr<ApiSocket>, std::string> ApiSocket::open(
    os::EventLoop& loop, Relay& relay, const std::string& path, wire::IpAddress guest,
    std::optional<wire::IpAddress> guest6, Options options) {
  std::unique_ptr<ApiSocket> api(new ApiSocket(loop, relay, guest, guest6, options));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path)
    return Unexpected{"--api-socket: path empty or too long: " + path};
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{std::string("--api-socket: socket: ") + std::strerror(errno)};
  // A socket file left by a process that is gone would make bind fail (slirp4netns unlinks
  // too); anything else of that name is not ours to remove.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    std::string message = "--api-socket " + path + ": " + std::strerror(errno);
    ::close(fd);
    return Unexpected{message};
  }
  api->listen_fd_ = fd;
  api->path_ = path;
  ApiSocket* self = api.get();
  if (!loop.add_fd(fd, EPOLLIN, [self](std::uint32_t) { self->on_listen_ready(); }))
    return Unexpected{std::string("--api-socket: epoll")};
  return api;
}

ApiSocket::~ApiSocket() {
  while (!clients_.empty()) drop(clients_.begin()->first);
  if (listen_fd_ >= 0) {
    loop_.remove_fd(listen_fd_);
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

std::string ApiSocket::answer(std::string_view request) {
  ++stats_.requests;
  auto fail = [&](const std::string& desc) {
    ++stats_.errors;
    return error_reply(desc);
  };
  json req = json::parse(request, nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded()) return fail("bad request: malformed JSON");
  if (!req.is_object()) return fail("bad request: not a JSON object");
  auto execute = req.find("execute");
  if (execute == req.end() || !execute->is_string()) return fail("bad request: no execute");
  const std::string what = execute->get<std::string>();
  const json no_arguments = json::object();
  auto arguments_it = req.find("arguments");
  const json& args = arguments_it == req.end() ? no_arguments : *arguments_it;
  if (!args.is_object()) return fail("bad request: " + what + ": arguments is not an object");

  if (what == "add_hostfwd") {
    auto proto = string_of(args, "proto");
    if (!proto || proto->empty()) return fail("bad request: add_hostfwd: bad arguments.proto");
    if (*proto != "tcp" && *proto != "udp")
      return fail("bad request: add_hostfwd: proto " + *proto + " is not supported (tcp, udp)");
    auto host_addr = string_of(args, "host_addr");
    if (!host_addr) return fail("bad request: add_hostfwd: bad arguments.host_addr");
    if (host_addr->empty()) *host_addr = "0.0.0.0";  // slirp4netns's default
    auto host = wire::IpAddress::parse(*host_addr);
    if (!host) return fail("bad request: add_hostfwd: bad arguments.host_addr");
    auto host_port = port_of(args, "host_port");
    if (!host_port) return fail("bad request: add_hostfwd: bad arguments.host_port");
    auto guest_port = port_of(args, "guest_port");
    if (!guest_port) return fail("bad request: add_hostfwd: bad arguments.guest_port");
    auto guest_addr = string_of(args, "guest_addr");
    if (!guest_addr) return fail("bad request: add_hostfwd: bad arguments.guest_addr");
    if (!guest_addr->empty()) {
      auto g = wire::IpAddress::parse(*guest_addr);
      if (!g || !(*g == guest_ || (guest6_ && *g == *guest6_)))
        return fail(
            "bad request: add_hostfwd: arguments.guest_addr is not the namespace's "
            "address (" +
            guest_.to_string() + ")");
    }
    PortForward forward;
    forward.host = wire::Endpoint{*host, *host_port};
    forward.guest_port = *guest_port;
    forward.protocol = *proto == "udp" ? ForwardProtocol::Udp : ForwardProtocol::Tcp;
    auto id = relay_.add_forward(forward);
    if (!id) return fail("add_hostfwd: " + id.error());
    return json{{"return", {{"id", *id}}}}.dump();
  }
  if (what == "list_hostfwd") {
    json entries = json::array();
    for (const auto& [id, f] : relay_.forwards()) {
      wire::IpAddress guest = f.host.addr.is_v4() || !guest6_ ? guest_ : *guest6_;
      entries.push_back({{"id", id},
                         {"proto", f.protocol == ForwardProtocol::Udp ? "udp" : "tcp"},
                         {"host_addr", f.host.addr.to_string()},
                         {"host_port", f.host.port},
                         {"guest_addr", guest.to_string()},
                         {"guest_port", f.guest_port}});
    }
    return json{{"return", {{"entries", entries}}}}.dump();
  }
  if (what == "remove_hostfwd") {
    auto it = args.find("id");
    if (it == args.end() || !it->is_number_integer() || it->get<std::int64_t>() <= 0)
      return fail("bad request: remove_hostfwd: bad arguments.id");
    if (!relay_.remove_forward(it->get<std::uint64_t>()))
      return fail("remove_hostfwd: no forward with id " + std::to_string(it->get<std::int64_t>()));
    return json{{"return", json::object()}}.dump();
  }
  return fail("bad request: unknown execute: " + what);
}

void ApiSocket::on_listen_ready() {
  for (int i = 0; i < 16; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: the listener would stay readable and spin the loop; it rests.
      if (rest_.after_failure(listen_fd_, errno)) ++stats_.accept_rests;
      return;
    }
    if (clients_.size() >= options_.max_clients) {
      ++stats_.refused;
      ::close(fd);
      continue;
    }
    if (!loop_.add_fd(fd, EPOLLIN, [this, fd](std::uint32_t ev) { on_client_ready(fd, ev); })) {
      ::close(fd);
      continue;
    }
    Client& client = clients_[fd];
    client.timer = loop_.call_at(loop_.now() + options_.client_timeout, [this, fd] {
      auto it = clients_.find(fd);
      if (it == clients_.end()) return;
      it->second.timer = 0;
      ++stats_.timeouts;
      drop(fd);
    });
  }
}

void ApiSocket::on_client_ready(int fd, std::uint32_t events) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& client = it->second;
  if (client.answering) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      drop(fd);
      return;
    }
    write_some(fd, client);
    return;
  }
  char buffer[1024];
  while (true) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      if (client.in.size() + static_cast<std::size_t>(n) > kMaxRequest) {
        ++stats_.requests;
        ++stats_.errors;
        client.out =
            error_reply("bad request: longer than " + std::to_string(kMaxRequest) + " bytes");
        client.answering = true;
        (void)loop_.modify_fd(fd, EPOLLOUT);
        write_some(fd, client);
        return;
      }
      client.in.append(buffer, static_cast<std::size_t>(n));
      // A complete JSON value is the whole request, whether or not the client shuts down
      // its side (slirp4netns answers after one read, too).
      if (json::accept(client.in)) {
        start_answer(fd, client);
        return;
      }
      continue;
    }
    if (n == 0) {  // end of the request: answer what came, malformed or not
      start_answer(fd, client);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) drop(fd);
    return;
  }
}

void ApiSocket::start_answer(int fd, Client& client) {
  client.out = answer(client.in);
  client.answering = true;
  (void)loop_.modify_fd(fd, EPOLLOUT);
  write_some(fd, client);
}

void ApiSocket::write_some(int fd, Client& client) {
  while (client.sent < client.out.size()) {
    ssize_t n =
        ::send(fd, client.out.data() + client.sent, client.out.size() - client.sent, MSG_NOSIGNAL);
    if (n > 0) {
      client.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT calls again
    drop(fd);
    return;
  }
  drop(fd);
}

void ApiSocket::drop(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (it->second.timer) loop_.cancel_timer(it->second.timer);
  loop_.remove_fd(fd);
  ::close(fd);
  clients_.erase(it);
}

}  // namespace synack::relay
