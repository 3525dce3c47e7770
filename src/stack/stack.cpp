// SPDX-License-Identifier: MIT
// Many connections: demultiplexing by 4-tuple, listeners with bounded queues, ephemeral
// ports, packet output, timers and events.
#include "stack/stack_impl.hpp"

#include <algorithm>
#include <functional>

#include "stack/icmp.hpp"
#include "stack/stack_internal.hpp"
#include "tcp/transitions.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace {
using namespace stack_internal;  // NOLINT(google-build-using-namespace)

constexpr std::uint64_t kListenerBit = 1ULL << 63;

std::uint32_t slot_index(ConnectionId id) { return static_cast<std::uint32_t>(id) - 1; }
std::uint32_t slot_generation(ConnectionId id) { return static_cast<std::uint32_t>(id >> 32); }

// The counter a parse error bumps (besides drop_malformed).
std::uint64_t Counters::*parse_error_counter(wire::ParseError e) {
  using wire::ParseError;
  using C = Counters;
  switch (e) {
    case ParseError::Truncated:
      return &C::drop_parse_truncated;
    case ParseError::BadIpVersion:
      return &C::drop_parse_ip_version;
    case ParseError::BadIpv4HeaderLength:
      return &C::drop_parse_ipv4_header_length;
    case ParseError::BadIpTotalLength:
      return &C::drop_parse_ip_total_length;
    case ParseError::BadIpv4HeaderChecksum:
      return &C::drop_parse_ipv4_checksum;
    case ParseError::Ipv4Fragment:
      return &C::drop_parse_ipv4_fragment;
    case ParseError::UnsupportedIpv6ExtensionHeader:
      return &C::drop_parse_ipv6_extension;
    case ParseError::TcpTruncated:
    case ParseError::TcpDataOffsetTooSmall:
    case ParseError::TcpDataOffsetPastEnd:
      return &C::drop_parse_tcp_header;
    case ParseError::TcpOptionLengthTooSmall:
    case ParseError::TcpOptionPastHeader:
    case ParseError::TcpOptionBadLength:
      return &C::drop_parse_tcp_option;
    case ParseError::TcpBadChecksum:
      return &C::drop_parse_tcp_checksum;
    case ParseError::NotTcp:
    case ParseError::None:
      break;
  }
  return &C::drop_malformed;
}

// The name `synack stats` shows for `counter`: a drop's trace names the counter it bumped.
std::string_view counter_name(std::uint64_t Counters::*counter) {
#define SYNACK_COUNTER_NAME(name, desc) \
  if (counter == &Counters::name) return #name;
  SYNACK_COUNTERS(SYNACK_COUNTER_NAME)
#undef SYNACK_COUNTER_NAME
  return "?";
}

// The two SipHash keys of the SYN cookies, derived from the ISN secret (itself drawn from the
// RandomSource at construction) by the same keyed PRF under salts nothing else uses: secret
// like it, independent of it for practical purposes, and drawing no further numbers keeps
// every seeded simulation (ports, ISNs, captures) exactly as it was.
tcp::SynCookies derive_cookie_keys(const tcp::IsnGenerator& isn) {
  const wire::Endpoint none{};
  auto key = [&](std::uint32_t salt) { return isn.hash_tuple(none, none, 0x636b0000 + salt); };
  return tcp::SynCookies({key(0), key(1)}, {key(2), key(3)});
}

}  // namespace

struct Stack::Impl::Slot {
  std::optional<tcp::Connection> conn;
  std::uint32_t generation = 1;
  std::uint32_t timer_version = 0;
  std::optional<Instant> scheduled;
  ListenerId parent = 0;  // listener of a passive connection not yet accepted
  bool queued = false;    // in its listener's accept queue
  bool detached = false;  // the application closed it
  // Interception: accepted from a connect request and still in SYN-RECEIVED (counted in
  // Impl::intercept_half_open_ until it connects or closes).
  bool intercept_half_open = false;
  bool time_wait = false;  // in TIME-WAIT (counted in Impl::time_wait_)
};

struct Stack::Impl::Listener {
  ListenerId id = 0;
  wire::Endpoint local;
  std::size_t backlog = 0;
  std::deque<ConnectionId> accept_queue;
  std::size_t half_open = 0;  // children in SYN-RECEIVED
  // When the last SYN cookie went out: ACKs are tried as cookies only for a while after
  // (Linux's tcp_synq_no_recent_overflow), so that a listener that never needed cookies
  // answers stray ACKs with a plain RST and spends no hash on them.
  std::optional<Instant> last_cookie;
  SocketOptions options;  // the application's sizes, for every connection accepted here
};

namespace {

// The ranges of SocketOptions (include/synack/stack.hpp); 0 is "not set".
bool valid(const SocketOptions& o) {
  constexpr std::uint32_t kMinBuffer = 1024, kMaxBuffer = 1u << 30;
  auto ok = [](std::uint32_t v) { return v == 0 || (v >= kMinBuffer && v <= kMaxBuffer); };
  return ok(o.send_buffer) && ok(o.receive_buffer) && (o.max_segment == 0 || o.max_segment >= 88);
}

}  // namespace

std::size_t Stack::Impl::TupleHash::operator()(const TupleKey& k) const {
  std::size_t h = k.local.addr.hash() * 31 + k.remote.addr.hash();
  h ^= (static_cast<std::size_t>(k.local.port) << 16 | k.remote.port) * 0x9e3779b97f4a7c15ULL;
  return h;
}

// Serializes what a connection sends into IP packets on the stack's transmit queue.
class Stack::Impl::Sink final : public tcp::SegmentSink {
 public:
  Sink(Impl& stack, const wire::Endpoint& local, const wire::Endpoint& remote, ConnectionId id,
       Instant now)
      : stack_(stack), local_(local), remote_(remote), id_(id), now_(now) {}
  void send(const tcp::Segment& seg) override { stack_.transmit(local_, remote_, seg, id_, now_); }
  std::uint32_t batch() const override { return stack_.batch_; }
  void held() override { stack_.held_.push_back(id_); }

 private:
  Impl& stack_;
  const wire::Endpoint& local_;
  const wire::Endpoint& remote_;
  ConnectionId id_;
  Instant now_;
};

Stack::Impl::Impl(StackConfig config, std::vector<wire::IpAddress> addresses, RandomSource* random)
    : config_(config),
      addresses_(std::move(addresses)),
      owned_random_(random ? nullptr : std::make_unique<SeededRandom>(config.random_seed)),
      random_(random ? random : owned_random_.get()),
      isn_({random_->next_u64(), random_->next_u64()}),
      cookies_(derive_cookie_keys(isn_)),
      invalid_acks_(config.invalid_acks_per_second) {}

Stack::Impl::~Impl() {
  if (budget()) budget()->release(datagram_bytes_);
}

bool Stack::Impl::memory_pressure() const {
  const MemoryBudget* b = budget();
  if (!b) return false;
  const std::size_t buffers =
      std::size_t{config_.tcp.send_buffer} + std::size_t{config_.tcp.receive_buffer};
  return !b->fits(std::max(b->limit() / 8, buffers));
}

void Stack::Impl::refuse_for_memory(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                                    const tcp::Segment& syn, Instant now) {
  ++counters_.tcp_memory_refused;
  if (trace_) trace_->on_drop(DropEvent{now, 0, "tcp_memory_refused"});
  send_reset_for(ip, tcp, syn, now);
}

void Stack::Impl::set_trace(TraceSink* trace) {
  trace_ = trace;
  for (auto& s : slots_) {
    if (s.conn) s.conn->set_context({&counters_, trace_, s.conn->id(), &invalid_acks_, budget()});
  }
}

bool Stack::Impl::is_our_address(const wire::IpAddress& a) const {
  return std::find(addresses_.begin(), addresses_.end(), a) != addresses_.end();
}

Stack::Impl::Slot* Stack::Impl::find(ConnectionId id) {
  Slot* s = find_any(id);
  return s && !s->detached ? s : nullptr;
}

Stack::Impl::Slot* Stack::Impl::find_any(ConnectionId id) {
  if (id & kListenerBit) return nullptr;
  std::uint32_t index = slot_index(id);
  if (index >= slots_.size()) return nullptr;
  Slot& s = slots_[index];
  if (!s.conn || s.generation != slot_generation(id)) return nullptr;
  return &s;
}

const Stack::Impl::Slot* Stack::Impl::find(ConnectionId id) const {
  return const_cast<Impl*>(this)->find(id);
}

// --- packets in ------------------------------------------------------------------------

void Stack::Impl::count_drop(std::uint64_t Counters::*counter, Instant now, ConnectionId id) {
  ++(counters_.*counter);
  if (trace_) trace_->on_drop(DropEvent{now, id, counter_name(counter)});
}

void Stack::Impl::receive_packet(std::span<const std::byte> packet, Instant now,
                                 ReceiveFlags flags) {
  receive_packet(packet, {}, now, flags);
}

namespace {

// Gather input (Stack::receive_packet with headers and payload apart) keeps them apart only
// for a TCP segment whose checksum the link vouches for, whose IP and TCP headers are exactly
// `packet` and which opens nothing (no SYN: a connection request keeps its packet whole).
bool stays_apart(std::span<const std::byte> packet, std::span<const std::byte> gathered,
                 ReceiveFlags flags) {
  if (!flags.checksum_verified) return false;
  auto ip = wire::parse_ip_header(packet, gathered.size());
  if (!ip || ip->protocol != wire::kProtoTcp ||
      ip->header_length + ip->payload_length != packet.size() + gathered.size()) {
    return false;
  }
  std::size_t header_length = 0;
  auto tcp = wire::parse_tcp_header(packet.subspan(ip->header_length), &header_length);
  return tcp && ip->header_length + header_length == packet.size() && (tcp->flags & tcp::SYN) == 0;
}

}  // namespace

void Stack::Impl::receive_packet(std::span<const std::byte> packet,
                                 std::span<const std::byte> gathered, Instant now,
                                 ReceiveFlags flags) {
  if (!gathered.empty() && !stays_apart(packet, gathered, flags)) {
    // Anything else — and anything malformed, whose drop is then counted as for one span —
    // is joined into one buffer and takes the ordinary path.
    gather_scratch_.assign(packet.begin(), packet.end());
    gather_scratch_.insert(gather_scratch_.end(), gathered.begin(), gathered.end());
    receive_packet(gather_scratch_, {}, now, flags);
    return;
  }
  ++counters_.ip_packets_in;
  auto ip = wire::parse_ip_header(packet, gathered.size());
  if (!ip) {
    ++counters_.drop_malformed;
    count_drop(parse_error_counter(ip.error()), now);
    return;
  }
  // Intercepting, every unicast destination is ours to answer for (user-mode networking).
  if (config_.intercept ? is_martian_source(ip->dst) && !is_our_address(ip->dst)
                        : !is_our_address(ip->dst)) {
    count_drop(&Counters::drop_not_our_address, now);
    return;
  }
  // Martian sources: our own address, or one no host may send from (MUST-63).
  if (is_our_address(ip->src) || is_martian_source(ip->src)) {
    count_drop(&Counters::drop_martian_source, now);
    return;
  }
  auto body = packet.subspan(ip->header_length,
                             std::min(ip->payload_length, packet.size() - ip->header_length));
  if (ip->protocol == wire::kProtoIcmp || ip->protocol == wire::kProtoIcmpv6) {
    handle_icmp(*ip, body, packet, now);
    return;
  }
  if (ip->protocol == wire::kProtoUdp && config_.intercept) {
    handle_udp(*ip, body, flags.checksum_verified, now);
    return;
  }
  if (ip->protocol != wire::kProtoTcp) {
    count_drop(&Counters::drop_unknown_protocol, now);
    send_protocol_unreachable(*ip, packet.first(ip->header_length + ip->payload_length), now);
    return;
  }
  std::size_t header_length = 0;
  auto tcp = wire::parse_tcp_header(body, &header_length);
  if (!tcp) {
    ++counters_.drop_malformed;
    count_drop(parse_error_counter(tcp.error()), now);
    return;
  }
  if (!flags.checksum_verified && !wire::verify_tcp_checksum(ip->src, ip->dst, body)) {
    ++counters_.drop_malformed;
    count_drop(&Counters::drop_parse_tcp_checksum, now);
    return;
  }
  ++counters_.tcp_segments_in;
  handle_tcp(*ip, *tcp, gathered.empty() ? body.subspan(header_length) : gathered, packet, now);
}

// --- IP layer: ICMP ----------------------------------------------------------------------

void Stack::Impl::handle_icmp(const wire::IpHeader& ip, std::span<const std::byte> body,
                              std::span<const std::byte> packet, Instant now) {
  ++counters_.icmp_in;
  const bool v6 = !ip.is_v4();
  // ICMP over IPv6 and ICMPv6 over IPv4 are not a thing: protocol 1 only in IPv4, 58 in IPv6.
  if (v6 != (ip.protocol == wire::kProtoIcmpv6)) {
    count_drop(&Counters::drop_unknown_protocol, now);
    return;
  }
  auto message = icmp::parse(ip, body);
  if (!message) {
    count_drop(&Counters::drop_icmp_malformed, now);
    return;
  }
  if (message->type == (v6 ? icmp::kV6EchoRequest : icmp::kV4EchoRequest) && message->code == 0) {
    if (!is_our_address(ip.dst)) {
      // Intercepting: we answer only for our own addresses, and hand the rest to the
      // application when it relays echo (intercept_echo).
      if (config_.intercept && config_.intercept_echo)
        queue_echo_request(ip, message->rest, message->data, now);
      else
        count_drop(&Counters::drop_icmp_not_ours, now);
      return;
    }
    // RFC 1122 §3.2.2.6: every host MUST implement an echo server; RFC 4443 §4.2: every
    // node MUST answer an echo request addressed to it.
    std::vector<std::byte> reply = take_buffer();
    icmp::build_echo_reply(ip, *message, config_.ttl, reply);
    ++counters_.icmp_echo_replies;
    ++counters_.ip_packets_out;
    queue_tx(std::move(reply));
    return;
  }
  if (icmp::is_error(v6, message->type)) {
    deliver_icmp_error(v6, message->type, message->code, message->data, packet, now);
    return;
  }
  // Echo replies (we send no requests), router/neighbour discovery (not on a point-to-point
  // TUN), and unknown informational types: nothing to do (RFC 4443 §2.4 (b)).
  ++counters_.icmp_ignored;
}

void Stack::Impl::deliver_icmp_error(bool v6, std::uint8_t type, std::uint8_t code,
                                     std::span<const std::byte> quote,
                                     std::span<const std::byte> packet, Instant now) {
  auto meaning = icmp::classify_error(v6, type, code);
  auto quoted = icmp::parse_quoted_tcp(v6, quote);
  if (!meaning || !quoted || !(config_.intercept || is_our_address(quoted->src))) {
    ++counters_.icmp_ignored;
    return;
  }
  auto it = by_tuple_.find(TupleKey{wire::Endpoint{quoted->src, quoted->src_port},
                                    wire::Endpoint{quoted->dst, quoted->dst_port}});
  if (it == by_tuple_.end()) {
    // It may quote another stack's connection (Stack::set_stray_handler: the stacks behind
    // one multi-queue TUN, where the kernel picks a queue for an ICMP error by its addresses,
    // not by the flow it quotes). The handler decides; an error nobody holds is ignored.
    if (stray_handler_ && stray_handler_(packet)) {
      count_drop(&Counters::icmp_stray_handed_off, now);
      return;
    }
    ++counters_.icmp_ignored;
    return;
  }
  std::uint32_t index = it->second;
  tcp::Connection& c = *slots_[index].conn;
  // RFC 5927 §4.1 (and Linux's tcp_v4_err): act only on an error quoting a sequence number we
  // sent that is not yet acknowledged, SND.UNA <= SEG.SEQ < SND.NXT; anything else is stale
  // or a blind attack.
  const ConnectionStatus st = c.status();
  const SeqNum seq(quoted->seq);
  if (st.snd_una == st.snd_nxt || seq < st.snd_una || seq >= st.snd_nxt) {
    count_drop(&Counters::icmp_ignored, now, c.id());
    return;
  }
  c.on_icmp_error(meaning->error, meaning->hard, now);
  after_call(index, now);
}

void Stack::Impl::send_protocol_unreachable(const wire::IpHeader& ip,
                                            std::span<const std::byte> packet, Instant now) {
  // RFC 1122 §3.2.2.1: a host SHOULD send protocol unreachable for a transport protocol it
  // does not implement (never about an ICMP message: that protocol we serve). RFC 8200 §4 /
  // RFC 4443 §3.4: IPv6 answers an unrecognized Next Header with a parameter problem, code 1,
  // pointing at the Next Header field (offset 6 of the fixed header).
  if (!icmp_error_allowed(now)) {
    ++counters_.icmp_rate_limited;
    return;
  }
  std::vector<std::byte> out = take_buffer();
  if (ip.is_v4()) {
    icmp::build_error(ip.dst, ip.src, icmp::kV4DestUnreachable, icmp::kV4CodeProtocolUnreachable, 0,
                      packet, config_.ttl, out);
  } else {
    constexpr std::uint32_t kNextHeaderOffset = 6;
    icmp::build_error(ip.dst, ip.src, icmp::kV6ParameterProblem,
                      icmp::kV6CodeUnrecognizedNextHeader, kNextHeaderOffset, packet, config_.ttl,
                      out);
  }
  ++counters_.icmp_unreachable_sent;
  ++counters_.ip_packets_out;
  queue_tx(std::move(out));
}

bool Stack::Impl::icmp_error_allowed(Instant now) {
  constexpr std::uint32_t kBurst = 50;
  constexpr Duration kPerToken = 1ms;
  if (!icmp_refilled_) icmp_refilled_ = now;
  if (now > *icmp_refilled_) {
    auto earned = static_cast<std::uint64_t>((now - *icmp_refilled_) / kPerToken);
    if (icmp_tokens_ + earned >= kBurst) {
      icmp_tokens_ = kBurst;
      icmp_refilled_ = now;
    } else {
      icmp_tokens_ += static_cast<std::uint32_t>(earned);
      *icmp_refilled_ += earned * kPerToken;
    }
  }
  if (icmp_tokens_ == 0) return false;
  --icmp_tokens_;
  return true;
}

std::vector<std::byte> Stack::Impl::take_buffer() {
  std::vector<std::byte> buffer;
  if (!spare_buffers_.empty()) {
    buffer = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  return buffer;
}

void Stack::Impl::handle_tcp(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                             std::span<const std::byte> payload, std::span<const std::byte> packet,
                             Instant now) {
  wire::Endpoint local{ip.dst, tcp.dst_port};
  wire::Endpoint remote{ip.src, tcp.src_port};
  tcp::Segment seg = to_segment(tcp, payload);

  std::optional<SeqNum> isn_floor;
  auto it = by_tuple_.find(TupleKey{local, remote});
  if (it != by_tuple_.end() && slots_[it->second].detached &&
      slots_[it->second].conn->accepts_reincarnation(seg)) {
    // RFC 9293 §3.6.1 (MAY-2), RFC 6191: a new SYN for a connection lingering in TIME-WAIT
    // reopens it — a client that reuses its port soon (a busy one, or a namespace behind
    // `synack run` whose side never entered TIME-WAIT) gets a connection, not silence.
    isn_floor = slots_[it->second].conn->reincarnation_isn_floor();
    free_slot(it->second);
    ++counters_.tcp_time_wait_reopened;
    it = by_tuple_.end();
  }
  if (it != by_tuple_.end()) {
    std::uint32_t index = it->second;
    Slot& s = slots_[index];
    if (trace_) {
      trace_->on_segment(SegmentEvent{now, s.conn->id(), Direction::In, remote, local,
                                      trace_header(tcp), static_cast<std::uint32_t>(payload.size()),
                                      false});
    }
    Sink sink(*this, s.conn->local(), s.conn->remote(), s.conn->id(), now);
    s.conn->on_segment(seg, now, sink);
    after_call(index, now);
    return;
  }
  if (trace_) {
    trace_->on_segment(SegmentEvent{now, 0, Direction::In, remote, local, trace_header(tcp),
                                    static_cast<std::uint32_t>(payload.size()), false});
  }

  // No connection: a listener on this address (or the wildcard) and port?
  Listener* listener = nullptr;
  for (auto& [id, l] : listeners_) {
    if (l->local.port == local.port &&
        (l->local.addr == local.addr || is_unspecified(l->local.addr))) {
      listener = l.get();
      if (l->local.addr == local.addr) break;
    }
  }
  bool plain_syn = seg.has(tcp::SYN) && !seg.has(tcp::ACK) && !seg.has(tcp::RST);
  if (listener && plain_syn) {
    // Bounded queues: refuse politely (drop the SYN; the peer retries) when full.
    if (listener->accept_queue.size() >= listener->backlog) {
      count_drop(&Counters::tcp_backlog_overflow, now);
      return;
    }
    if (memory_pressure()) {
      refuse_for_memory(ip, tcp, seg, now);
      return;
    }
    // RFC 4987 §3.6: with the SYN queue full (or always, by configuration), answer with a
    // SYN cookie and keep nothing; Linux's tcp_conn_request() makes the same choice.
    if (config_.syn_cookies == SynCookieMode::Always ||
        (config_.syn_cookies == SynCookieMode::Auto &&
         listener->half_open >= config_.max_syn_queue)) {
      send_syn_cookie(*listener, local, remote, seg, now);
      return;
    }
    if (listener->half_open >= config_.max_syn_queue) {
      count_drop(&Counters::tcp_syn_queue_overflow, now);
      return;
    }
    std::uint32_t index = 0;
    auto created =
        create_connection(local, remote, now, true, &index, isn_floor, nullptr, listener->options);
    if (!created) {
      ++counters_.tcp_connection_limit;
      return;
    }
    Slot& s = slots_[index];
    s.parent = listener->id;
    ++listener->half_open;
    Sink sink(*this, s.conn->local(), s.conn->remote(), s.conn->id(), now);
    s.conn->on_segment(seg, now, sink);
    after_call(index, now);
    return;
  }
  if (listener) {
    // RFC 9293 §3.10.7.2 for a listener: RST ignored, ACK answered with RST, rest dropped.
    if (seg.has(tcp::RST)) {
      count_drop(&Counters::drop_listen_rst, now);
    } else if (seg.has(tcp::ACK)) {
      // RFC 4987 §3.6: an ACK that matches no connection may return a SYN cookie (not with
      // SYN or RST, as Linux's cookie_v4_check). Taken, it made a connection; otherwise it
      // is answered as any ACK at a listener (§3.10.7.2: RST), as Linux does.
      if (!seg.has(tcp::SYN) && config_.syn_cookies != SynCookieMode::Never &&
          listener->last_cookie && now - *listener->last_cookie < 2 * tcp::SynCookies::kPeriod &&
          accept_syn_cookie(*listener, local, remote, seg, now))
        return;
      count_drop(&Counters::drop_listen_ack, now);
      send_reset_for(ip, tcp, seg, now);
    } else {
      count_drop(&Counters::drop_listen_other, now);
    }
    return;
  }
  if (config_.intercept && plain_syn) {
    queue_connect_request(ip, tcp, packet, isn_floor, now);
    return;
  }
  // Another stack's, perhaps (Stack::set_stray_handler): offered before it is answered.
  if (stray_handler_ && offer_stray(packet, payload)) {
    count_drop(&Counters::tcp_stray_handed_off, now);
    return;
  }
  // RFC 9293 §3.10.7.1: no connection, no listener — CLOSED: RST unless it is an RST.
  if (seg.has(tcp::RST)) {
    count_drop(&Counters::drop_closed_port_rst, now);
    return;
  }
  ++counters_.tcp_rst_closed_port;
  send_reset_for(ip, tcp, seg, now);
}

bool Stack::Impl::offer_stray(std::span<const std::byte> packet,
                              std::span<const std::byte> payload) {
  // Gather input keeps the payload apart from the headers (`packet`): made whole for the
  // handler, on this rare path.
  const bool apart = !payload.empty() && (payload.data() < packet.data() ||
                                          payload.data() >= packet.data() + packet.size());
  if (!apart) return stray_handler_(packet);
  std::vector<std::byte> whole(packet.begin(), packet.end());
  whole.insert(whole.end(), payload.begin(), payload.end());
  return stray_handler_(whole);
}

// --- SYN cookies (RFC 4987 §3.6; codec in tcp/syn_cookie.hpp) ----------------------------

void Stack::Impl::send_syn_cookie(Listener& listener, const wire::Endpoint& local,
                                  const wire::Endpoint& remote, const tcp::Segment& syn,
                                  Instant now) {
  const bool v6 = !local.addr.is_v4();
  // RFC 9293 §3.7.1 (MUST-15): 536 / 1220 when the SYN has no MSS option.
  const std::uint16_t peer_mss = syn.options.mss.value_or(v6 ? 1220 : 536);
  const std::uint8_t mss_index = tcp::SynCookies::mss_index(peer_mss, v6);
  const SeqNum cookie = cookies_.encode(local, remote, syn.seq, mss_index, now);
  // TSval on the clock the connection will use (Connection::ts_now with the offset
  // create_connection() gives it), its low bits carrying the options (Linux's
  // cookie_init_timestamp).
  const auto ts_offset = static_cast<std::uint32_t>(isn_.hash_tuple(local, remote, 1));
  const std::uint32_t ts_clock = static_cast<std::uint32_t>(to_us(now) / 1000) + ts_offset;
  const tcp::SharedTcpConfig conn_config = tcp_config(listener.options, local.addr);
  const std::uint32_t tsval =
      tcp::SynCookies::encode_tsval(ts_clock, tcp::cookie_options_for(*conn_config, syn));
  tcp::Segment synack = tcp::cookie_syn_ack(*conn_config, local, syn, cookie, tsval);
  listener.last_cookie = now;
  ++counters_.tcp_syncookies_sent;
  ++counters_.tcp_segments_out;
  transmit(local, remote, synack, 0, now);
}

bool Stack::Impl::accept_syn_cookie(Listener& listener, const wire::Endpoint& local,
                                    const wire::Endpoint& remote, const tcp::Segment& ack,
                                    Instant now) {
  // The ACK of our SYN,ACK: SEG.ACK - 1 is the cookie, SEG.SEQ - 1 the peer's ISN.
  auto mss_index = cookies_.decode(local, remote, ack.seq - 1, ack.ack - 1, now);
  tcp::Connection::CookieState state;
  if (mss_index && ack.options.timestamps) {
    // The echoed TSval carries the options (Linux's cookie_timestamp_decode). A TSecr with
    // a bit we never send (ECN: we do not negotiate it), or timestamps when we are not
    // configured for them, cannot answer our SYN,ACK (Linux refuses both too).
    const tcp::CookieOptions options = tcp::SynCookies::decode_tsecr(ack.options.timestamps->echo);
    if (options.ecn || !config_.tcp.timestamps) {
      mss_index.reset();
    } else {
      state.snd_wscale = options.window_scale;
      state.sack = options.sack;
      state.timestamps = true;
      state.ts_recent = ack.options.timestamps->value;
    }
  }
  // Without timestamps in the ACK: the MSS only, no window scaling, no SACK (Linux too).
  if (!mss_index) {
    count_drop(&Counters::tcp_syncookies_failed, now);
    return false;
  }
  ++counters_.tcp_syncookies_validated;
  if (listener.accept_queue.size() >= listener.backlog) {
    // Linux drops it too (ListenOverflows); the peer's retransmission may find room.
    count_drop(&Counters::tcp_backlog_overflow, now);
    return true;
  }
  if (memory_pressure()) {
    // Issue 11 §4: no connection now; the caller answers the ACK with an RST as at any
    // listener (also counted there as drop_listen_ack).
    count_drop(&Counters::tcp_memory_refused, now);
    return false;
  }
  state.iss = ack.ack - 1;
  state.irs = ack.seq - 1;
  state.peer_mss = tcp::SynCookies::mss_at(*mss_index, !local.addr.is_v4());
  std::uint32_t index = 0;
  auto created =
      create_connection(local, remote, now, true, &index, std::nullopt, &state, listener.options);
  if (!created) {
    ++counters_.tcp_connection_limit;
    return true;
  }
  ++counters_.tcp_passive_opens;
  const ConnectionId id = *created;
  slots_[index].parent = listener.id;
  ++listener.half_open;  // in SYN-RECEIVED until the ACK below moves it on (after_call)
  deliver_segment(index, ack, now);
  // The ACK matched SND.UNA < SEG.ACK <= SND.NXT by construction, so the connection is past
  // SYN-RECEIVED now; should it not be, nothing would ever retransmit for it: drop it.
  Slot* s = find(id);
  if (s && s->conn->state() == State::SynReceived) {
    --listener.half_open;
    free_slot(index);
  }
  return true;
}

void Stack::Impl::deliver_segment(std::uint32_t index, const tcp::Segment& seg, Instant now) {
  Slot& s = slots_[index];
  Sink sink(*this, s.conn->local(), s.conn->remote(), s.conn->id(), now);
  s.conn->on_segment(seg, now, sink);
  after_call(index, now);
}

void Stack::Impl::send_reset_for(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                                 const tcp::Segment& seg, Instant now) {
  auto rst = tcp::Connection::reset_for(seg);
  if (!rst) return;
  ++counters_.tcp_resets_sent;
  ++counters_.tcp_segments_out;
  transmit(wire::Endpoint{ip.dst, tcp.dst_port}, wire::Endpoint{ip.src, tcp.src_port}, *rst, 0,
           now);
}

// --- packets out -----------------------------------------------------------------------

void Stack::Impl::transmit(const wire::Endpoint& local, const wire::Endpoint& remote,
                           const tcp::Segment& seg, ConnectionId id, Instant now) {
  wire::IpHeader ip;
  ip.src = local.addr;
  ip.dst = remote.addr;
  ip.ttl = config_.ttl;
  ip.protocol = wire::kProtoTcp;
  wire::TcpHeader h;
  h.src_port = local.port;
  h.dst_port = remote.port;
  h.seq = seg.seq.raw();
  h.ack = seg.has(tcp::ACK) ? seg.ack.raw() : 0;
  h.flags = seg.flags;
  h.window = seg.window;
  h.options = seg.options;
  const auto checksum =
      config_.tcp_checksum_offload ? wire::TcpChecksum::PseudoHeaderOnly : wire::TcpChecksum::Full;
  if (trace_) {
    trace_->on_segment(SegmentEvent{now, id, Direction::Out, local, remote, trace_header(h),
                                    static_cast<std::uint32_t>(seg.payload.size()),
                                    seg.retransmission});
  }
  ++counters_.ip_packets_out;
  // Gather output: the writer sends the headers and the payload where it lies (the send
  // buffer); only while nothing waits in tx_queue_, so that packets leave in order.
  if (writer_ && tx_queue_.empty()) {
    wire::build_tcp_headers(ip, h, seg.payload, header_scratch_, checksum);
    if (writer_->write_packet(header_scratch_, seg.payload, seg.gso_size)) return;
  }
  std::vector<std::byte> buffer = take_buffer();
  wire::build_tcp_packet(ip, h, seg.payload, buffer, checksum);
  queue_tx(std::move(buffer), seg.gso_size);
}

void Stack::Impl::end_batch(Instant now) {
  batch_ = 0;
  for (ConnectionId id : held_) {
    // find_any(): a connection the application closed during the batch (detached) still
    // sends what it holds, its FIN among it; one freed during the batch is gone.
    Slot* s = find_any(id);
    if (!s) continue;
    Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
    s->conn->flush_held(now, sink);
    after_call(slot_index(id), now);
  }
  held_.clear();
}

bool Stack::Impl::pop_packet(std::vector<std::byte>& out, std::uint16_t* gso_size) {
  if (tx_queue_.empty()) return false;
  if (out.capacity() > 0 && spare_buffers_.size() < 64) spare_buffers_.push_back(std::move(out));
  out = std::move(tx_queue_.front().bytes);
  if (gso_size) *gso_size = tx_queue_.front().gso_size;
  tx_queue_.pop_front();
  return true;
}

// --- timers ----------------------------------------------------------------------------

void Stack::Impl::schedule(std::uint32_t index) {
  Slot& s = slots_[index];
  auto deadline = s.conn ? s.conn->next_deadline() : std::nullopt;
  if (deadline == s.scheduled) return;
  s.scheduled = deadline;
  ++s.timer_version;
  if (deadline) {
    timer_heap_.push_back(TimerEntry{*deadline, index, s.timer_version});
    std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
  }
}

std::optional<Instant> Stack::Impl::next_deadline() const {
  while (!timer_heap_.empty()) {
    const TimerEntry& top = timer_heap_.front();
    const Slot& s = slots_[top.index];
    if (s.conn && s.timer_version == top.version && s.scheduled) return top.at;
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
    timer_heap_.pop_back();
  }
  return std::nullopt;
}

void Stack::Impl::on_timer(Instant now) {
  // Bounded: each entry is popped once; connections re-armed for `now` run next call.
  std::size_t budget = timer_heap_.size();
  while (budget-- > 0 && !timer_heap_.empty() && timer_heap_.front().at <= now) {
    TimerEntry top = timer_heap_.front();
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
    timer_heap_.pop_back();
    Slot& s = slots_[top.index];
    if (!s.conn || s.timer_version != top.version) continue;
    s.scheduled.reset();
    Sink sink(*this, s.conn->local(), s.conn->remote(), s.conn->id(), now);
    s.conn->on_timer(now, sink);
    after_call(top.index, now);
  }
}

// --- bookkeeping after any call into a connection ---------------------------------------

void Stack::Impl::push_event(std::uint64_t handle, std::uint8_t bits, bool listener) {
  if (bits == 0) return;
  auto it = event_index_.find(handle);
  if (it != event_index_.end()) {
    events_[it->second - events_base_].events |= bits;
    return;
  }
  event_index_[handle] = events_base_ + events_.size();
  events_.push_back(SocketEvent{handle, bits, listener});
}

std::optional<SocketEvent> Stack::Impl::poll_event() {
  if (events_.empty()) return std::nullopt;
  SocketEvent e = events_.front();
  events_.pop_front();
  ++events_base_;
  event_index_.erase(e.handle);
  return e;
}

void Stack::Impl::mark_intercept_half_open(std::uint32_t index) {
  slots_[index].intercept_half_open = true;
  ++intercept_half_open_;
}

void Stack::Impl::after_call(std::uint32_t index, Instant now) {
  Slot& s = slots_[index];
  tcp::Connection& c = *s.conn;
  if (s.intercept_half_open && c.state() != State::SynReceived) {
    s.intercept_half_open = false;  // connected, reset or timed out
    --intercept_half_open_;
  }
  if (const bool tw = c.state() == State::TimeWait; tw != s.time_wait) {
    s.time_wait = tw;
    tw ? ++time_wait_ : --time_wait_;
  }
  std::uint8_t events = c.take_events();
  Listener* parent = nullptr;
  if (s.parent) {
    auto it = listeners_.find(s.parent);
    if (it != listeners_.end()) parent = it->second.get();
  }
  if (parent && !s.queued) {
    // A passive child: the application sees it only once accept() can return it.
    if (events & tcp::event::Connected) {
      --parent->half_open;
      s.queued = true;
      parent->accept_queue.push_back(c.id());
      push_event(parent->id, tcp::event::Readable, true);
    } else if (c.state() == State::Closed || c.state() == State::Listen) {
      // Reset in SYN-RECEIVED (returned to LISTEN) or timed out: forget the child.
      --parent->half_open;
      free_slot(index);
      return;
    }
  } else if (s.parent && !parent && !s.queued &&
             (c.state() == State::Closed || c.state() == State::Listen)) {
    free_slot(index);  // its listener is gone
    return;
  }
  if (s.detached && s.time_wait && time_wait_ > config_.max_time_wait) {
    // Linux's tcp_max_tw_buckets ("time wait bucket table overflow"): beyond the bound the
    // connection is not kept for its 2 MSL (RFC 9293 §3.6.1); its last ACK has gone already.
    ++counters_.tcp_time_wait_overflow;
    free_slot(index);
    return;
  }
  if (s.detached) {
    // Closed by the application: unread data means nobody will read it; RFC 2525 §2.17.
    if (c.readable() > 0 && c.state() != State::Closed) {
      Sink sink(*this, c.local(), c.remote(), c.id(), now);
      c.abort(now, sink);
    }
    if (c.state() == State::Closed) {
      free_slot(index);
      return;
    }
  } else if (!(parent && !s.queued)) {
    push_event(c.id(), events, false);
  }
  schedule(index);
}

void Stack::Impl::free_slot(std::uint32_t index) {
  Slot& s = slots_[index];
  if (!s.conn) return;
  by_tuple_.erase(TupleKey{s.conn->local(), s.conn->remote()});
  if (s.queued && s.parent) {
    auto it = listeners_.find(s.parent);
    if (it != listeners_.end()) {
      auto& q = it->second->accept_queue;
      q.erase(std::remove(q.begin(), q.end(), s.conn->id()), q.end());
    }
  }
  if (s.intercept_half_open) {
    s.intercept_half_open = false;
    --intercept_half_open_;
  }
  if (s.time_wait) {
    s.time_wait = false;
    --time_wait_;
  }
  s.conn.reset();
  ++s.generation;
  ++s.timer_version;
  s.scheduled.reset();
  s.parent = 0;
  s.queued = false;
  s.detached = false;
  free_slots_.push_back(index);
  --live_;
}

Expected<ConnectionId, Error> Stack::Impl::create_connection(
    wire::Endpoint local, wire::Endpoint remote, Instant now, bool passive,
    std::uint32_t* index_out, std::optional<SeqNum> isn_floor,
    const tcp::Connection::CookieState* cookie, const SocketOptions& options) {
  if (live_ - time_wait_ >= config_.max_connections) return Unexpected{Error::TooManyConnections};
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  ConnectionId id = (static_cast<std::uint64_t>(s.generation) << 32) | (index + 1);
  SeqNum isn = isn_.generate(local, remote, now);
  if (isn_floor && isn < *isn_floor) isn = *isn_floor;
  auto ts_offset = static_cast<std::uint32_t>(isn_.hash_tuple(local, remote, 1));
  tcp::ConnectionContext ctx{&counters_, trace_, id, &invalid_acks_, budget()};
  tcp::SharedTcpConfig conn_config = tcp_config(options, local.addr);
  if (cookie) {
    s.conn.emplace(
        tcp::Connection::from_syn_cookie(conn_config, ctx, local, remote, *cookie, ts_offset, now));
  } else if (passive) {
    s.conn.emplace(tcp::Connection::for_listener(conn_config, ctx, local, remote, isn, ts_offset));
  } else {
    s.conn.emplace(conn_config, ctx, local, remote, isn, ts_offset);
  }
  by_tuple_[TupleKey{local, remote}] = index;
  ++live_;
  *index_out = index;
  return id;
}

tcp::SharedTcpConfig Stack::Impl::tcp_config(const SocketOptions& options,
                                             const wire::IpAddress& local) const {
  // Without socket options every connection shares the stack's TcpConfig (issue 14: memory
  // per idle connection); with them, each gets its own copy.
  if (!options.send_buffer && !options.receive_buffer && !options.max_segment) return default_tcp_;
  TcpConfig c = config_.tcp;
  if (options.send_buffer) c.send_buffer = options.send_buffer;
  if (options.receive_buffer) {
    // Follows Linux: with SO_RCVBUF set, tcp_select_initial_window() sizes the window scale
    // for that buffer (window_clamp = tcp_full_space), not for tcp_rmem[2]; RFC 7323 §2.3
    // only asks that the shift cover the buffer.
    c.receive_buffer = options.receive_buffer;
    c.window_scale_buffer = 0;
  }
  if (options.max_segment) {
    // TCP_MAXSEG as Linux's user_mss (tcp_mss_clamp): it bounds the MSS we announce, and so
    // the effective send MSS (RFC 9293 §3.7.1: min of the peer's MSS and ours). TcpConfig::mss
    // is the IPv4 value; IPv6 announces 20 less (Connection::announced_mss).
    const std::uint32_t clamp = options.max_segment + (local.is_v4() ? 0u : 20u);
    c.mss = static_cast<std::uint16_t>(std::min<std::uint32_t>(c.mss, clamp));
  }
  return tcp::SharedTcpConfig(c);
}

// --- sockets API -------------------------------------------------------------------------

Expected<ListenerId, Error> Stack::Impl::listen(wire::Endpoint local, Instant now,
                                                std::size_t backlog, const SocketOptions& options) {
  if (local.port == 0 || !valid(options)) return Unexpected{Error::InvalidArgument};
  if (!is_unspecified(local.addr) && !is_our_address(local.addr))
    return Unexpected{Error::InvalidArgument};
  for (auto& [id, l] : listeners_) {
    if (l->local.port == local.port &&
        (l->local.addr == local.addr || is_unspecified(l->local.addr) ||
         is_unspecified(local.addr)))
      return Unexpected{Error::AddressInUse};
  }
  auto l = std::make_unique<Listener>();
  l->id = kListenerBit | next_listener_++;
  l->local = local;
  l->backlog = backlog ? backlog : config_.default_backlog;
  l->options = options;
  ListenerId id = l->id;
  // RFC 9293 §3.10.1 OPEN (passive): the listener's CLOSED -> LISTEN, a row of the table.
  constexpr tcp::Cause cause = tcp::Cause::PassiveOpen;
  static_assert(tcp::is_listed(State::Closed, State::Listen, cause));
  if (trace_)
    trace_->on_transition(
        TransitionEvent{now, id, local, {}, State::Closed, State::Listen, tcp::label(cause)});
  listeners_.emplace(id, std::move(l));
  return id;
}

Expected<ConnectionId, Error> Stack::Impl::accept(ListenerId listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return Unexpected{Error::NoSuchConnection};
  auto& q = it->second->accept_queue;
  while (!q.empty()) {
    ConnectionId id = q.front();
    q.pop_front();
    Slot* s = find(id);
    if (!s) continue;
    s->queued = false;
    s->parent = 0;
    return id;
  }
  return Unexpected{Error::WouldBlock};
}

Expected<void, Error> Stack::Impl::close_listener(ListenerId listener, Instant now) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return Unexpected{Error::NoSuchConnection};
  // Connections not yet accepted are reset, as a kernel does when a listening socket closes.
  std::vector<ConnectionId> pending(it->second->accept_queue.begin(),
                                    it->second->accept_queue.end());
  wire::Endpoint local = it->second->local;
  listeners_.erase(it);
  for (ConnectionId id : pending) (void)abort(id, now);
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].conn && slots_[i].parent == listener) {
      Sink sink(*this, slots_[i].conn->local(), slots_[i].conn->remote(), slots_[i].conn->id(),
                now);
      slots_[i].conn->abort(now, sink);
      free_slot(i);
    }
  }
  // RFC 9293 §3.10.4 CLOSE in LISTEN: "Any outstanding RECEIVEs are returned ... delete TCB".
  constexpr tcp::Cause cause = tcp::Cause::ListenerClose;
  static_assert(tcp::is_listed(State::Listen, State::Closed, cause));
  if (trace_)
    trace_->on_transition(
        TransitionEvent{now, listener, local, {}, State::Listen, State::Closed, tcp::label(cause)});
  return {};
}

std::optional<std::uint16_t> Stack::Impl::pick_ephemeral_port(const wire::IpAddress& local,
                                                              const wire::Endpoint& remote) {
  std::uint32_t first = config_.ephemeral_first;
  std::uint32_t count = config_.ephemeral_last - first + 1;
  // RFC 6056 §3.3.1-style: random start, then linear search for a free 4-tuple.
  std::uint32_t start = static_cast<std::uint32_t>(random_->next_u64() % count);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto port = static_cast<std::uint16_t>(first + (start + i) % count);
    if (by_tuple_.count(TupleKey{wire::Endpoint{local, port}, remote})) continue;
    bool listening = false;
    for (auto& [id, l] : listeners_)
      if (l->local.port == port) listening = true;
    if (!listening) return port;
  }
  return std::nullopt;
}

Expected<ConnectionId, Error> Stack::Impl::connect(wire::Endpoint remote, Instant now,
                                                   std::optional<wire::Endpoint> local,
                                                   const SocketOptions& options) {
  if (remote.port == 0 || is_unspecified(remote.addr) || is_broadcast_or_multicast(remote.addr))
    return Unexpected{Error::InvalidArgument};  // RFC 9293 §3.9.1.1 (MUST-46)
  if (!valid(options)) return Unexpected{Error::InvalidArgument};
  wire::Endpoint l;
  if (local && !is_unspecified(local->addr)) {
    if (!is_our_address(local->addr)) return Unexpected{Error::InvalidArgument};
    l.addr = local->addr;
  } else {
    auto it = std::find_if(addresses_.begin(), addresses_.end(), [&](const wire::IpAddress& a) {
      return a.family == remote.addr.family;
    });
    if (it == addresses_.end()) return Unexpected{Error::InvalidArgument};
    l.addr = *it;
  }
  if (local && local->port != 0) {
    l.port = local->port;
    if (by_tuple_.count(TupleKey{l, remote})) return Unexpected{Error::AddressInUse};
  } else {
    auto port = pick_ephemeral_port(l.addr, remote);
    if (!port) return Unexpected{Error::NoPortsAvailable};
    l.port = *port;
  }
  if (memory_pressure()) {
    ++counters_.tcp_memory_refused;  // issue 11 §4
    return Unexpected{Error::TooManyConnections};
  }
  std::uint32_t index = 0;
  auto id = create_connection(l, remote, now, false, &index, std::nullopt, nullptr, options);
  if (!id) {
    ++counters_.tcp_connection_limit;
    return id;
  }
  ++counters_.tcp_active_opens;
  Slot& s = slots_[index];
  Sink sink(*this, s.conn->local(), s.conn->remote(), s.conn->id(), now);
  (void)s.conn->open_active(now, sink);
  after_call(index, now);
  return id;
}

Expected<std::size_t, Error> Stack::Impl::send(ConnectionId id, std::span<const std::byte> data,
                                               Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  auto r = s->conn->send(data, now, sink);
  after_call(slot_index(id), now);
  return r;
}

Expected<std::size_t, Error> Stack::Impl::send_last(ConnectionId id,
                                                    std::span<const std::byte> data, Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  auto r = s->conn->send(data, now, sink, true);
  after_call(slot_index(id), now);
  return r;
}

Expected<std::size_t, Error> Stack::Impl::receive(ConnectionId id, std::span<std::byte> out,
                                                  Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  auto r = s->conn->receive(out, now, sink);
  after_call(slot_index(id), now);
  return r;
}

Expected<std::size_t, Error> Stack::Impl::receive_with(ConnectionId id, const BufferReader& reader,
                                                       Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  auto r = s->conn->receive_with(reader, now, sink);
  after_call(slot_index(id), now);
  return r;
}

Expected<std::size_t, Error> Stack::Impl::send_with(ConnectionId id, const BufferWriter& writer,
                                                    Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  auto r = s->conn->send_with(writer, now, sink);
  after_call(slot_index(id), now);
  return r;
}

Expected<void, Error> Stack::Impl::shutdown_write(ConnectionId id, Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  auto r = s->conn->close(now, sink);
  after_call(slot_index(id), now);
  return r;
}

Expected<void, Error> Stack::Impl::close(ConnectionId id, Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  std::uint32_t index = slot_index(id);
  tcp::Connection& c = *s->conn;
  Sink sink(*this, c.local(), c.remote(), id, now);
  if (c.readable() > 0 && c.state() != State::Closed) {
    // RFC 2525 §2.17: data received and never read makes the close an abort — an RST
    // instead of the FIN, not a FIN followed by an RST.
    c.abort(now, sink);
  } else if (c.state() != State::Closed && !c.write_shut()) {
    (void)c.close(now, sink);
  }
  s->conn->set_direct_reader(nullptr);  // the application is gone: its reader with it
  if (c.state() != State::Closed) c.set_orphaned(now);  // Linux's bounds for orphans
  s->detached = true;
  after_call(index, now);
  return {};
}

Expected<void, Error> Stack::Impl::abort(ConnectionId id, Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  std::uint32_t index = slot_index(id);
  Sink sink(*this, s->conn->local(), s->conn->remote(), id, now);
  s->conn->abort(now, sink);
  s->conn->set_direct_reader(nullptr);  // the application is gone: its reader with it
  s->detached = true;
  after_call(index, now);
  return {};
}

Expected<void, Error> Stack::Impl::set_no_delay(ConnectionId id, bool on) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  s->conn->set_no_delay(on);
  return {};
}

Expected<void, Error> Stack::Impl::set_direct_reader(ConnectionId id, const BufferReader* reader) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  s->conn->set_direct_reader(reader);
  return {};
}

Expected<void, Error> Stack::Impl::set_keepalive(ConnectionId id, bool on, Duration idle,
                                                 Duration interval, std::uint8_t probes,
                                                 Instant now) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  if (idle <= Duration{0} || interval <= Duration{0} || probes == 0)
    return Unexpected{Error::InvalidArgument};
  s->conn->set_keepalive(on, idle, interval, probes, now);
  schedule(slot_index(id));
  return {};
}

Expected<void, Error> Stack::Impl::set_user_timeout(ConnectionId id, std::uint8_t data_retries,
                                                    Duration user_timeout) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  s->conn->set_user_timeout(data_retries, user_timeout);
  return {};
}

Expected<void, Error> Stack::Impl::set_congestion(ConnectionId id, CongestionAlgorithm algorithm) {
  Slot* s = find(id);
  if (!s) return Unexpected{Error::NoSuchConnection};
  s->conn->set_congestion(algorithm);
  return {};
}

std::optional<State> Stack::Impl::state(ConnectionId id) const {
  const Slot* s = find(id);
  if (!s) return std::nullopt;
  return s->conn->state();
}

std::optional<std::uint32_t> Stack::Impl::send_space(ConnectionId id) const {
  const Slot* s = find(id);
  if (!s) return std::nullopt;
  return s->conn->send_space();
}

std::optional<ConnectionStatus> Stack::Impl::status(ConnectionId id) const {
  const Slot* s = find(id);
  if (!s) return std::nullopt;
  return s->conn->status();
}

std::optional<Error> Stack::Impl::connection_error(ConnectionId id) const {
  const Slot* s = find(id);
  if (!s) return std::nullopt;
  return s->conn->error();
}

std::vector<ConnectionInfo> Stack::Impl::connections() const {
  std::vector<ConnectionInfo> out;
  for (const auto& s : slots_) {
    if (!s.conn) continue;
    out.push_back(ConnectionInfo{s.conn->id(), s.conn->local(), s.conn->remote(), s.conn->status(),
                                 s.detached});
  }
  return out;
}

// --- the public class: each call forwards to Impl (defined in this file, so the compiler may
// inline the forwarded body; the per-packet cost is one pointer load) ---

Stack::Stack(StackConfig config, std::vector<wire::IpAddress> addresses, RandomSource* random)
    : impl_(std::make_unique<Impl>(config, std::move(addresses), random)) {}
Stack::~Stack() = default;

void Stack::receive_packet(std::span<const std::byte> packet, Instant now, ReceiveFlags flags) {
  impl_->receive_packet(packet, now, flags);
}

void Stack::receive_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                           Instant now, ReceiveFlags flags) {
  impl_->receive_packet(headers, payload, now, flags);
}
void Stack::on_timer(Instant now) { impl_->on_timer(now); }
std::optional<Instant> Stack::next_deadline() const { return impl_->next_deadline(); }
void Stack::begin_batch() { impl_->begin_batch(); }

void Stack::end_batch(Instant now) { impl_->end_batch(now); }

bool Stack::pop_packet(std::vector<std::byte>& out, std::uint16_t* gso_size) {
  return impl_->pop_packet(out, gso_size);
}

void Stack::set_packet_writer(PacketWriter* writer) { impl_->set_packet_writer(writer); }

Expected<ListenerId, Error> Stack::listen(wire::Endpoint local, Instant now, std::size_t backlog,
                                          SocketOptions options) {
  return impl_->listen(local, now, backlog, options);
}
Expected<ConnectionId, Error> Stack::accept(ListenerId listener) { return impl_->accept(listener); }
Expected<void, Error> Stack::close_listener(ListenerId listener, Instant now) {
  return impl_->close_listener(listener, now);
}
Expected<ConnectionId, Error> Stack::connect(wire::Endpoint remote, Instant now,
                                             std::optional<wire::Endpoint> local,
                                             SocketOptions options) {
  return impl_->connect(remote, now, local, options);
}
Expected<std::size_t, Error> Stack::send(ConnectionId id, std::span<const std::byte> data,
                                         Instant now) {
  return impl_->send(id, data, now);
}
Expected<std::size_t, Error> Stack::receive(ConnectionId id, std::span<std::byte> out,
                                            Instant now) {
  return impl_->receive(id, out, now);
}
Expected<std::size_t, Error> Stack::send_last(ConnectionId id, std::span<const std::byte> data,
                                              Instant now) {
  return impl_->send_last(id, data, now);
}
Expected<void, Error> Stack::shutdown_write(ConnectionId id, Instant now) {
  return impl_->shutdown_write(id, now);
}
Expected<std::size_t, Error> Stack::receive_with(ConnectionId id, const BufferReader& reader,
                                                 Instant now) {
  return impl_->receive_with(id, reader, now);
}
Expected<std::size_t, Error> Stack::send_with(ConnectionId id, const BufferWriter& writer,
                                              Instant now) {
  return impl_->send_with(id, writer, now);
}
Expected<void, Error> Stack::close(ConnectionId id, Instant now) { return impl_->close(id, now); }
Expected<void, Error> Stack::abort(ConnectionId id, Instant now) { return impl_->abort(id, now); }
Expected<void, Error> Stack::set_no_delay(ConnectionId id, bool on) {
  return impl_->set_no_delay(id, on);
}
Expected<void, Error> Stack::set_direct_reader(ConnectionId id, const BufferReader* reader) {
  return impl_->set_direct_reader(id, reader);
}
Expected<void, Error> Stack::set_keepalive(ConnectionId id, bool on, Duration idle,
                                           Duration interval, std::uint8_t probes, Instant now) {
  return impl_->set_keepalive(id, on, idle, interval, probes, now);
}
Expected<void, Error> Stack::set_user_timeout(ConnectionId id, std::uint8_t data_retries,
                                              Duration user_timeout) {
  return impl_->set_user_timeout(id, data_retries, user_timeout);
}
Expected<void, Error> Stack::set_congestion(ConnectionId id, CongestionAlgorithm algorithm) {
  return impl_->set_congestion(id, algorithm);
}
std::optional<ConnectRequest> Stack::poll_connect_request() {
  return impl_->poll_connect_request();
}
Expected<ConnectionId, Error> Stack::accept_request(std::uint64_t request, Instant now) {
  return impl_->accept_request(request, now);
}
Expected<void, Error> Stack::refuse_request(std::uint64_t request, Refusal how, Instant now) {
  return impl_->refuse_request(request, how, now);
}
std::size_t Stack::pending_requests() const { return impl_->pending_requests(); }
std::optional<Datagram> Stack::poll_datagram() { return impl_->poll_datagram(); }
Expected<void, Error> Stack::send_datagram(const wire::Endpoint& local,
                                           const wire::Endpoint& remote,
                                           std::span<const std::byte> payload, Instant now) {
  return impl_->send_datagram(local, remote, payload, now);
}
std::optional<EchoRequest> Stack::poll_echo_request() { return impl_->poll_echo_request(); }
Expected<void, Error> Stack::send_echo_reply(const EchoRequest& request,
                                             std::span<const std::byte> data, Instant now) {
  return impl_->send_echo_reply(request, data, now);
}
Expected<void, Error> Stack::send_port_unreachable(const wire::Endpoint& local,
                                                   const wire::Endpoint& remote,
                                                   std::span<const std::byte> payload,
                                                   Instant now) {
  return impl_->send_port_unreachable(local, remote, payload, now);
}
std::optional<State> Stack::state(ConnectionId id) const { return impl_->state(id); }
std::optional<std::uint32_t> Stack::send_space(ConnectionId id) const {
  return impl_->send_space(id);
}
std::optional<ConnectionStatus> Stack::status(ConnectionId id) const { return impl_->status(id); }
std::optional<Error> Stack::connection_error(ConnectionId id) const {
  return impl_->connection_error(id);
}
std::vector<ConnectionInfo> Stack::connections() const { return impl_->connections(); }
std::size_t Stack::connection_count() const { return impl_->live_; }
std::optional<SocketEvent> Stack::poll_event() { return impl_->poll_event(); }
const Counters& Stack::counters() const {
  impl_->refresh_gauges();
  return impl_->counters_;
}
Counters& Stack::counters() {
  impl_->refresh_gauges();
  return impl_->counters_;
}
MemoryBudget* Stack::memory_budget() const { return impl_->budget(); }
void Stack::set_trace(TraceSink* trace) { impl_->set_trace(trace); }

void Stack::set_stray_handler(StrayHandler handler) { impl_->stray_handler_ = std::move(handler); }
const std::vector<wire::IpAddress>& Stack::addresses() const { return impl_->addresses_; }
const StackConfig& Stack::config() const { return impl_->config_; }

}  // namespace synack
