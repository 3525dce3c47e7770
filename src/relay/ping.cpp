// SPDX-License-Identifier: MIT
// ICMP echo relayed through unprivileged ping sockets.
#include "relay/ping.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "relay/destination.hpp"
#include "relay/sockaddr.hpp"

namespace synack::relay {
namespace {
constexpr std::size_t kMaxFlows = 256;  // destinations pinged at once
constexpr Duration kIdleTimeout = 30s;
constexpr int kRepliesPerWakeup = 64;
constexpr std::size_t kIcmpHeader = 8;
constexpr std::size_t kMaxMessage = 65535;
// RFC 792 / RFC 4443 §4.1-4.2.
constexpr std::uint8_t kV4EchoRequest = 8, kV4EchoReply = 0;
constexpr std::uint8_t kV6EchoRequest = 128, kV6EchoReply = 129;
}  // namespace

PingRelay::PingRelay(Stack& stack, os::EventLoop& loop, const RelayConfig& config,
                     RelayStats& stats)
    : stack_(stack), loop_(loop), config_(config), stats_(stats) {}

PingRelay::~PingRelay() {
  if (expiry_scheduled_) loop_.cancel_timer(expiry_timer_);
  close_all();
}

void PingRelay::close_all() {
  while (!flows_.empty()) close_flow(flows_.begin());
}

void PingRelay::on_echo_requests() {
  while (auto request = stack_.poll_echo_request()) {
    // The gateway is the stack's own and answered there; loopback and special-purpose
    // destinations are refused as for TCP and UDP (relay::host_destination).
    auto verdict = host_destination(config_, wire::Endpoint{request->local, 0});
    if (std::holds_alternative<Denial>(verdict)) {
      ++stats_.ping_denied;
      continue;
    }
    Key key{request->remote, request->local, request->identifier};
    auto it = flows_.find(key);
    Flow* flow = it == flows_.end() ? open_flow(key) : &it->second;
    if (!flow) continue;
    flow->last_used = loop_.now();
    // The kernel fills in the identifier (the socket's) and the checksum (RFC 4443 §2.3's
    // pseudo-header for ICMPv6 included); the sequence number and data are the request's.
    const bool v4 = request->local.is_v4();
    buffer_.resize(kIcmpHeader + request->data.size());
    std::fill(buffer_.begin(), buffer_.begin() + kIcmpHeader, std::byte{0});
    buffer_[0] = std::byte{v4 ? kV4EchoRequest : kV6EchoRequest};
    buffer_[6] = static_cast<std::byte>(request->sequence >> 8);
    buffer_[7] = static_cast<std::byte>(request->sequence & 0xff);
    std::copy(request->data.begin(), request->data.end(), buffer_.begin() + kIcmpHeader);
    if (::send(flow->fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
      ++stats_.ping_dropped;
    else
      ++stats_.ping_requests;
  }
}

PingRelay::Flow* PingRelay::open_flow(const Key& key) {
  const wire::IpAddress& dest = std::get<1>(key);
  const bool v4 = dest.is_v4();
  int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    v4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6});
  if (fd < 0) {
    // EACCES: our group is outside net.ipv4.ping_group_range (by default "1 0": nobody).
    ++stats_.ping_unavailable;
    if (!told_unavailable_ && config_.on_notice) {
      told_unavailable_ = true;
      config_.on_notice(
          "ICMP echo to " + dest.to_string() + " is not relayed: this host does not allow " +
          "unprivileged ping sockets (" + std::strerror(errno) +
          "; sysctl net.ipv4.ping_group_range must include one of our groups); counted in "
          "relay_ping_unavailable (told once)");
    }
    return nullptr;
  }
  sockaddr_storage sa;
  socklen_t len = to_sockaddr(wire::Endpoint{dest, 0}, &sa);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    ::close(fd);
    ++stats_.ping_dropped;
    return nullptr;
  }
  if (!loop_.add_fd(fd, EPOLLIN, [this, key](std::uint32_t) { on_readable(key); })) {
    ::close(fd);
    ++stats_.ping_dropped;
    return nullptr;
  }
  if (flows_.size() >= kMaxFlows) {
    // Bounded: the least recently used flow makes room.
    auto oldest = flows_.begin();
    for (auto it = flows_.begin(); it != flows_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    close_flow(oldest);
  }
  Flow& flow = flows_[key];
  flow.fd = fd;
  flow.last_used = loop_.now();
  if (!expiry_scheduled_) {
    expiry_scheduled_ = true;
    expiry_timer_ = loop_.call_at(loop_.now() + kIdleTimeout / 4, [this] { expire(); });
  }
  return &flow;
}

void PingRelay::on_readable(const Key& key) {
  auto it = flows_.find(key);
  if (it == flows_.end()) return;
  const auto& [guest, dest, identifier] = key;
  const bool v4 = dest.is_v4();
  buffer_.resize(kMaxMessage);
  for (int i = 0; i < kRepliesPerWakeup; ++i) {
    ssize_t n = ::recv(it->second.fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      continue;  // an ICMP error for an earlier request: nothing to pass on
    }
    // A ping socket delivers the ICMP message without the IP header, replies to its own
    // identifier only.
    if (static_cast<std::size_t>(n) < kIcmpHeader ||
        buffer_[0] != std::byte{v4 ? kV4EchoReply : kV6EchoReply})
      continue;
    it->second.last_used = loop_.now();
    EchoRequest answered;
    answered.local = dest;
    answered.remote = guest;
    answered.identifier = identifier;
    answered.sequence = static_cast<std::uint16_t>((std::to_integer<unsigned>(buffer_[6]) << 8) |
                                                   std::to_integer<unsigned>(buffer_[7]));
    auto data = std::span(buffer_).subspan(kIcmpHeader, static_cast<std::size_t>(n) - kIcmpHeader);
    if (stack_.send_echo_reply(answered, data, loop_.now()))
      ++stats_.ping_replies;
    else
      ++stats_.ping_dropped;
  }
}

void PingRelay::close_flow(std::map<Key, Flow>::iterator it) {
  loop_.remove_fd(it->second.fd);
  ::close(it->second.fd);
  flows_.erase(it);
}

void PingRelay::expire() {
  expiry_scheduled_ = false;
  const Instant now = loop_.now();
  for (auto it = flows_.begin(); it != flows_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_used >= kIdleTimeout) close_flow(it);
    it = next;
  }
  if (!flows_.empty()) {
    expiry_scheduled_ = true;
    expiry_timer_ = loop_.call_at(now + kIdleTimeout / 4, [this] { expire(); });
  }
}

}  // namespace synack::relay
