// SPDX-License-Identifier: MIT
// Port forwards added and removed while the relay runs: one host listener each (TCP), or one
// host socket of the UdpForwarder (UDP); one sequence of ids for both.
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "relay/relay.hpp"
#include "relay/sockaddr.hpp"
#include "wire/address_class.hpp"

namespace synack::relay {
namespace {
// SOMAXCONN, the kernel's own cap (net.core.somaxconn): connections that come faster than the
// relay accepts them wait in the accept queue instead of being dropped (as -T's, sandbox.cpp).
constexpr int kForwardBacklog = SOMAXCONN;

// Two forwards of one protocol that would take the same datagrams or connections: the same
// port and family, and the same address or either one every address (0.0.0.0, [::]; [::] is
// bound IPv6-only, so it and 0.0.0.0 do not overlap).
bool overlaps(const PortForward& a, const PortForward& b) {
  if (a.protocol != b.protocol || a.host.port != b.host.port) return false;
  if (a.host.addr.is_v4() != b.host.addr.is_v4()) return false;
  auto every = [](const wire::IpAddress& addr) {
    return wire::classify(addr) == wire::AddressClass::Unspecified;
  };
  return a.host.addr == b.host.addr || every(a.host.addr) || every(b.host.addr);
}
}  // namespace

Expected<std::uint64_t, std::string> Relay::add_forward(const PortForward& forward) {
  const std::string name = describe(forward);
  if (draining_) return Unexpected{name + ": the namespace is gone"};
  if (forward.guest_port == 0 || forward.host.port == 0)
    return Unexpected{name + ": port 0 cannot be forwarded"};
  if (listeners_.size() + udp_forwards_.size() >= config_.max_forwards)
    return Unexpected{name + ": too many forwards (at most " +
                      std::to_string(config_.max_forwards) + ")"};
  const bool udp = forward.protocol == ForwardProtocol::Udp;
  // A UDP forward's flows fall back to the namespace's IPv4 address (udp_forward.cpp).
  if (!udp && !forward.host.addr.is_v4() && !config_.guest6)
    return Unexpected{name + ": the namespace has no IPv6 address"};
  // One pass over the forwards of the protocol (no copies: a range adds thousands).
  auto clash = udp ? udp_forwards_.find([&](const PortForward& f) { return overlaps(forward, f); })
                   : std::nullopt;
  if (!udp)
    for (const auto& [id, listener] : listeners_)
      if (overlaps(forward, listener.forward)) {
        clash = std::pair{id, listener.forward};
        break;
      }
  if (clash) {
    const auto& [id, other] = *clash;
    if (other.host == forward.host)
      return Unexpected{name + ": " + forward.host.to_string() + " is forwarded already (id " +
                        std::to_string(id) + ")"};
    return Unexpected{name + ": overlaps forward " + std::to_string(id) + " (" + describe(other) +
                      ")"};
  }
  if (udp) {
    const std::uint64_t id = next_forward_id_;
    if (auto added = udp_forwards_.add(id, forward); !added)
      return Unexpected{name + ": " + added.error()};
    ++next_forward_id_;
    return id;
  }
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
  const std::uint64_t id = next_forward_id_;
  if (!loop_.add_fd(fd, EPOLLIN, [this, id](std::uint32_t) { on_forward_ready(id); })) {
    errno = EMFILE;
    return failure("epoll");
  }
  ++next_forward_id_;
  listeners_[id] = Listener{fd, forward, std::make_unique<os::AcceptRest<os::EventLoop>>(loop_)};
  return id;
}

bool Relay::remove_forward(std::uint64_t id) {
  auto it = listeners_.find(id);
  if (it == listeners_.end()) {
    auto ended = udp_forwards_.remove(id);
    if (!ended) return false;
    stats_.udp_forward_flows_removed += *ended;
    return true;
  }
  loop_.remove_fd(it->second.fd);
  ::close(it->second.fd);
  listeners_.erase(it);
  return true;
}

std::vector<std::pair<std::uint64_t, PortForward>> Relay::forwards() const {
  std::vector<std::pair<std::uint64_t, PortForward>> out;
  for (const auto& [id, listener] : listeners_) out.emplace_back(id, listener.forward);
  for (auto& entry : udp_forwards_.forwards()) out.push_back(std::move(entry));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace synack::relay
