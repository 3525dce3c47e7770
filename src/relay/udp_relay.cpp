// SPDX-License-Identifier: MIT
// UDP flows between the namespace and host sockets.
#include "relay/udp_relay.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "relay/destination.hpp"
#include "relay/dns.hpp"
#include "relay/sockaddr.hpp"

namespace synack::relay {
namespace {
constexpr int kRepliesPerWakeup = 64;
// The most of a datagram an ICMPv6 error can quote: 1280 (RFC 4443 §2.4 (c)) minus the
// error's IPv6 and ICMPv6 headers and the quoted IPv6 and UDP headers. IPv4 quotes less.
constexpr std::size_t kQuotedPayload = 1280 - 40 - 8 - 40 - 8;
}  // namespace

UdpRelay::UdpRelay(Stack& stack, os::EventLoop& loop, const RelayConfig& config, RelayStats& stats)
    : stack_(stack), loop_(loop), config_(config), stats_(stats), buffer_(kMaxDatagram) {}

UdpRelay::~UdpRelay() {
  if (expiry_scheduled_) loop_.cancel_timer(expiry_timer_);
  close_all();
}

void UdpRelay::close_all() {
  while (!flows_.empty()) close_flow(flows_.begin());
}

std::optional<wire::Endpoint> UdpRelay::real_destination(const wire::Endpoint& seen,
                                                         bool* denied_out) {
  // The gateway is also the namespace's resolver: DNS goes to the host's.
  if (auto dns = dns_destination(config_, seen)) return dns;
  auto verdict = host_destination(config_, seen);
  if (const Denial* denied = std::get_if<Denial>(&verdict)) {
    ++(*denied == Denial::HostLoopback ? stats_.udp_loopback_denied : stats_.udp_martian_denied);
    if (*denied == Denial::HostLoopback) note_gateway_denied(config_, stats_, seen, "a datagram");
    *denied_out = true;
    return std::nullopt;
  }
  return std::get<wire::Endpoint>(verdict);
}

void UdpRelay::on_datagrams() {
  while (auto d = stack_.poll_datagram()) {
    if (forwarder_ && forwarder_->claim(*d)) continue;  // an answer to a UDP port forward
    Key key{d->remote, d->local};
    auto it = flows_.find(key);
    Flow* flow = it == flows_.end() ? nullptr : &it->second;
    if (!flow) {
      bool denied = false;
      auto real = real_destination(d->local, &denied);
      if (!real) {
        ++stats_.udp_dropped;
        // Refused as a closed port would be, identically whether or not something listens
        // there on the host (nothing is tried): as TCP's RST for the same destinations.
        if (denied) refused(key, d->payload);
        continue;
      }
      flow = open_flow(key, *real);
      if (!flow) {
        ++stats_.udp_dropped;
        continue;
      }
    }
    flow->last_used = loop_.now();
    // Errors (a refusal the kernel remembered from an earlier ICMP, a full buffer) lose the
    // datagram, as UDP may.
    if (::send(flow->fd, d->payload.data(), d->payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      ++stats_.udp_dropped;
      // The host answered an earlier datagram with port unreachable: this one is refused too.
      if (errno == ECONNREFUSED) refused(key, d->payload);
      continue;
    }
    ++stats_.udp_to_host;
    const std::size_t keep = std::min(d->payload.size(), kQuotedPayload);
    flow->last_sent.assign(d->payload.begin(),
                           d->payload.begin() + static_cast<std::ptrdiff_t>(keep));
  }
}

UdpRelay::Flow* UdpRelay::open_flow(const Key& key, const wire::Endpoint& real) {
  if (flows_.size() >= config_.max_udp_flows) {
    // Bounded: the least recently used flow makes room.
    auto oldest = flows_.begin();
    for (auto it = flows_.begin(); it != flows_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    close_flow(oldest);
  }
  int fd = ::socket(real.addr.is_v4() ? AF_INET : AF_INET6,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  sockaddr_storage sa;
  socklen_t len = to_sockaddr(real, &sa);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    ::close(fd);
    return nullptr;
  }
  if (!loop_.add_fd(fd, EPOLLIN, [this, key](std::uint32_t) { on_readable(key); })) {
    ::close(fd);
    return nullptr;
  }
  ++stats_.udp_flows;
  Flow& flow = flows_[key];
  flow.fd = fd;
  flow.last_used = loop_.now();
  if (!expiry_scheduled_) {
    expiry_scheduled_ = true;
    expiry_timer_ = loop_.call_at(loop_.now() + config_.udp_idle_timeout / 4, [this] { expire(); });
  }
  return &flow;
}

void UdpRelay::on_readable(const Key& key) {
  auto it = flows_.find(key);
  if (it == flows_.end()) return;
  for (int i = 0; i < kRepliesPerWakeup; ++i) {
    ssize_t n = ::recv(it->second.fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      // ECONNREFUSED: an ICMP port unreachable answered the last datagram sent (Linux reports
      // it on a connected UDP socket). The flow stays: the port may open later.
      if (errno == ECONNREFUSED) refused(key, it->second.last_sent);
      continue;
    }
    it->second.last_used = loop_.now();
    // Back from the destination the namespace addressed (key.second), to its endpoint.
    auto sent = stack_.send_datagram(
        key.second, key.first, std::span(buffer_).first(static_cast<std::size_t>(n)), loop_.now());
    if (sent)
      ++stats_.udp_to_guest;
    else
      ++stats_.udp_dropped;
  }
}

void UdpRelay::refused(const Key& key, std::span<const std::byte> datagram) {
  // RFC 1122 §3.2.2.1 / RFC 4443 §3.1: what the namespace's kernel would have heard had it
  // reached the destination itself — port unreachable, from the destination, quoting the
  // datagram (rate-limited by the stack, as every error we send unasked).
  ++stats_.udp_refused;
  (void)stack_.send_port_unreachable(key.second, key.first, datagram, loop_.now());
}

void UdpRelay::close_flow(std::map<Key, Flow>::iterator it) {
  loop_.remove_fd(it->second.fd);
  ::close(it->second.fd);
  flows_.erase(it);
}

void UdpRelay::expire() {
  expiry_scheduled_ = false;
  const Instant now = loop_.now();
  for (auto it = flows_.begin(); it != flows_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_used >= config_.udp_idle_timeout) close_flow(it);
    it = next;
  }
  if (!flows_.empty()) {
    expiry_scheduled_ = true;
    expiry_timer_ = loop_.call_at(now + config_.udp_idle_timeout / 4, [this] { expire(); });
  }
}

}  // namespace synack::relay
