// SPDX-License-Identifier: MIT
// UDP port forwards: host peers <-> the guest's forwarded port, one flow per peer.
#include "relay/udp_forward.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "relay/sockaddr.hpp"
#include "wire/address_class.hpp"

namespace synack::relay {
namespace {
constexpr int kDatagramsPerWakeup = 64;
// The namespace sees each flow as the gateway and a port from the dynamic range (RFC 6335
// §6); at most this many flows at once, so that a free port always exists.
constexpr std::uint16_t kFirstFlowPort = 49152;
constexpr std::size_t kFlowPorts = 65536 - kFirstFlowPort;

wire::Endpoint from_sockaddr(const sockaddr_storage& sa) {
  wire::Endpoint e;
  if (sa.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&sa);
    std::array<std::uint8_t, 4> b{};
    std::memcpy(b.data(), &s->sin_addr, 4);
    e.addr = wire::IpAddress::v4(b[0], b[1], b[2], b[3]);
    e.port = ntohs(s->sin_port);
  } else {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&sa);
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), &s->sin6_addr, 16);
    e.addr = wire::IpAddress::v6(b);
    e.port = ntohs(s->sin6_port);
  }
  return e;
}
// The destination address of a datagram received with IP_PKTINFO / IPV6_RECVPKTINFO on.
std::optional<wire::IpAddress> packet_destination(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      return wire::IpAddress::v4_from_u32(ntohl(info.ipi_addr.s_addr));
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      std::array<std::uint8_t, 16> b{};
      std::memcpy(b.data(), &info.ipi6_addr, 16);
      return wire::IpAddress::v6(b);
    }
  }
  return std::nullopt;
}
}  // namespace

UdpForwarder::UdpForwarder(Stack& stack, os::EventLoop& loop, const RelayConfig& config,
                           RelayStats& stats)
    : stack_(stack), loop_(loop), config_(config), stats_(stats) {}

UdpForwarder::~UdpForwarder() {
  if (expiry_scheduled_) loop_.cancel_timer(expiry_timer_);
  close_all();
}

Expected<void, std::string> UdpForwarder::add(std::uint64_t id, const PortForward& forward) {
  if (sockets_.count(id)) return Unexpected{"forward id " + std::to_string(id) + " is in use"};
  int fd = ::socket(forward.host.addr.is_v4() ? AF_INET : AF_INET6,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto failure = [&](const char* step) {
    std::string message = std::string(step) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Unexpected{message};
  };
  if (fd < 0) return failure("socket");
  int one = 1;
  // [::] means IPv6 only, as pasta and podman bind it; 0.0.0.0 is IPv4's.
  if (!forward.host.addr.is_v4()) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Bound to every address: learn which one each datagram was sent to, to answer from it.
  if (wire::classify(forward.host.addr) == wire::AddressClass::Unspecified) {
    if (forward.host.addr.is_v4())
      ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    else
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  }
  sockaddr_storage sa;
  socklen_t len = to_sockaddr(forward.host, &sa);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) return failure("bind");
  if (buffer_.empty()) buffer_.resize(kMaxDatagram);
  if (auto added = loop_.add_fd(fd, EPOLLIN, [this, id](std::uint32_t) { on_readable(id); });
      !added) {
    errno = added.error();
    return failure("epoll");
  }
  sockets_[id] = Socket{fd, forward};
  return {};
}

std::optional<std::size_t> UdpForwarder::remove(std::uint64_t id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return std::nullopt;
  loop_.remove_fd(it->second.fd);
  ::close(it->second.fd);
  sockets_.erase(it);
  // Its flows: bounded by the flow limit (config_.max_udp_flows).
  std::size_t ended = 0;
  for (auto f = flows_.begin(); f != flows_.end();) {
    auto next = std::next(f);
    if (f->second.socket == id) {
      close_flow(f->first);
      ++ended;
    }
    f = next;
  }
  return ended;
}

std::vector<std::pair<std::uint64_t, PortForward>> UdpForwarder::forwards() const {
  std::vector<std::pair<std::uint64_t, PortForward>> out;
  for (const auto& [id, socket] : sockets_) out.emplace_back(id, socket.forward);
  return out;
}

UdpForwarder::Flow* UdpForwarder::flow_for(std::uint64_t socket, const wire::Endpoint& peer) {
  if (auto it = by_peer_.find({socket, peer}); it != by_peer_.end()) return &flows_[it->second];
  const std::size_t limit = std::min(config_.max_udp_flows, kFlowPorts - 1);
  if (limit == 0) return nullptr;
  if (flows_.size() >= limit) {
    // Bounded: the least recently used flow makes room.
    auto oldest = flows_.begin();
    for (auto it = flows_.begin(); it != flows_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    close_flow(oldest->first);
  }
  // The next free port of the dynamic range; one exists (fewer flows than ports).
  std::uint16_t port = 0;
  do {
    port = static_cast<std::uint16_t>(kFirstFlowPort + next_port_);
    next_port_ = static_cast<std::uint16_t>((next_port_ + 1) % kFlowPorts);
  } while (flows_.count(port));
  const PortForward& forward = sockets_.at(socket).forward;
  // The guest and gateway of the forward's family, IPv4 when the namespace has no IPv6 (as a
  // TCP forward connects).
  const bool v6 = !forward.host.addr.is_v4() && config_.guest6 && config_.gateway6;
  Flow& flow = flows_[port];
  flow.socket = socket;
  flow.peer = peer;
  flow.inside = wire::Endpoint{v6 ? *config_.guest6 : config_.guest, forward.guest_port};
  flow.gateway = wire::Endpoint{v6 ? *config_.gateway6 : config_.gateway, port};
  flow.last_used = loop_.now();
  by_peer_[{socket, peer}] = port;
  ++stats_.udp_forward_flows;
  if (!expiry_scheduled_) {
    expiry_scheduled_ = true;
    expiry_timer_ = loop_.call_at(loop_.now() + config_.udp_idle_timeout / 4, [this] { expire(); });
  }
  return &flow;
}

void UdpForwarder::on_readable(std::uint64_t socket) {
  auto s = sockets_.find(socket);
  if (s == sockets_.end()) return;  // removed earlier in this round of events
  const int fd = s->second.fd;
  for (int i = 0; i < kDatagramsPerWakeup; ++i) {
    sockaddr_storage from{};
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in6_pktinfo))> control{};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      continue;  // an error queued by an earlier send: nothing to read
    }
    Flow* flow = flow_for(socket, from_sockaddr(from));
    if (!flow) {
      ++stats_.udp_forward_dropped;
      continue;
    }
    if (auto local = packet_destination(msg)) flow->host_local = local;
    flow->last_used = loop_.now();
    auto sent =
        stack_.send_datagram(flow->gateway, flow->inside,
                             std::span(buffer_).first(static_cast<std::size_t>(n)), loop_.now());
    ++(sent ? stats_.udp_forwarded_in : stats_.udp_forward_dropped);
  }
}

bool UdpForwarder::claim(const Datagram& d) {
  auto it = flows_.find(d.local.port);
  if (it == flows_.end()) return false;
  Flow& flow = it->second;
  if (d.local != flow.gateway || d.remote != flow.inside) return false;
  flow.last_used = loop_.now();
  ++(send_to_peer(flow, d.payload) < 0 ? stats_.udp_forward_dropped : stats_.udp_forwarded_out);
  return true;
}

ssize_t UdpForwarder::send_to_peer(const Flow& flow, std::span<const std::byte> payload) {
  sockaddr_storage sa;
  socklen_t len = to_sockaddr(flow.peer, &sa);
  iovec iov{const_cast<std::byte*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_name = &sa;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // From the address the peer sent to (IP_PKTINFO's ipi_spec_dst / IPV6_PKTINFO's address),
  // not whichever the route to the peer prefers.
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in6_pktinfo))> control{};
  if (flow.host_local && flow.host_local->is_v4() == flow.peer.addr.is_v4()) {
    msg.msg_control = control.data();
    if (flow.host_local->is_v4()) {
      msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo info{};
      info.ipi_spec_dst.s_addr = htonl(flow.host_local->v4_u32());
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
    } else {
      msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      in6_pktinfo info{};
      std::memcpy(&info.ipi6_addr, flow.host_local->bytes.data(), 16);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
    }
  }
  auto s = sockets_.find(flow.socket);
  if (s == sockets_.end()) return -1;
  return ::sendmsg(s->second.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void UdpForwarder::close_flow(std::uint16_t port) {
  auto it = flows_.find(port);
  if (it == flows_.end()) return;
  by_peer_.erase({it->second.socket, it->second.peer});
  flows_.erase(it);
}

void UdpForwarder::close_all() {
  for (auto& [id, s] : sockets_) {
    loop_.remove_fd(s.fd);
    ::close(s.fd);
  }
  sockets_.clear();
  flows_.clear();
  by_peer_.clear();
}

void UdpForwarder::expire() {
  expiry_scheduled_ = false;
  const Instant now = loop_.now();
  for (auto it = flows_.begin(); it != flows_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_used >= config_.udp_idle_timeout) close_flow(it->first);
    it = next;
  }
  if (!flows_.empty()) {
    expiry_scheduled_ = true;
    expiry_timer_ = loop_.call_at(now + config_.udp_idle_timeout / 4, [this] { expire(); });
  }
}

}  // namespace synack::relay
