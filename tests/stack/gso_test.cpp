// SPDX-License-Identifier: MIT
// Segmentation offload (TcpConfig::gso_max_bytes): new data leaves in bursts of whole
// segments marked with the size the link cuts them to; retransmissions stay one segment; a
// segment the link loses from inside a burst is found by the burst's own later segments.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sim/offload_host.hpp"
#include "synack/stack.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace gso_test {

using wire::IpAddress;

const IpAddress kA = IpAddress::v4(198, 18, 0, 1);
const IpAddress kB = IpAddress::v4(198, 18, 0, 2);

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

struct Sent {
  std::vector<std::byte> bytes;
  std::uint16_t gso_size;
};

std::vector<Sent> drain(Stack& from) {
  std::vector<Sent> out;
  std::vector<std::byte> buffer;
  std::uint16_t gso = 0;
  while (from.pop_packet(buffer, &gso)) out.push_back({buffer, gso});
  return out;
}

void deliver(const std::vector<Sent>& packets, Stack& to, Instant now) {
  for (const auto& p : packets) to.receive_packet(p.bytes, now);
}

// What a link with segmentation offload puts on the wire for one packet: the simulator's
// device cuts it as Linux's GSO does (sim/offload_host.hpp).
std::vector<std::vector<std::byte>> cut(const Sent& p) {
  return sim::segment_burst(p.bytes, p.gso_size);
}

// A sender with a 1,000-byte MSS whose bursts hold up to `gso_max_bytes`.
StackConfig sender(std::uint32_t gso_max_bytes) {
  StackConfig config;
  config.tcp.mss = 1000;
  config.tcp.gso_max_bytes = gso_max_bytes;
  return config;
}

// a connects to b: SYN, SYN,ACK and ACK delivered at 1 ms.
void handshake(Stack& a, Stack& b) {
  for (int i = 0; i < 3; ++i) {
    deliver(drain(a), b, at_ms(1));
    deliver(drain(b), a, at_ms(1));
  }
}

TEST(Gso, NewDataGoesInBurstsOfWholeSegmentsAndArrivesIntact) {
  StackConfig b_config;
  b_config.tcp.mss = 1000;
  Stack a(sender(4500), {kA}), b(b_config, {kB});  // bursts of 4 segments
  auto listener = b.listen({kB, 80}, at_ms(0));
  ASSERT_TRUE(listener);
  auto conn = a.connect({kB, 80}, at_ms(0));
  ASSERT_TRUE(conn);
  handshake(a, b);
  ASSERT_EQ(a.state(*conn), State::Established);
  auto server = b.accept(*listener);
  ASSERT_TRUE(server);

  std::vector<std::byte> data(20000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 251);
  ASSERT_EQ(*a.send(*conn, data, at_ms(2)), data.size());
  auto burst = drain(a);
  ASSERT_FALSE(burst.empty());
  std::size_t super_segments = 0;
  for (const auto& p : burst) {
    auto parsed = wire::parse_tcp_packet(p.bytes);
    ASSERT_TRUE(parsed) << "a burst is a well-formed packet with a full checksum";
    if (p.gso_size) {
      ++super_segments;
      EXPECT_EQ(p.gso_size, 1000 - 12) << "the MSS less the timestamp option";
      EXPECT_EQ(parsed->payload.size() % p.gso_size, 0u);
      EXPECT_LE(parsed->payload.size(), 4500u);
      EXPECT_GT(parsed->payload.size(), p.gso_size);
    } else {
      EXPECT_LE(parsed->payload.size(), 1000u - 12);
    }
  }
  EXPECT_GE(super_segments, 1u);
  std::vector<std::byte> received;
  for (int round = 0; round < 50 && received.size() < data.size(); ++round) {
    deliver(burst, b, at_ms(3 + round));
    std::vector<std::byte> chunk(65536);
    while (auto n = b.receive(*server, chunk, at_ms(3 + round))) {
      if (*n == 0) break;
      received.insert(received.end(), chunk.begin(),
                      chunk.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    deliver(drain(b), a, at_ms(3 + round));
    burst = drain(a);
  }
  EXPECT_EQ(received, data);
}

TEST(Gso, RetransmissionsAreSingleSegments) {
  Stack a(sender(8000), {kA}), b(StackConfig{}, {kB});
  auto listener = b.listen({kB, 80}, at_ms(0));
  auto conn = a.connect({kB, 80}, at_ms(0));
  ASSERT_TRUE(listener && conn);
  handshake(a, b);
  std::vector<std::byte> data(6000, std::byte{7});
  ASSERT_TRUE(a.send(*conn, data, at_ms(2)));
  auto lost = drain(a);  // dropped
  ASSERT_FALSE(lost.empty());
  a.on_timer(at_ms(2000));  // RTO
  auto again = drain(a);
  ASSERT_FALSE(again.empty());
  for (const auto& p : again) {
    EXPECT_EQ(p.gso_size, 0);
    auto parsed = wire::parse_tcp_packet(p.bytes);
    ASSERT_TRUE(parsed);
    EXPECT_LE(parsed->payload.size(), 1000u);
  }
}

// RFC 8985 §6.2 (RACK_sent_after breaks a tie of send times by sequence): one burst of eight
// segments, the link loses the third. The five after it are SACKed; they left with it, in the
// same packet, and later in sequence: the third is lost, and is sent again on the ACKs — not
// after the tail loss probe and the RTO, as when the burst's pieces counted as sent together
// (bench/loss.sh at the end of transfers, 2026-12-05).
TEST(Gso, ASegmentLostInsideTheLastBurstIsRepairedWithoutProbeOrTimeout) {
  Stack a(sender(8000), {kA}), b(StackConfig{}, {kB});
  auto listener = b.listen({kB, 80}, at_ms(0));
  auto conn = a.connect({kB, 80}, at_ms(0));
  ASSERT_TRUE(listener && conn);
  handshake(a, b);
  auto server = b.accept(*listener);
  ASSERT_TRUE(server);
  std::vector<std::byte> data(8 * (1000 - 12));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 251);
  ASSERT_EQ(*a.send(*conn, data, at_ms(2)), data.size());
  auto sent = drain(a);
  ASSERT_EQ(sent.size(), 1u);
  auto pieces = cut(sent[0]);
  ASSERT_EQ(pieces.size(), 8u) << "one packet, eight segments on the wire";
  pieces.erase(pieces.begin() + 2);  // the link loses the third
  for (const auto& piece : pieces) b.receive_packet(piece, at_ms(3));
  // From here the link loses nothing; every millisecond both sides read and send.
  std::vector<std::byte> received, chunk(65536);
  for (int ms = 4; ms < 150 && received.size() < data.size(); ++ms) {
    a.on_timer(at_ms(ms));
    b.on_timer(at_ms(ms));
    for (const auto& p : drain(a))
      for (const auto& piece : cut(p)) b.receive_packet(piece, at_ms(ms));
    deliver(drain(b), a, at_ms(ms));
    while (auto n = b.receive(*server, chunk, at_ms(ms))) {
      if (*n == 0) break;
      received.insert(received.end(), chunk.begin(),
                      chunk.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  }
  ASSERT_EQ(received.size(), data.size()) << "delivered within 150 ms, well before the RTO";
  EXPECT_TRUE(received == data);
  EXPECT_EQ(a.counters().tcp_rto_expirations, 0u);
  EXPECT_EQ(a.counters().tcp_loss_probes, 0u);
  EXPECT_EQ(a.counters().tcp_fast_retransmits, 1u);
}

}  // namespace gso_test
}  // namespace synack
