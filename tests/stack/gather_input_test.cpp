// SPDX-License-Identifier: MIT
// Stack::receive_packet(headers, payload, ...): gather input, the counterpart of PacketWriter.
// A link that hands one stack's TCP packets to the other as headers + payload must deliver the
// same bytes as whole packets do; what cannot stay apart (a SYN, a checksum to verify, not
// TCP, a split that is not at the end of the TCP header, a malformed packet) is joined and
// handled, or dropped and counted, exactly as the one-span call would.
#include <gtest/gtest.h>

#include <vector>

#include "synack/packet_writer.hpp"
#include "synack/stack.hpp"
#include "two_stacks.hpp"
#include "wire/ip_header.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace gather_input_test {

using two_stacks::kA;
using two_stacks::kB;
using two_stacks::pattern;

// Hands each packet to `peer` at once, headers and payload apart; refuses while a delivery is
// under way (the peer's own reply), which then waits for pop_packet().
struct DeliveringWriter final : PacketWriter {
  Stack* peer = nullptr;
  Instant* now = nullptr;
  bool verified = true;
  bool busy = false;
  std::size_t delivered = 0, with_payload = 0;
  bool write_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                    std::uint16_t) override {
    if (busy) return false;
    busy = true;
    peer->receive_packet(headers, payload, *now, ReceiveFlags{.checksum_verified = verified});
    busy = false;
    ++delivered;
    if (!payload.empty()) ++with_payload;
    return true;
  }
};

struct Outcome {
  std::vector<std::byte> received;
  bool eof = false;
  Counters b;
};

// A sends 300 kB to B through 16 KiB buffers (both rings wrap and rewind), reading in uneven
// pieces, then closes. With `gather`, A's packets reach B by gather input.
Outcome transfer(bool gather) {
  StackConfig ca, cb;
  ca.tcp_checksum_offload = true;
  Stack a{ca, {kA}};
  Stack b{cb, {kB}};
  Instant now{};
  DeliveringWriter writer;
  writer.peer = &b;
  writer.now = &now;
  if (gather) a.set_packet_writer(&writer);
  std::vector<std::byte> buf;
  auto shuttle = [&] {
    for (int round = 0; round < 512; ++round) {
      bool moved = false;
      while (a.pop_packet(buf)) {
        moved = true;
        b.receive_packet(buf, now, ReceiveFlags{.checksum_verified = true});
      }
      while (b.pop_packet(buf)) {
        moved = true;
        a.receive_packet(buf, now);
      }
      if (!moved) return;
    }
  };
  const SocketOptions small{.send_buffer = 16384, .receive_buffer = 16384};
  auto l = b.listen({kB, 80}, now, 4, small);
  auto c = a.connect({kB, 80}, now, std::nullopt, small);
  shuttle();
  auto s = b.accept(*l);
  EXPECT_TRUE(c && s);
  Outcome run;
  const auto data = pattern(300000);
  std::size_t sent = 0;
  std::vector<std::byte> sink(7001);
  for (int guard = 0; guard < 20000 && run.received.size() < data.size(); ++guard) {
    if (sent < data.size())
      if (auto n = a.send(
              *c, std::span(data).subspan(sent, std::min<std::size_t>(5000, data.size() - sent)),
              now))
        sent += *n;
    shuttle();
    const std::size_t want = 1 + (guard * 977) % sink.size();
    if (auto n = b.receive(*s, std::span(sink).first(want), now))
      run.received.insert(run.received.end(), sink.begin(), sink.begin() + *n);
    shuttle();
    now += std::chrono::milliseconds(1);
    auto d = a.next_deadline();
    if (d && *d <= now) a.on_timer(now);
    d = b.next_deadline();
    if (d && *d <= now) b.on_timer(now);
  }
  EXPECT_TRUE(a.close(*c, now));
  shuttle();
  auto eof = b.receive(*s, sink, now);
  run.eof = eof && *eof == 0;
  run.b = b.counters();
  if (gather) {
    EXPECT_GT(writer.with_payload, 20u) << "data went across by gather input";
  }
  return run;
}

TEST(GatherInput, DeliversTheSameBytesAsWholePackets) {
  const Outcome whole = transfer(false);
  const Outcome gathered = transfer(true);
  const auto data = pattern(300000);
  EXPECT_EQ(whole.received, data);
  EXPECT_EQ(gathered.received, data) << "byte for byte, through wrapping and rewound rings";
  EXPECT_TRUE(gathered.eof);
  EXPECT_EQ(gathered.b.drop_malformed, 0u);
  EXPECT_GT(gathered.b.tcp_segments_in, 100u);
}

// One data segment from A to B, whole, after a handshake driven by whole packets.
struct OneSegment {
  Stack a{StackConfig{}, {kA}};
  Stack b{StackConfig{}, {kB}};
  Instant now{};
  ConnectionId sid = 0;
  std::vector<std::byte> packet;  // A's data segment, full checksum
  std::size_t headers = 0;        // IP + TCP header bytes at its front

  OneSegment() {
    std::vector<std::byte> buf;
    auto l = b.listen({kB, 80}, now);
    auto c = a.connect({kB, 80}, now);
    for (int i = 0; i < 8; ++i) {
      while (a.pop_packet(buf)) b.receive_packet(buf, now);
      while (b.pop_packet(buf)) a.receive_packet(buf, now);
    }
    sid = *b.accept(*l);
    const auto data = pattern(1000);
    EXPECT_TRUE(a.send(*c, data, now));
    EXPECT_TRUE(a.pop_packet(packet));
    auto ip = wire::parse_ip_header(packet);
    std::size_t tcp_header = 0;
    EXPECT_TRUE(wire::parse_tcp_header(std::span(packet).subspan(ip->header_length), &tcp_header));
    headers = ip->header_length + tcp_header;
  }
  std::span<const std::byte> front(std::size_t n) const { return std::span(packet).first(n); }
  std::span<const std::byte> back(std::size_t n) const { return std::span(packet).subspan(n); }
  std::size_t readable() {
    std::vector<std::byte> sink(4096);
    auto r = b.receive(sid, sink, now);
    return r ? *r : 0;
  }
};

TEST(GatherInput, AChecksumToVerifyIsVerifiedOverBothParts) {
  OneSegment good;
  good.b.receive_packet(good.front(good.headers), good.back(good.headers), good.now,
                        ReceiveFlags{.checksum_verified = false});
  EXPECT_EQ(good.readable(), 1000u);

  OneSegment bad;
  bad.packet.back() ^= std::byte{0x5a};  // one payload byte changed on the way
  bad.b.receive_packet(bad.front(bad.headers), bad.back(bad.headers), bad.now,
                       ReceiveFlags{.checksum_verified = false});
  EXPECT_EQ(bad.b.counters().drop_parse_tcp_checksum, 1u);
  EXPECT_EQ(bad.readable(), 0u);
}

TEST(GatherInput, ASplitAnywhereElseIsJoinedAndDelivered) {
  for (std::size_t at : {std::size_t{1}, std::size_t{19}, std::size_t{24}, std::size_t{45}}) {
    SCOPED_TRACE(at);
    OneSegment s;
    ASSERT_LT(at, s.headers + 50);
    s.b.receive_packet(s.front(at), s.back(at), s.now, ReceiveFlags{.checksum_verified = true});
    EXPECT_EQ(s.b.counters().drop_malformed, 0u);
    EXPECT_EQ(s.readable(), 1000u);
  }
}

TEST(GatherInput, ALengthPastBothPartsIsDroppedAndCounted) {
  OneSegment s;
  // The payload half lost its last 100 bytes: the IP total length now runs past the end.
  s.b.receive_packet(s.front(s.headers), s.back(s.headers).first(900), s.now,
                     ReceiveFlags{.checksum_verified = true});
  EXPECT_EQ(s.b.counters().drop_parse_ip_total_length, 1u);
  EXPECT_EQ(s.readable(), 0u);
}

TEST(GatherInput, ASynIsJoinedSoTheListenerSeesTheWholePacket) {
  Stack a{StackConfig{}, {kA}};
  Stack b{StackConfig{}, {kB}};
  Instant now{};
  std::vector<std::byte> syn, buf;
  auto l = b.listen({kB, 80}, now);
  auto c = a.connect({kB, 80}, now);
  ASSERT_TRUE(a.pop_packet(syn));
  b.receive_packet(std::span(syn).first(30), std::span(syn).subspan(30), now,
                   ReceiveFlags{.checksum_verified = true});
  ASSERT_TRUE(b.pop_packet(buf)) << "a SYN,ACK in answer";
  a.receive_packet(buf, now);
  while (a.pop_packet(buf)) b.receive_packet(buf, now);
  EXPECT_TRUE(b.accept(*l));
  EXPECT_TRUE(c);
}

}  // namespace gather_input_test
}  // namespace synack
