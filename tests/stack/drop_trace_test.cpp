// SPDX-License-Identifier: MIT
// A drop's trace names the counter it bumped (issue 12): DropEvent::counter is always one of
// the names `synack stats` lists, that counter moved, and every drop_* counter that moved was
// traced. Driven by a listener, a half-open connection and a few thousand packets that are
// wrong in one way or another (random fields, random byte flips, cuts).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "synack/stack.hpp"
#include "tcp_packets.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace drop_trace_test {

using wire::IpAddress;

const IpAddress kUs = IpAddress::v4(198, 18, 0, 1);
const IpAddress kPeer = IpAddress::v4(198, 18, 0, 2);

Instant at_us(std::int64_t us) { return instant_from_us(us); }

struct DropRecorder final : TraceSink {
  std::map<std::string, std::uint64_t> drops;
  void on_drop(const DropEvent& e) override { ++drops[std::string(e.counter)]; }
};

std::map<std::string, std::uint64_t> counter_values(const Counters& counters) {
  std::map<std::string, std::uint64_t> out;
  counters.for_each([&](std::string_view name, std::uint64_t value, std::string_view) {
    out[std::string(name)] = value;
  });
  return out;
}

std::vector<std::byte> segment(const IpAddress& src, const IpAddress& dst, std::uint16_t dst_port,
                               std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                               std::size_t payload = 0) {
  const std::vector<std::byte> data(payload, std::byte{'x'});
  return tcp_packets::tcp_packet({src, 40000}, {dst, dst_port}, flags, seq, ack, data);
}

TEST(DropTrace, EveryDropNamesTheCounterItBumped) {
  namespace f = wire::tcp_flag;
  Stack stack(StackConfig{}, {kUs});
  DropRecorder recorder;
  stack.set_trace(&recorder);
  ASSERT_TRUE(stack.listen(wire::Endpoint{kUs, 80}, at_us(0)));
  std::vector<std::byte> out;
  auto drain = [&] {
    while (stack.pop_packet(out)) {
    }
  };

  // Named cases first, each a different drop.
  std::int64_t now = 1;
  auto feed = [&](std::vector<std::byte> packet) {
    stack.receive_packet(packet, at_us(++now));
    drain();
  };
  feed(segment(kPeer, kUs, 80, f::SYN, 1000, 0));                        // half-open
  feed(segment(kPeer, IpAddress::v4(198, 18, 0, 9), 80, f::SYN, 1, 0));  // not our address
  feed(segment(IpAddress::v4(127, 0, 0, 1), kUs, 80, f::SYN, 1, 0));     // martian source
  feed(segment(kPeer, kUs, 81, f::RST, 1, 0));                           // RST to a closed port
  auto corrupt = segment(kPeer, kUs, 81, f::SYN, 1, 0);
  corrupt.back() ^= std::byte{0xff};  // the last byte of the TCP header: bad checksum
  feed(corrupt);
  feed(std::vector<std::byte>(10, std::byte{0x45}));  // shorter than an IPv4 header

  // Then random ones: valid packets with random flags and numbers towards the listener and
  // the half-open connection, and the same with a byte flipped or the tail cut.
  std::mt19937_64 random(12);
  for (int i = 0; i < 4000; ++i) {
    auto packet = segment(kPeer, kUs, random() % 2 ? 80 : 81, static_cast<std::uint8_t>(random()),
                          static_cast<std::uint32_t>(random() % 2 ? 1001 + random() % 4 : random()),
                          static_cast<std::uint32_t>(random()), random() % 3 ? 0 : 5);
    switch (random() % 3) {
      case 0:
        break;
      case 1:
        packet[random() % packet.size()] ^=
            std::byte{static_cast<unsigned char>(1 + random() % 255)};
        break;
      case 2:
        packet.resize(random() % packet.size());
        break;
    }
    feed(std::move(packet));
  }

  auto values = counter_values(stack.counters());
  std::uint64_t traced = 0;
  for (const auto& [name, n] : recorder.drops) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(values.count(name)) << "a drop traced under a name no counter has";
    EXPECT_GE(values[name], n) << "the counter moved at least once per traced drop";
    traced += n;
  }
  EXPECT_GT(traced, 1000u);
  for (const char* expected :
       {"drop_not_our_address", "drop_martian_source", "drop_closed_port_rst",
        "drop_parse_tcp_checksum", "drop_parse_truncated", "drop_listen_ack"})
    EXPECT_TRUE(recorder.drops.count(expected)) << expected;
  // The other direction: every packet-dropping counter that moved was traced.
  for (const auto& [name, value] : values) {
    if (name.rfind("drop_", 0) != 0 || name == "drop_malformed" || value == 0) continue;
    EXPECT_EQ(recorder.drops[name], value) << name << " moved without its drops traced";
  }
}

}  // namespace drop_trace_test
}  // namespace synack
