// SPDX-License-Identifier: MIT
// Interception (StackConfig::intercept), the core of `synack run`: SYNs to any destination
// held until the application decides, answered with SYN,ACK, RST or ICMP unreachable; UDP
// datagrams to any destination queued and sent back from that destination.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stack/icmp.hpp"
#include "synack/stack.hpp"
#include "tcp/segment.hpp"  // tcp::SYN, ...
#include "tcp_packets.hpp"
#include "wire/packet.hpp"
#include "wire/udp.hpp"

namespace synack {
namespace intercept_test {

using wire::IpAddress;

const IpAddress kGateway = IpAddress::v4(198, 18, 0, 1);
const IpAddress kGuest = IpAddress::v4(198, 18, 0, 2);
const IpAddress kFar = IpAddress::v4(198, 19, 7, 7);  // "somewhere else": not ours
const IpAddress kGateway6 = *IpAddress::parse("fd53:796e:6163::1");
const IpAddress kGuest6 = *IpAddress::parse("fd53:796e:6163::2");
const IpAddress kFar6 = *IpAddress::parse("fd53:796e:6163:1::7");

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

StackConfig intercepting() {
  StackConfig c;
  c.intercept = true;
  c.max_connect_requests = 4;
  c.max_datagrams = 3;
  return c;
}

std::vector<std::byte> tcp_packet(const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                                  std::uint16_t dport, std::uint8_t flags, std::uint32_t seq,
                                  std::uint32_t ack = 0) {
  return tcp_packets::tcp_packet({src, sport}, {dst, dport}, flags, seq, ack, {},
                                 {.syn_mss = 1400, .tsval = {}});
}

std::optional<wire::TcpPacket> pop_tcp(Stack& stack, std::vector<std::byte>& buffer) {
  if (!stack.pop_packet(buffer)) return std::nullopt;
  auto p = wire::parse_tcp_packet(buffer);
  if (!p) return std::nullopt;
  return *p;
}

TEST(Intercept, SynToAnyAddressWaitsForTheApplicationThenGetsSynAck) {
  Stack stack(intercepting(), {kGateway});
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 443, tcp::SYN, 1000), at_ms(0));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out)) << "nothing is answered before the application decides";
  auto ev = stack.poll_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->handle, kConnectRequestsHandle);
  auto req = stack.poll_connect_request();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->local, (wire::Endpoint{kFar, 443}));
  EXPECT_EQ(req->remote, (wire::Endpoint{kGuest, 40000}));
  EXPECT_FALSE(stack.poll_connect_request());

  // The guest retransmits its SYN: still one request.
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 443, tcp::SYN, 1000), at_ms(1000));
  EXPECT_FALSE(stack.poll_connect_request());
  EXPECT_EQ(stack.counters().intercept_syn_repeats, 1u);

  auto id = stack.accept_request(req->id, at_ms(1100));
  ASSERT_TRUE(id);
  auto synack = pop_tcp(stack, out);
  ASSERT_TRUE(synack);
  EXPECT_EQ(synack->ip.src, kFar) << "the SYN,ACK comes from the destination the guest asked for";
  EXPECT_EQ(synack->tcp.src_port, 443);
  EXPECT_EQ(synack->tcp.flags, tcp::SYN | tcp::ACK);
  EXPECT_EQ(synack->tcp.ack, 1001u);
  EXPECT_EQ(stack.state(*id), State::SynReceived);
  EXPECT_EQ(stack.pending_requests(), 0u);

  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 443, tcp::ACK, 1001, synack->tcp.seq + 1),
                       at_ms(1101));
  EXPECT_EQ(stack.state(*id), State::Established);
  bool connected = false;
  while (auto e = stack.poll_event())
    if (e->handle == *id && (e->events & tcp::event::Connected)) connected = true;
  EXPECT_TRUE(connected);
}

TEST(Intercept, RefusalIsAResetOrAnIcmpUnreachableQuotingTheSyn) {
  Stack stack(intercepting(), {kGateway, kGateway6});
  stack.receive_packet(tcp_packet(kGuest, 40001, kFar, 81, tcp::SYN, 7), at_ms(0));
  stack.receive_packet(tcp_packet(kGuest, 40002, kFar, 82, tcp::SYN, 9), at_ms(0));
  stack.receive_packet(tcp_packet(kGuest6, 40003, kFar6, 83, tcp::SYN, 11), at_ms(0));
  auto a = stack.poll_connect_request(), b = stack.poll_connect_request(),
       c = stack.poll_connect_request();
  ASSERT_TRUE(a && b && c);

  std::vector<std::byte> out;
  ASSERT_TRUE(stack.refuse_request(a->id, Refusal::Reset, at_ms(1)));
  auto rst = pop_tcp(stack, out);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->tcp.flags, tcp::RST | tcp::ACK);
  EXPECT_EQ(rst->tcp.ack, 8u);
  EXPECT_EQ(rst->ip.src, kFar);

  for (auto [req, v6] : {std::pair{*b, false}, std::pair{*c, true}}) {
    ASSERT_TRUE(stack.refuse_request(req.id, Refusal::HostUnreachable, at_ms(2)));
    ASSERT_TRUE(stack.pop_packet(out));
    auto ip = wire::parse_ip_header(out);
    ASSERT_TRUE(ip);
    auto m = icmp::parse(
        *ip, std::span<const std::byte>(out).subspan(ip->header_length, ip->payload_length));
    ASSERT_TRUE(m) << "well-formed, checksum correct";
    EXPECT_EQ(m->type, v6 ? icmp::kV6DestUnreachable : icmp::kV4DestUnreachable);
    EXPECT_EQ(m->code, v6 ? 3 : 1);
    auto quoted = icmp::parse_quoted_tcp(v6, m->data);
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->dst_port, v6 ? 83 : 82);
  }
  EXPECT_EQ(stack.counters().intercept_refused, 3u);
  EXPECT_FALSE(stack.refuse_request(a->id, Refusal::Reset, at_ms(3)));
  EXPECT_FALSE(stack.accept_request(a->id, at_ms(3)));
}

TEST(Intercept, UnreachableAnswersAreRateLimitedWithTheOtherIcmpErrors_Rfc1122_3_2_2) {
  StackConfig config = intercepting();
  config.max_connect_requests = 100;
  Stack stack(config, {kGateway});
  for (std::uint16_t p = 1; p <= 80; ++p)
    stack.receive_packet(tcp_packet(kGuest, 40000, kFar, p, tcp::SYN, 1), at_ms(0));
  int refused = 0;
  while (auto req = stack.poll_connect_request()) {
    ASSERT_TRUE(stack.refuse_request(req->id, Refusal::NetUnreachable, at_ms(1)));
    ++refused;
  }
  EXPECT_EQ(refused, 80);
  EXPECT_EQ(stack.pending_requests(), 0u) << "every request ends, answered or not";
  std::vector<std::byte> out;
  int sent = 0;
  while (stack.pop_packet(out)) ++sent;
  EXPECT_EQ(sent, 50);  // the burst, as for every ICMP error the stack sends
  EXPECT_EQ(stack.counters().icmp_unreachable_sent, 50u);
  EXPECT_EQ(stack.counters().icmp_rate_limited, 30u);
}

TEST(Intercept, HalfOpenConnectionsAreBoundedLikeASynQueue_Rfc4987_3) {
  // A namespace that sends SYNs and never completes them (a raw socket) must not make the
  // application hold a host connection for each: requests and accepted connections still in
  // SYN-RECEIVED together stay within max_connect_requests.
  StackConfig config = intercepting();
  config.max_connect_requests = 3;
  Stack stack(config, {kGateway});
  for (std::uint16_t p = 1; p <= 5; ++p)
    stack.receive_packet(tcp_packet(kGuest, 40000, kFar, p, tcp::SYN, 1), at_ms(0));
  EXPECT_EQ(stack.pending_requests(), 3u);
  EXPECT_EQ(stack.counters().intercept_request_overflow, 2u);
  EXPECT_EQ(stack.counters().intercept_half_open_overflow, 0u);
  std::vector<std::byte> out;
  std::vector<std::pair<ConnectionId, std::uint32_t>> accepted;  // id, its ISN
  while (auto req = stack.poll_connect_request()) {
    auto id = stack.accept_request(req->id, at_ms(1));
    ASSERT_TRUE(id);
    auto synack = pop_tcp(stack, out);
    ASSERT_TRUE(synack);
    accepted.emplace_back(*id, synack->tcp.seq);
  }
  ASSERT_EQ(accepted.size(), 3u);
  // Three in SYN-RECEIVED: the next SYN finds no room.
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 6, tcp::SYN, 1), at_ms(2));
  EXPECT_EQ(stack.pending_requests(), 0u);
  EXPECT_EQ(stack.counters().intercept_half_open_overflow, 1u);
  // One completes its handshake: room for one.
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 1, tcp::ACK, 2, accepted[0].second + 1),
                       at_ms(3));
  EXPECT_EQ(stack.state(accepted[0].first), State::Established);
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 7, tcp::SYN, 1), at_ms(4));
  EXPECT_EQ(stack.pending_requests(), 1u);
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 8, tcp::SYN, 1), at_ms(4));
  EXPECT_EQ(stack.pending_requests(), 1u);
  EXPECT_EQ(stack.counters().intercept_half_open_overflow, 2u);
  // The other two are never completed: once their SYN,ACKs have timed out, room again.
  for (Instant t = at_ms(5); t < at_ms(600'000); t += std::chrono::milliseconds(100))
    stack.on_timer(t);
  EXPECT_FALSE(stack.state(accepted[1].first).has_value() &&
               *stack.state(accepted[1].first) == State::SynReceived);
  auto req = stack.poll_connect_request();
  ASSERT_TRUE(req);
  ASSERT_TRUE(stack.refuse_request(req->id, Refusal::Reset, at_ms(600'000)));
  for (std::uint16_t p = 9; p <= 11; ++p)
    stack.receive_packet(tcp_packet(kGuest, 40000, kFar, p, tcp::SYN, 1), at_ms(600'001));
  EXPECT_EQ(stack.pending_requests(), 3u);
  EXPECT_EQ(stack.counters().intercept_half_open_overflow, 2u);
  EXPECT_EQ(stack.counters().intercept_request_overflow, 2u);
}

TEST(Intercept, PendingRequestsAreBounded) {
  Stack stack(intercepting(), {kGateway});
  for (std::uint16_t p = 1; p <= 10; ++p)
    stack.receive_packet(tcp_packet(kGuest, 40000, kFar, p, tcp::SYN, 1), at_ms(0));
  EXPECT_EQ(stack.pending_requests(), 4u);
  EXPECT_EQ(stack.counters().intercept_request_overflow, 6u);
}

TEST(Intercept, NonSynToNowhereIsResetAndMulticastIsDropped) {
  Stack stack(intercepting(), {kGateway});
  std::vector<std::byte> out;
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 80, tcp::ACK, 5, 9), at_ms(0));
  auto rst = pop_tcp(stack, out);
  ASSERT_TRUE(rst);
  EXPECT_TRUE(rst->tcp.has(tcp::RST));
  stack.receive_packet(tcp_packet(kGuest, 40000, IpAddress::v4(239, 1, 1, 1), 80, tcp::SYN, 5),
                       at_ms(0));
  EXPECT_FALSE(stack.poll_connect_request());
  EXPECT_FALSE(stack.pop_packet(out));
}

TEST(Intercept, WithoutInterceptionOtherAddressesAreDropped) {
  Stack stack(StackConfig{}, {kGateway});
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 80, tcp::SYN, 5), at_ms(0));
  EXPECT_FALSE(stack.poll_connect_request());
  EXPECT_EQ(stack.counters().drop_not_our_address, 1u);
}

std::vector<std::byte> udp_packet(const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                                  std::uint16_t dport, std::string_view text) {
  wire::IpHeader ip;
  ip.src = src;
  ip.dst = dst;
  auto payload = std::as_bytes(std::span(text.data(), text.size()));
  std::vector<std::byte> out;
  wire::build_udp_packet(ip, sport, dport, payload, out);
  return out;
}

TEST(Intercept, UdpDatagramsAreQueuedBoundedAndAnsweredFromTheirDestination) {
  Stack stack(intercepting(), {kGateway, kGateway6});
  stack.receive_packet(udp_packet(kGuest, 5353, kGateway, 53, "query"), at_ms(0));
  stack.receive_packet(udp_packet(kGuest6, 5354, kFar6, 9999, "v6"), at_ms(0));
  auto ev = stack.poll_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->handle, kDatagramsHandle);
  auto d = stack.poll_datagram();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->local, (wire::Endpoint{kGateway, 53}));
  EXPECT_EQ(d->remote, (wire::Endpoint{kGuest, 5353}));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(d->payload.data()), d->payload.size()),
            "query");
  auto d6 = stack.poll_datagram();
  ASSERT_TRUE(d6);
  EXPECT_EQ(d6->local, (wire::Endpoint{kFar6, 9999}));
  EXPECT_FALSE(stack.poll_datagram());

  auto reply = std::as_bytes(std::span("answer", 6));
  ASSERT_TRUE(stack.send_datagram(d6->local, d6->remote, reply, at_ms(1)));
  std::vector<std::byte> out;
  ASSERT_TRUE(stack.pop_packet(out));
  auto ip = wire::parse_ip_header(out);
  ASSERT_TRUE(ip);
  auto parsed = wire::parse_udp(*ip, std::span<const std::byte>(out).subspan(ip->header_length));
  ASSERT_TRUE(parsed.datagram) << "checksum verifies";
  EXPECT_EQ(ip->src, kFar6);
  EXPECT_EQ(parsed.datagram->src_port, 9999);
  EXPECT_EQ(parsed.datagram->dst_port, 5354);
  EXPECT_EQ(parsed.datagram->payload.size(), 6u);

  // Bounded queue; malformed datagrams counted.
  for (int i = 0; i < 5; ++i)
    stack.receive_packet(udp_packet(kGuest, 5353, kGateway, 53, "x"), at_ms(2));
  EXPECT_EQ(stack.counters().drop_udp_queue_full, 2u);
  auto bad = udp_packet(kGuest, 5353, kGateway, 53, "corrupt me");
  bad.back() ^= std::byte{1};
  stack.receive_packet(bad, at_ms(3));
  EXPECT_EQ(stack.counters().drop_udp_malformed, 1u);
  EXPECT_FALSE(stack.send_datagram({kGateway, 53}, {kGuest6, 1}, reply, at_ms(4)));
}

// Issue 11 §4 with a memory budget: queued datagrams are charged to it (and returned when
// polled); beyond it they are dropped and counted. Under pressure an intercepted SYN is
// refused with an RST before the application hears of it.
TEST(Intercept, MemoryBudgetBoundsDatagramsAndRefusesSynsUnderPressure) {
  StackConfig c = intercepting();
  c.max_datagrams = 100;
  c.tcp.send_buffer = c.tcp.receive_buffer = 4096;
  auto budget = std::make_shared<MemoryBudget>(64 * 1024);
  c.memory_budget = budget;
  Stack stack(c, {kGateway, kGateway6});
  const std::string big(1000, 'x');
  for (int i = 0; i < 70; ++i)
    stack.receive_packet(udp_packet(kGuest, 5353, kFar, 9, big), at_ms(0));
  EXPECT_EQ(stack.counters().udp_in, 65u);  // 65 x 1,000 bytes fit in 64 KiB, 66 do not
  EXPECT_EQ(stack.counters().drop_memory_pressure, 5u);
  EXPECT_EQ(budget->used(), 65'000u);

  // Under pressure (less than an eighth free): an intercepted SYN is refused with an RST.
  stack.receive_packet(tcp_packet(kGuest, 40000, kFar, 80, tcp::SYN, 5), at_ms(1));
  EXPECT_FALSE(stack.poll_connect_request());
  EXPECT_EQ(stack.counters().tcp_memory_refused, 1u);
  std::vector<std::byte> buffer;
  auto rst = pop_tcp(stack, buffer);
  ASSERT_TRUE(rst);
  EXPECT_TRUE(rst->tcp.flags & tcp::RST);
  EXPECT_EQ(rst->tcp.ack, 6u);

  // Polled datagrams give their bytes back; then the SYN becomes a request again.
  while (stack.poll_datagram()) {
  }
  EXPECT_EQ(budget->used(), 0u);
  stack.receive_packet(tcp_packet(kGuest, 40001, kFar, 80, tcp::SYN, 5), at_ms(2));
  EXPECT_TRUE(stack.poll_connect_request());
  EXPECT_EQ(stack.counters().tcp_memory_refused, 1u);
}

TEST(Intercept, EchoIsAnsweredOnlyForOurOwnAddresses) {
  Stack stack(intercepting(), {kGateway});
  // An ICMP echo request (type 8) with a correct checksum, to someone else.
  std::vector<std::byte> body{std::byte{8}, std::byte{0}, std::byte{0xf7}, std::byte{0xff},
                              std::byte{0}, std::byte{0}, std::byte{0},    std::byte{0}};
  wire::IpHeader ip;
  ip.src = kGuest;
  ip.dst = kFar;
  ip.protocol = wire::kProtoIcmp;
  ip.payload_length = body.size();
  std::vector<std::byte> packet(ip.emitted_header_size() + body.size());
  std::size_t h = wire::emit_ip_header(ip, packet);
  std::copy(body.begin(), body.end(), packet.begin() + static_cast<std::ptrdiff_t>(h));
  stack.receive_packet(packet, at_ms(0));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out));
  EXPECT_EQ(stack.counters().drop_icmp_not_ours, 1u);
}

}  // namespace intercept_test
}  // namespace synack
