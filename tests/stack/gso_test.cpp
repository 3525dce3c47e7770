// SPDX-License-Identifier: MIT
// Segmentation offload (TcpConfig::gso_max_bytes): new data leaves in bursts of whole
// segments marked with the size the link cuts them to; retransmissions stay one segment.
#include <gtest/gtest.h>

#include <vector>

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

TEST(Gso, NewDataGoesInBurstsOfWholeSegmentsAndArrivesIntact) {
  StackConfig a_config;
  a_config.tcp.mss = 1000;
  a_config.tcp.gso_max_bytes = 4500;  // bursts of 4 segments
  StackConfig b_config;
  b_config.tcp.mss = 1000;
  Stack a(a_config, {kA}), b(b_config, {kB});
  auto listener = b.listen({kB, 80}, at_ms(0));
  ASSERT_TRUE(listener);
  auto conn = a.connect({kB, 80}, at_ms(0));
  ASSERT_TRUE(conn);
  for (int i = 0; i < 3; ++i) {
    deliver(drain(a), b, at_ms(1));
    deliver(drain(b), a, at_ms(1));
  }
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
  StackConfig a_config;
  a_config.tcp.mss = 1000;
  a_config.tcp.gso_max_bytes = 8000;
  Stack a(a_config, {kA}), b(StackConfig{}, {kB});
  auto listener = b.listen({kB, 80}, at_ms(0));
  auto conn = a.connect({kB, 80}, at_ms(0));
  ASSERT_TRUE(listener && conn);
  for (int i = 0; i < 3; ++i) {
    deliver(drain(a), b, at_ms(1));
    deliver(drain(b), a, at_ms(1));
  }
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

}  // namespace gso_test
}  // namespace synack
