// SPDX-License-Identifier: MIT
// Port forwards added and removed while the relay runs: one host listener each.
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "relay/relay.hpp"
#include "relay/sockaddr.hpp"

namespace synack::relay {
namespace {
constexpr int kForwardBacklog = 128;
}  // namespace

Expected<std::uint64_t, std::string> Relay::add_forward(const PortForward& forward) {
  const std::string name =
      forward.host.to_string() + " -> port " + std::to_string(forward.guest_port);
  if (draining_) return Unexpected{name + ": the namespace is gone"};
  if (forward.protocol == ForwardProtocol::Udp)
    return Unexpected{name + ": UDP forwards are given when synack starts (-p HOST:PORT/udp, -u)"};
  if (forward.guest_port == 0 || forward.host.port == 0)
    return Unexpected{name + ": port 0 cannot be forwarded"};
  if (!forward.host.addr.is_v4() && !config_.guest6)
    return Unexpected{name + ": the namespace has no IPv6 address"};
  for (const auto& [id, listener] : listeners_)
    if (listener.forward.host == forward.host)
      return Unexpected{name + ": " + forward.host.to_string() + " is forwarded already (id " +
                        std::to_string(id) + ")"};
  int fd = ::socket(forward.host.addr.is_v4() ? AF_INET : AF_INET6,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto failure = [&](const char* step) {
    std::string message = name + ": " + step + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Unexpected{message};
  };
  if (fd < 0) return failure("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // [::] means IPv6 only, as pasta and podman bind it; 0.0.0.0 is IPv4's (both may be given).
  if (!forward.host.addr.is_v4()) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage sa;
  socklen_t len = to_sockaddr(forward.host, &sa);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) return failure("bind");
  if (::listen(fd, kForwardBacklog) != 0) return failure("listen");
  PortForward f = forward;
  if (!loop_.add_fd(fd, EPOLLIN, [this, fd, f](std::uint32_t) { on_forward_ready(fd, f); })) {
    errno = EMFILE;
    return failure("epoll");
  }
  const std::uint64_t id = next_forward_id_++;
  listeners_[id] = Listener{fd, forward};
  return id;
}

bool Relay::remove_forward(std::uint64_t id) {
  auto it = listeners_.find(id);
  if (it == listeners_.end()) return false;
  loop_.remove_fd(it->second.fd);
  ::close(it->second.fd);
  listeners_.erase(it);
  return true;
}

std::vector<std::pair<std::uint64_t, PortForward>> Relay::forwards() const {
  std::vector<std::pair<std::uint64_t, PortForward>> out;
  for (const auto& [id, listener] : listeners_) out.emplace_back(id, listener.forward);
  return out;
}

}  // namespace synack::relay
