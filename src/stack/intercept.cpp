// SPDX-License-Identifier: MIT
// Interception for user-mode networking (`synack run`): SYNs to any destination held as
// connect requests until the application has tried the real destination, and UDP datagrams
// queued for relaying. Nothing here is reached unless StackConfig::intercept is set.
#include <algorithm>

#include "stack/icmp.hpp"
#include "stack/stack_impl.hpp"
#include "stack/stack_internal.hpp"
#include "wire/udp.hpp"

namespace synack {
using namespace stack_internal;  // NOLINT(google-build-using-namespace)

namespace {
// An ICMP error quotes the offending packet (RFC 792: IP header and the first 64 bits of
// data at least; RFC 1812 §4.3.2.3: as much as fits). A SYN's headers fit in 120 bytes.
constexpr std::size_t kQuoteBytes = 120;
constexpr std::size_t kMaxUdpPayload = 65507;  // 65535 - 20 (IPv4) - 8 (UDP)
}  // namespace

void Stack::Impl::queue_connect_request(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                                        std::span<const std::byte> packet,
                                        std::optional<SeqNum> isn_floor, Instant now) {
  TupleKey tuple{wire::Endpoint{ip.dst, tcp.dst_port}, wire::Endpoint{ip.src, tcp.src_port}};
  // RFC 9293 §3.10.7.2 still holds for the real destination: a connection to a broadcast
  // or multicast address is not possible (MUST-46), and port 0 is not a port.
  if (is_broadcast_or_multicast(tuple.local.addr) || tuple.local.port == 0 ||
      tuple.remote.port == 0) {
    count_drop(&Counters::drop_not_our_address, now);
    return;
  }
  if (request_by_tuple_.count(tuple)) {
    // The peer retransmitted its SYN while the application still waits on the destination:
    // the SYN,ACK will answer both.
    ++counters_.intercept_syn_repeats;
    return;
  }
  if (memory_pressure()) {
    // Issue 11 §4: refused before the application tries the destination.
    refuse_for_memory(ip, tcp, to_segment(tcp, {}), now);
    return;
  }
  if (live_ - time_wait_ + requests_.size() >= config_.max_connections) {
    // No room for the connection the request would become: refused (RST) before the
    // application opens a host connection for it.
    ++counters_.tcp_connection_limit;
    send_reset_for(ip, tcp, to_segment(tcp, {}), now);
    return;
  }
  if (requests_.size() >= config_.max_connect_requests) {
    count_drop(&Counters::intercept_request_overflow, now);
    return;
  }
  // The SYN queue of an intercepting stack (RFC 4987 §3: bounded half-open state): each
  // accepted request holds a host connection while the peer's ACK is awaited, so a namespace
  // sending SYNs it never completes (a raw socket) could otherwise make the application open
  // one real connection per SYN and hold each until the SYN,ACK times out. Requests and
  // such connections together stay within max_connect_requests; beyond it the SYN is dropped
  // before the application sees it, and the peer's retransmission may find room.
  if (intercept_half_open_ + requests_.size() >= config_.max_connect_requests) {
    count_drop(&Counters::intercept_half_open_overflow, now);
    return;
  }
  std::uint64_t id = next_request_++;
  PendingRequest& r = requests_[id];
  r.tuple = tuple;
  r.ip = ip;
  r.tcp = tcp;
  r.isn_floor = isn_floor;
  std::size_t length = std::min<std::size_t>(ip.header_length + ip.payload_length, packet.size());
  r.quote.assign(packet.begin(),
                 packet.begin() + static_cast<std::ptrdiff_t>(std::min(length, kQuoteBytes)));
  request_by_tuple_[tuple] = id;
  new_requests_.push_back(id);
  ++counters_.intercept_requests;
  push_event(kConnectRequestsHandle, tcp::event::Readable, true);
}

std::optional<ConnectRequest> Stack::Impl::poll_connect_request() {
  while (!new_requests_.empty()) {
    std::uint64_t id = new_requests_.front();
    new_requests_.pop_front();
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    return ConnectRequest{id, it->second.tuple.local, it->second.tuple.remote};
  }
  return std::nullopt;
}

std::size_t Stack::Impl::pending_requests() const { return requests_.size(); }

Expected<ConnectionId, Error> Stack::Impl::accept_request(std::uint64_t request, Instant now) {
  auto it = requests_.find(request);
  if (it == requests_.end()) return Unexpected{Error::NoSuchConnection};
  PendingRequest r = std::move(it->second);
  requests_.erase(it);
  request_by_tuple_.erase(r.tuple);
  if (by_tuple_.count(r.tuple)) return Unexpected{Error::AddressInUse};
  std::uint32_t index = 0;
  auto created = create_connection(r.tuple.local, r.tuple.remote, now, true, &index, r.isn_floor);
  if (!created) {
    ++counters_.tcp_connection_limit;
    return created;
  }
  // Half-open until after_call() sees it leave SYN-RECEIVED (or free_slot() frees it).
  mark_intercept_half_open(index);
  // The held SYN goes through the passive-open path of RFC 9293 §3.10.7.2 now, as if it
  // had just arrived at a listener: SYN-RECEIVED, SYN,ACK sent. Data on the SYN was not
  // kept; it is not acknowledged and the peer sends it again.
  deliver_segment(index, to_segment(r.tcp, {}), now);
  return created;
}

Expected<void, Error> Stack::Impl::refuse_request(std::uint64_t request, Refusal how, Instant now) {
  auto it = requests_.find(request);
  if (it == requests_.end()) return Unexpected{Error::NoSuchConnection};
  PendingRequest r = std::move(it->second);
  requests_.erase(it);
  request_by_tuple_.erase(r.tuple);
  ++counters_.intercept_refused;
  if (how == Refusal::Reset) {
    // RFC 9293 §3.10.7.1: what a closed port answers to a SYN: <SEQ=0><ACK=SEG.SEQ+1><RST,ACK>.
    send_reset_for(r.ip, r.tcp, to_segment(r.tcp, {}), now);
    return {};
  }
  // RFC 1122 §3.2.2 / RFC 4443 §2.4 (f): errors we send unasked are rate-limited, these too
  // (one per SYN the host refused: a namespace sending SYNs to unreachable addresses would
  // otherwise draw one each, as fast as it sends them). The request is gone either way.
  if (!icmp_error_allowed(now)) {
    ++counters_.icmp_rate_limited;
    return {};
  }
  // RFC 792 / RFC 4443 §3.1 destination unreachable, sent as the destination's router would.
  const bool v4 = r.ip.is_v4();
  std::uint8_t type = v4 ? icmp::kV4DestUnreachable : icmp::kV6DestUnreachable;
  std::uint8_t code = 0;
  switch (how) {
    case Refusal::HostUnreachable:
      code = v4 ? 1 : 3;
      break;  // host / address unreachable
    case Refusal::NetUnreachable:
      code = 0;
      break;  // net unreachable / no route
    case Refusal::Prohibited:
      code = v4 ? 13 : 1;
      break;  // administratively prohibited
    case Refusal::Reset:
      break;
  }
  std::vector<std::byte> out = take_buffer();
  icmp::build_error(r.tuple.local.addr, r.tuple.remote.addr, type, code, 0, r.quote, config_.ttl,
                    out);
  ++counters_.icmp_unreachable_sent;
  ++counters_.ip_packets_out;
  queue_tx(std::move(out));
  return {};
}

// --- UDP -----------------------------------------------------------------------------------

void Stack::Impl::handle_udp(const wire::IpHeader& ip, std::span<const std::byte> body,
                             bool checksum_verified, Instant now) {
  auto parsed = wire::parse_udp(ip, body, !checksum_verified);
  if (!parsed.datagram || is_broadcast_or_multicast(ip.dst)) {
    count_drop(&Counters::drop_udp_malformed, now);
    return;
  }
  const auto& d = *parsed.datagram;
  if (datagrams_.size() >= config_.max_datagrams ||
      datagram_bytes_ + d.payload.size() > config_.max_datagram_bytes) {
    count_drop(&Counters::drop_udp_queue_full, now);
    return;
  }
  if (budget() && !budget()->try_reserve(d.payload.size())) {
    ++counters_.drop_memory_pressure;  // issue 11 §4
    if (trace_) trace_->on_drop(DropEvent{now, 0, "drop_memory_pressure"});
    return;
  }
  Datagram out;
  out.local = wire::Endpoint{ip.dst, d.dst_port};
  out.remote = wire::Endpoint{ip.src, d.src_port};
  out.payload.assign(d.payload.begin(), d.payload.end());
  datagram_bytes_ += out.payload.size();
  datagrams_.push_back(std::move(out));
  ++counters_.udp_in;
  push_event(kDatagramsHandle, tcp::event::Readable, true);
}

std::optional<Datagram> Stack::Impl::poll_datagram() {
  if (datagrams_.empty()) return std::nullopt;
  Datagram d = std::move(datagrams_.front());
  datagrams_.pop_front();
  datagram_bytes_ -= d.payload.size();
  if (budget()) budget()->release(d.payload.size());
  return d;
}

Expected<void, Error> Stack::Impl::send_datagram(const wire::Endpoint& local,
                                                 const wire::Endpoint& remote,
                                                 std::span<const std::byte> payload, Instant) {
  if (local.addr.is_v4() != remote.addr.is_v4() || payload.size() > kMaxUdpPayload ||
      is_martian_source(remote.addr) || (!config_.intercept && !is_our_address(local.addr)))
    return Unexpected{Error::InvalidArgument};
  wire::IpHeader ip;
  ip.src = local.addr;
  ip.dst = remote.addr;
  ip.ttl = config_.ttl;
  std::vector<std::byte> out = take_buffer();
  wire::build_udp_packet(ip, local.port, remote.port, payload, out);
  ++counters_.udp_out;
  ++counters_.ip_packets_out;
  queue_tx(std::move(out));
  return {};
}

// --- ICMP echo beyond our addresses ------------------------------------------------------

void Stack::Impl::queue_echo_request(const wire::IpHeader& ip, std::uint32_t rest,
                                     std::span<const std::byte> data, Instant now) {
  // An echo to a broadcast or multicast group is not relayed (RFC 1122 §3.2.2.6 lets a host
  // ignore those; nothing on the host side could answer for the group).
  if (is_broadcast_or_multicast(ip.dst) || is_martian_source(ip.src)) {
    ++counters_.drop_icmp_not_ours;
    return;
  }
  if (echo_requests_.size() >= config_.max_echo_requests) {
    ++counters_.drop_icmp_echo_queue_full;
    if (trace_) trace_->on_drop(DropEvent{now, 0, "drop_icmp_echo_queue_full"});
    return;
  }
  EchoRequest r;
  r.local = ip.dst;
  r.remote = ip.src;
  r.identifier = static_cast<std::uint16_t>(rest >> 16);
  r.sequence = static_cast<std::uint16_t>(rest & 0xffff);
  r.data.assign(data.begin(), data.end());
  echo_requests_.push_back(std::move(r));
  ++counters_.icmp_echo_queued;
  push_event(kEchoRequestsHandle, tcp::event::Readable, true);
}

std::optional<EchoRequest> Stack::Impl::poll_echo_request() {
  if (echo_requests_.empty()) return std::nullopt;
  EchoRequest r = std::move(echo_requests_.front());
  echo_requests_.pop_front();
  return r;
}

Expected<void, Error> Stack::Impl::send_echo_reply(const EchoRequest& request,
                                                   std::span<const std::byte> data, Instant) {
  if (request.local.is_v4() != request.remote.is_v4() || data.size() > kMaxUdpPayload ||
      is_martian_source(request.remote) || (!config_.intercept && !is_our_address(request.local)))
    return Unexpected{Error::InvalidArgument};
  // build_echo_reply answers a request: describe the one we answer, then it swaps the
  // addresses and keeps identifier, sequence number and data (RFC 792, RFC 4443 §4.2).
  wire::IpHeader ip;
  ip.src = request.remote;
  ip.dst = request.local;
  icmp::IcmpMessage asked;
  asked.type = request.local.is_v4() ? icmp::kV4EchoRequest : icmp::kV6EchoRequest;
  asked.rest = (std::uint32_t{request.identifier} << 16) | request.sequence;
  asked.data = data;
  std::vector<std::byte> out = take_buffer();
  icmp::build_echo_reply(ip, asked, config_.ttl, out);
  ++counters_.icmp_echo_replies;
  ++counters_.ip_packets_out;
  queue_tx(std::move(out));
  return {};
}

Expected<void, Error> Stack::Impl::send_port_unreachable(const wire::Endpoint& local,
                                                         const wire::Endpoint& remote,
                                                         std::span<const std::byte> payload,
                                                         Instant now) {
  if (local.addr.is_v4() != remote.addr.is_v4() || payload.size() > kMaxUdpPayload ||
      is_martian_source(remote.addr) || (!config_.intercept && !is_our_address(local.addr)))
    return Unexpected{Error::InvalidArgument};
  // RFC 1122 §3.2.2 / RFC 4443 §2.4 (f): errors we send unasked are rate-limited.
  if (!icmp_error_allowed(now)) {
    ++counters_.icmp_rate_limited;
    return {};
  }
  // The invoking datagram as it came in, from `remote` to `local` (its UDP length and
  // checksum cover the payload given); build_error quotes as much of it as fits (RFC 1812
  // §4.3.2.3: 576 bytes in all for IPv4; RFC 4443 §2.4 (c): 1280 for IPv6).
  const bool v4 = local.addr.is_v4();
  wire::IpHeader ip;
  ip.src = remote.addr;
  ip.dst = local.addr;
  ip.ttl = config_.ttl;
  std::vector<std::byte> quote;  // a rate-limited error path: allocating is fine
  wire::build_udp_packet(ip, remote.port, local.port, payload, quote);
  std::vector<std::byte> out = take_buffer();
  // RFC 792 destination unreachable code 3, port unreachable; RFC 4443 §3.1 code 4, "the
  // transport protocol (e.g., UDP) has no listener".
  constexpr std::uint8_t kV4PortUnreachable = 3;
  constexpr std::uint8_t kV6PortUnreachable = 4;
  icmp::build_error(local.addr, remote.addr,
                    v4 ? icmp::kV4DestUnreachable : icmp::kV6DestUnreachable,
                    v4 ? kV4PortUnreachable : kV6PortUnreachable, 0, quote, config_.ttl, out);
  ++counters_.icmp_unreachable_sent;
  ++counters_.ip_packets_out;
  queue_tx(std::move(out));
  return {};
}

}  // namespace synack
