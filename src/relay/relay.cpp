// SPDX-License-Identifier: MIT
// TCP relaying for `synack run`: connect requests -> host connects -> splices; port forwards.
#include "relay/relay.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "relay/destination.hpp"
#include "relay/dns.hpp"
#include "relay/sockaddr.hpp"

namespace synack::relay {
namespace {

// One read from a socket or the stack; the stack's default buffers are 256 KiB.
constexpr int kAcceptsPerWakeup = 64;

// How a failed host connect is told to the namespace: what the kernel's own connect() would
// have seen had the destination been reached directly.
Refusal refusal_for(int error) {
  switch (error) {
    case ENETUNREACH:
      return Refusal::NetUnreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ETIMEDOUT:
      return Refusal::HostUnreachable;
    case EACCES:
    case EPERM:
      return Refusal::Prohibited;
    default:
      return Refusal::Reset;  // ECONNREFUSED and the rest
  }
}

void set_no_delay(int fd) {
  // The namespace's TCP already coalesced small writes (Nagle runs there); delaying them
  // again here would only add latency.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

Relay::Relay(Stack& stack, os::EventLoop& loop, RelayConfig config)
    : stack_(stack),
      loop_(loop),
      config_(std::move(config)),
      udp_forwards_(stack, loop, config_, stats_),
      udp_(stack, loop, config_, stats_),
      ping_(stack, loop, config_, stats_) {
  udp_.set_forwarder(&udp_forwards_);
}

Expected<std::unique_ptr<Relay>, std::string> Relay::create(Stack& stack, os::EventLoop& loop,
                                                            RelayConfig config) {
  std::unique_ptr<Relay> relay(new Relay(stack, loop, std::move(config)));
  for (const auto& forward : relay->config_.forwards)
    if (auto id = relay->add_forward(forward); !id) return Unexpected{"-p " + id.error()};
  return relay;
}

Relay::~Relay() {
  shutdown();
  if (sweep_scheduled_) loop_.cancel_timer(sweep_timer_);
  sweep_scheduled_ = false;
  graveyard_.clear();
}

// No new work: port-forward listeners closed, connects in progress refused (RST), UDP flows gone.
void Relay::stop_accepting() {
  for (auto& [id, listener] : listeners_) {
    loop_.remove_fd(listener.fd);
    ::close(listener.fd);
  }
  listeners_.clear();
  for (auto& [request, c] : connecting_) {
    loop_.cancel_timer(c.timer);
    loop_.remove_fd(c.fd);
    ::close(c.fd);
    (void)stack_.refuse_request(request, Refusal::Reset, loop_.now());
  }
  connecting_.clear();
  udp_.close_all();
  udp_forwards_.close_all();
  ping_.close_all();
}

void Relay::shutdown() {
  stop_accepting();
  for (auto& [id, splice] : splices_) splice->abort();
  splices_.clear();
  graveyard_.clear();
}

void Relay::begin_drain() {
  if (draining_) return;
  draining_ = true;
  // A connect still in progress has nobody waiting for it any more: CMD's kernel dropped
  // its SYN-SENT socket with CMD.
  stop_accepting();
  for (const auto& [id, splice] : splices_)
    if (std::find(graveyard_.begin(), graveyard_.end(), id) == graveyard_.end())
      ++stats_.drain_connections;
}

bool Relay::drained() const {
  if (splices_.size() > graveyard_.size()) return false;
  for (const auto& info : stack_.connections()) {
    State st = info.status.state;
    if (st != State::Closed && st != State::TimeWait) return false;
  }
  return true;
}

Relay::DrainLoss Relay::abort_drain() {
  DrainLoss loss;
  for (auto& [id, splice] : splices_) {
    if (std::find(graveyard_.begin(), graveyard_.end(), id) != graveyard_.end()) continue;
    ++loss.connections;
    loss.bytes += splice->bytes_held_to_host();
  }
  stats_.drain_reset += loss.connections;
  stats_.drain_bytes_lost += loss.bytes;
  draining_ = false;  // so that bury() does not count them again as ended by a peer
  shutdown();
  return loss;
}

RelayStats Relay::stats() const {
  RelayStats s = stats_;
  s.bytes_to_host = bytes_.bytes_to_host;
  s.bytes_to_guest = bytes_.bytes_to_guest;
  s.fin_with_data = bytes_.fin_with_data;
  s.fin_alone = bytes_.fin_alone;
  s.host_reads_empty = bytes_.host_reads_empty;
  return s;
}

void Relay::on_socket_event(const SocketEvent& ev) {
  if (ev.handle == kConnectRequestsHandle) {
    on_connect_requests();
    return;
  }
  if (ev.handle == kDatagramsHandle) {
    udp_.on_datagrams();
    return;
  }
  if (ev.handle == kEchoRequestsHandle) {
    ping_.on_echo_requests();
    return;
  }
  auto it = splices_.find(ev.handle);
  if (it == splices_.end()) return;
  it->second->on_stack_event(ev.events);  // a finished splice buries itself
}

void Relay::on_connect_requests() {
  while (auto request = stack_.poll_connect_request()) {
    if (draining_) {
      // CMD is gone: a SYN now is a retransmission from a socket that no longer exists.
      (void)stack_.refuse_request(request->id, Refusal::Reset, loop_.now());
      continue;
    }
    start_connect(*request);
  }
}

void Relay::start_connect(const ConnectRequest& request) {
  // DNS over TCP to the namespace's resolver goes to the host's resolver, as over UDP
  // (RFC 7766 §5: TCP is part of DNS; a truncated UDP answer is retried over TCP).
  std::optional<wire::Endpoint> dns = dns_destination(config_, request.local);
  auto verdict =
      dns ? std::variant<wire::Endpoint, Denial>(*dns) : host_destination(config_, request.local);
  if (const Denial* denied = std::get_if<Denial>(&verdict)) {
    // The host's own services are reachable only through the gateway, and only when the user
    // said so; other special-purpose destinations never. Refused at once, identically for
    // open and closed ports: nothing is tried on the host.
    ++(*denied == Denial::HostLoopback ? stats_.tcp_loopback_denied : stats_.tcp_martian_denied);
    if (*denied == Denial::HostLoopback)
      note_gateway_denied(config_, stats_, request.local, "a connection");
    (void)stack_.refuse_request(request.id, Refusal::Reset, loop_.now());
    return;
  }
  if (dns) ++stats_.tcp_dns;
  const wire::Endpoint destination = std::get<wire::Endpoint>(verdict);
  int fd = ::socket(destination.addr.is_v4() ? AF_INET : AF_INET6,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++stats_.tcp_refused;
    (void)stack_.refuse_request(request.id, Refusal::Reset, loop_.now());
    return;
  }
  set_no_delay(fd);
  sockaddr_storage sa;
  socklen_t len = to_sockaddr(destination, &sa);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), len);
  if (rc != 0 && errno == EINPROGRESS) {
    // A destination on this host (its loopback, the relay's usual case, or another of its own
    // addresses) has answered before connect() returns: Linux processes the SYN, SYN,ACK and
    // ACK inside the call and still says EINPROGRESS to a non-blocking socket. Asking once
    // more tells: 0 when connected, the error when refused, EALREADY while the handshake is
    // still on its way (a remote host: one cheap system call). Taken at once, the connection
    // needs no epoll registration, no wake-up and no timer for its connect (issue 14 §3).
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), len);
    if (rc == 0) ++stats_.tcp_connects_at_once;
    if (rc != 0 && errno == EALREADY) errno = EINPROGRESS;
  }
  if (rc == 0 || errno != EINPROGRESS) {
    complete_connect(request.id, fd, rc == 0 ? 0 : errno, false);
    return;
  }
  Connecting& c = connecting_[request.id];
  c.fd = fd;
  std::uint64_t id = request.id;
  auto added = loop_.add_fd(fd, EPOLLOUT, [this, id, fd](std::uint32_t events) {
    // Writable without an error or hang-up: connected (no SO_ERROR to fetch, a system call per
    // connection saved). A failed connect reports EPOLLERR (and EPOLLHUP): ask why.
    int error = 0;
    if (events & (EPOLLERR | EPOLLHUP)) {
      socklen_t elen = sizeof error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen);
      if (error == 0) error = ECONNREFUSED;
    }
    finish_connect(id, error);
  });
  if (!added) {
    finish_connect(id, EMFILE);
    return;
  }
  c.timer = loop_.call_at(loop_.now() + config_.connect_timeout, [this, id] {
    auto it = connecting_.find(id);
    if (it != connecting_.end()) it->second.timer = 0;
    finish_connect(id, ETIMEDOUT);
  });
}

void Relay::finish_connect(std::uint64_t request, int error) {
  auto it = connecting_.find(request);
  if (it == connecting_.end()) return;
  Connecting c = it->second;
  connecting_.erase(it);
  if (c.timer) loop_.cancel_timer(c.timer);
  complete_connect(request, c.fd, error, true);
}

void Relay::complete_connect(std::uint64_t request, int fd, int error, bool watched) {
  const Instant now = loop_.now();
  if (error != 0) {
    loop_.remove_fd(fd);
    ::close(fd);
    Refusal how = refusal_for(error);
    ++(how == Refusal::Reset ? stats_.tcp_refused : stats_.tcp_unreachable);
    (void)stack_.refuse_request(request, how, now);
    return;
  }
  // The host reached the destination: now the namespace's SYN gets its SYN,ACK.
  auto id = stack_.accept_request(request, now);
  if (!id) {
    loop_.remove_fd(fd);
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
    return;
  }
  ++stats_.tcp_connects;
  (void)stack_.set_no_delay(*id, true);
  // Still watched for its connect: the splice takes the registration over (replace_fd) and
  // watches the handshake. Connected at once: not watched until the stack connection is.
  add_splice(*id, fd, watched);
}

void Relay::on_forward_ready(std::uint64_t forward_id) {
  auto found = listeners_.find(forward_id);
  if (found == listeners_.end()) return;
  Listener& listener = found->second;
  const PortForward& forward = listener.forward;
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: the connection stays queued and the listener readable, which
      // would spin the loop; it rests instead. EAGAIN: all taken.
      if (listener.rest->after_failure(listener.fd, errno)) ++stats_.forward_accept_rests;
      return;
    }
    set_no_delay(fd);
    wire::IpAddress guest =
        forward.host.addr.is_v4() || !config_.guest6 ? config_.guest : *config_.guest6;
    auto id = stack_.connect(wire::Endpoint{guest, forward.guest_port}, loop_.now());
    if (!id) {
      ::close(fd);
      continue;
    }
    ++stats_.tcp_forwarded;
    (void)stack_.set_no_delay(*id, true);
    add_splice(*id, fd);
  }
}

void Relay::add_splice(ConnectionId id, int fd, bool watch_handshake) {
  splices_[id] = std::make_unique<Splice>(
      stack_, loop_, id, fd, bytes_, [this](ConnectionId done) { bury(done); }, watch_handshake);
}

void Relay::bury(ConnectionId id) {
  if (draining_) {
    auto it = splices_.find(id);
    if (it != splices_.end())
      ++(it->second->clean() ? stats_.drain_completed : stats_.drain_peer_reset);
  }
  graveyard_.push_back(id);
  if (!sweep_scheduled_) {
    sweep_scheduled_ = true;
    // Destroyed from a timer, outside any callback of the splice itself.
    sweep_timer_ = loop_.call_at(loop_.now(), [this] { sweep(); });
  }
}

void Relay::sweep() {
  sweep_scheduled_ = false;
  for (ConnectionId id : graveyard_) splices_.erase(id);
  graveyard_.clear();
}

}  // namespace synack::relay
