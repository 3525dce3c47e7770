// SPDX-License-Identifier: MIT
#include "synack/sim_network.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/fake_hosts.hpp"

namespace synack::sim {
using namespace synack::sim;
namespace {

using testing::EchoHost;
using testing::make_packet;
using testing::packet_tag;
using testing::SinkHost;
using testing::TimerHost;
using testing::v4;

const wire::IpAddress kAddrA = v4(10, 0, 0, 1);
const wire::IpAddress kAddrB = v4(10, 0, 0, 2);

Instant at_us(std::int64_t us) { return instant_from_us(us); }
Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

// Two hosts, A (a sink the test sends from) and B (a sink or echo), joined by `net`.
struct TwoHosts {
  explicit TwoHosts(std::uint64_t seed = 1) : net(seed) {
    a = net.add_host(host_a, {kAddrA}, "a");
    b = net.add_host(host_b, {kAddrB}, "b");
    net.set_observer([this](const PacketEvent& e) { events.push_back(e); });
  }
  // Queues `count` packets from A to B (tags 0..count-1) and sends them at now().
  void send_burst(std::uint32_t count, std::size_t payload = 4) {
    for (std::uint32_t i = 0; i < count; ++i) host_a.queue(make_packet(kAddrA, kAddrB, i, payload));
    net.flush_outputs();
  }
  std::vector<std::uint32_t> tags_received_by_b() const {
    std::vector<std::uint32_t> tags;
    for (const auto& r : host_b.received) tags.push_back(packet_tag(r.bytes));
    return tags;
  }
  std::size_t count(Fate fate) const {
    return static_cast<std::size_t>(std::count_if(
        events.begin(), events.end(), [&](const PacketEvent& e) { return e.fate == fate; }));
  }

  SimNetwork net;
  SinkHost host_a;
  SinkHost host_b;
  HostId a = 0, b = 0;
  std::vector<PacketEvent> events;  // spans inside are dangling after the call; fields only
};

TEST(SimNetwork, IdleNetworkHasNothingToDo) {
  SimNetwork net(1);
  SinkHost host;
  net.add_host(host, {kAddrA}, "a");
  EXPECT_FALSE(net.step());
  EXPECT_EQ(net.next_event_time(), std::nullopt);
  net.run_for(5s);
  EXPECT_EQ(net.now(), at_ms(5000));
}

TEST(SimNetwork, DelayIsRespectedExactlyInVirtualTime) {
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 7ms});
  t.net.run_until(at_us(1234));
  t.send_burst(1);
  ASSERT_EQ(t.net.next_event_time(), at_us(1234 + 7000));
  ASSERT_TRUE(t.net.step());
  ASSERT_EQ(t.host_b.received.size(), 1u);
  EXPECT_EQ(t.host_b.received[0].at, at_us(8234));
  EXPECT_EQ(t.net.now(), at_us(8234));
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.events[0].sent_at, at_us(1234));
  EXPECT_EQ(t.events[0].arrives_at, at_us(8234));
  EXPECT_EQ(t.events[0].from, t.a);
  EXPECT_EQ(t.events[0].to, t.b);
  EXPECT_EQ(t.events[0].fate, Fate::Delivered);
  EXPECT_EQ(t.net.counters().packets_sent, 1u);
  EXPECT_EQ(t.net.counters().delivered, 1u);
}

TEST(SimNetwork, EchoRoundTripUsesEachDirectionsDelay) {
  SimNetwork net(1);
  SinkHost client;
  EchoHost server;
  const HostId c = net.add_host(client, {kAddrA}, "client");
  const HostId s = net.add_host(server, {kAddrB}, "server");
  net.set_link(c, s, LinkParams{.delay = 3ms});
  net.set_link(s, c, LinkParams{.delay = 5ms});
  client.queue(make_packet(kAddrA, kAddrB, 99));
  net.poke();
  EXPECT_TRUE(net.run_until([&] { return !client.received.empty(); }, at_ms(100)));
  EXPECT_EQ(client.received[0].at, at_ms(8));
  EXPECT_EQ(server.received[0].at, at_ms(3));
  EXPECT_EQ(packet_tag(client.received[0].bytes), 99u);
  EXPECT_EQ(net.now(), at_ms(8));
}

TEST(SimNetwork, RunPicksUpPacketsTheApplicationProducedWithoutPoke) {
  TwoHosts t;
  t.host_a.queue(make_packet(kAddrA, kAddrB, 1));
  t.net.run_for(10ms);
  EXPECT_EQ(t.host_b.received.size(), 1u);
}

TEST(SimNetwork, RunUntilDoneReturnsFalseAtTheLimit) {
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 1ms, .loss = 1.0});
  t.send_burst(1);
  EXPECT_FALSE(t.net.run_until([&] { return !t.host_b.received.empty(); }, at_ms(50)));
  EXPECT_EQ(t.net.now(), at_ms(50));
}

TEST(SimNetwork, UnroutablePacketsAreCountedAndDropped) {
  TwoHosts t;
  t.host_a.queue(make_packet(kAddrA, v4(192, 0, 2, 9), 1));
  t.host_a.queue(std::vector<std::byte>(3, std::byte{0x45}));  // too short to carry an address
  t.host_a.queue(std::vector<std::byte>{});
  t.net.run_for(10ms);
  EXPECT_EQ(t.net.counters().unroutable, 3u);
  EXPECT_EQ(t.net.counters().delivered, 0u);
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.events[0].fate, Fate::Unroutable);
  EXPECT_EQ(t.events[0].to, std::nullopt);
  EXPECT_EQ(t.events[0].arrives_at, std::nullopt);
}

TEST(SimNetwork, RoutesIpv6ByDestination) {
  SimNetwork net(1);
  SinkHost a, b;
  wire::IpAddress a6, b6;
  a6.family = b6.family = wire::IpAddress::Family::V6;
  a6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  b6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  net.add_host(a, {kAddrA, a6}, "a");
  const HostId b_id = net.add_host(b, {kAddrB, b6}, "b");
  EXPECT_EQ(net.host_for(b6), b_id);
  std::vector<std::byte> packet(40, std::byte{0});
  packet[0] = std::byte{0x60};
  packet[6] = std::byte{59};  // no next header
  packet[7] = std::byte{64};
  for (int i = 0; i < 16; ++i) {
    packet[8 + i] = std::byte{a6.bytes[i]};
    packet[24 + i] = std::byte{b6.bytes[i]};
  }
  a.queue(packet);
  net.run_for(5ms);
  ASSERT_EQ(b.received.size(), 1u);
  EXPECT_EQ(b.received[0].bytes, packet);
}

TEST(SimNetwork, AnAddressBelongsToOneHost) {
  SimNetwork net(1);
  SinkHost a, b;
  net.add_host(a, {kAddrA}, "a");
  EXPECT_THROW(net.add_host(b, {kAddrB, kAddrA}, "b"), std::invalid_argument);
  EXPECT_EQ(net.host_count(), 1u);
  EXPECT_EQ(net.host_for(kAddrB), std::nullopt);
}

TEST(SimNetwork, LossRateIsRoughlyRightOverTenThousandPackets) {
  TwoHosts t(2024);
  t.net.set_default_link(LinkParams{.delay = 1ms, .loss = 0.1});
  t.send_burst(10'000);
  t.net.run_for(1s);
  const auto lost = t.net.counters().lost;
  EXPECT_GT(lost, 900u);
  EXPECT_LT(lost, 1100u);
  EXPECT_EQ(t.host_b.received.size(), 10'000u - lost);
  EXPECT_EQ(t.count(Fate::Lost), lost);
  EXPECT_EQ(t.net.counters().delivered + lost, 10'000u);
}

// Everything observable about one run with every fault switched on.
struct FaultRun {
  std::vector<
      std::tuple<std::uint64_t, Fate, std::optional<Instant>, bool, std::optional<std::size_t>>>
      fates;
  std::vector<std::pair<Instant, std::vector<std::byte>>> received;
  bool operator==(const FaultRun&) const = default;
};

FaultRun run_with_faults(std::uint64_t seed) {
  TwoHosts t(seed);
  t.net.set_default_link(LinkParams{.delay = 2ms,
                                    .jitter = 500us,
                                    .loss = 0.1,
                                    .duplicate = 0.05,
                                    .reorder = 0.05,
                                    .corrupt = 0.05,
                                    .rate_bps = 10'000'000,
                                    .queue_bytes = 64 * 1024});
  FaultRun run;
  t.net.set_observer([&](const PacketEvent& e) {
    run.fates.emplace_back(e.index, e.fate, e.arrives_at, e.reordered, e.corrupted_bit);
  });
  for (int burst = 0; burst < 20; ++burst) {
    t.send_burst(100, 200);
    t.net.run_for(10ms);
  }
  t.net.run_for(1s);
  for (const auto& r : t.host_b.received) run.received.emplace_back(r.at, r.bytes);
  return run;
}

TEST(SimNetwork, SameSeedGivesIdenticalFatesAndDifferentSeedDoesNot) {
  const FaultRun first = run_with_faults(7);
  const FaultRun again = run_with_faults(7);
  const FaultRun other = run_with_faults(8);
  EXPECT_EQ(first.fates.size(), again.fates.size());
  EXPECT_TRUE(first == again);
  EXPECT_FALSE(first.fates == other.fates);
  EXPECT_FALSE(first.received == other.received);
  // Every kind of fault actually happened.
  auto has = [&](Fate f) {
    return std::any_of(first.fates.begin(), first.fates.end(),
                       [&](const auto& x) { return std::get<1>(x) == f; });
  };
  EXPECT_TRUE(has(Fate::Lost));
  EXPECT_TRUE(has(Fate::Duplicated));
  EXPECT_TRUE(has(Fate::Corrupted));
  EXPECT_TRUE(has(Fate::QueueDrop));
}

TEST(SimNetwork, OneFateDoesNotShiftAnother) {
  // Dropping packet 3 by script must not change what happens to the others.
  auto fates = [](bool drop_three) {
    TwoHosts t(11);
    t.net.set_default_link(LinkParams{.delay = 1ms, .loss = 0.3});
    if (drop_three) t.net.set_drop_filter([](const PacketInfo& p) { return p.index == 3; });
    t.send_burst(50);
    t.net.run_for(10ms);
    std::vector<Fate> out;
    for (const auto& e : t.events) out.push_back(e.fate);
    return out;
  };
  auto with = fates(true);
  auto without = fates(false);
  ASSERT_EQ(with.size(), without.size());
  EXPECT_EQ(with[3], Fate::ScriptedDrop);
  with[3] = without[3];
  EXPECT_EQ(with, without);
}

TEST(SimNetwork, DuplicateDeliversTwice) {
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 4ms, .duplicate = 1.0});
  t.send_burst(3);
  t.net.run_for(10ms);
  ASSERT_EQ(t.host_b.received.size(), 6u);
  EXPECT_EQ(t.tags_received_by_b(), (std::vector<std::uint32_t>{0, 0, 1, 1, 2, 2}));
  for (const auto& r : t.host_b.received) EXPECT_EQ(r.at, at_ms(4));
  EXPECT_EQ(t.net.counters().duplicated, 3u);
  EXPECT_EQ(t.net.counters().delivered, 6u);
  EXPECT_EQ(t.count(Fate::Delivered), 3u);
  EXPECT_EQ(t.count(Fate::Duplicated), 3u);
  EXPECT_EQ(t.events[1].index, t.events[0].index);
}

TEST(SimNetwork, DuplicateRateIsRoughlyRight) {
  TwoHosts t(5);
  t.net.set_default_link(LinkParams{.delay = 1ms, .duplicate = 0.25});
  t.send_burst(4000);
  t.net.run_for(10ms);
  EXPECT_GT(t.net.counters().duplicated, 900u);
  EXPECT_LT(t.net.counters().duplicated, 1100u);
  EXPECT_EQ(t.host_b.received.size(), 4000u + t.net.counters().duplicated);
}

TEST(SimNetwork, ReorderLetsLaterPacketsOvertake) {
  SimNetwork net(3);
  std::vector<Instant> schedule;
  for (int i = 0; i < 100; ++i) schedule.push_back(at_ms(i));
  TimerHost sender(kAddrA, kAddrB, schedule);
  SinkHost receiver;
  net.add_host(sender, {kAddrA}, "sender");
  net.add_host(receiver, {kAddrB}, "receiver");
  net.set_default_link(LinkParams{.delay = 1ms, .reorder = 0.2, .reorder_extra_delay = 5ms});
  std::vector<PacketEvent> events;
  net.set_observer([&](const PacketEvent& e) { events.push_back(e); });
  net.run_for(1s);
  ASSERT_EQ(receiver.received.size(), 100u);
  std::vector<std::uint32_t> tags;
  for (const auto& r : receiver.received) tags.push_back(packet_tag(r.bytes));
  EXPECT_FALSE(std::is_sorted(tags.begin(), tags.end()));
  std::sort(tags.begin(), tags.end());
  for (std::uint32_t i = 0; i < 100; ++i) EXPECT_EQ(tags[i], i);
  const auto reordered = net.counters().reordered;
  EXPECT_GT(reordered, 5u);
  EXPECT_LT(reordered, 40u);
  for (const auto& e : events) {
    EXPECT_EQ(*e.arrives_at - e.sent_at, e.reordered ? 6ms : 1ms);
  }
}

TEST(SimNetwork, WithoutFaultsOrderIsPreserved) {
  TwoHosts t;
  t.send_burst(500);
  t.net.run_for(10ms);
  const auto tags = t.tags_received_by_b();
  ASSERT_EQ(tags.size(), 500u);
  EXPECT_TRUE(std::is_sorted(tags.begin(), tags.end()));
}

TEST(SimNetwork, JitterStaysWithinBounds) {
  TwoHosts t(9);
  t.net.set_default_link(LinkParams{.delay = 10ms, .jitter = 2ms});
  t.send_burst(1000);
  t.net.run_for(1s);
  Instant earliest = at_ms(1000), latest = at_ms(0);
  for (const auto& r : t.host_b.received) {
    earliest = std::min(earliest, r.at);
    latest = std::max(latest, r.at);
  }
  EXPECT_GE(earliest, at_ms(10));
  EXPECT_LE(latest, at_ms(12));
  EXPECT_GT(latest - earliest, 1500us);  // it does spread
}

TEST(SimNetwork, CorruptionFlipsExactlyOneBit) {
  TwoHosts t(4);
  t.net.set_default_link(LinkParams{.delay = 1ms, .corrupt = 1.0});
  t.send_burst(200, 100);
  t.net.run_for(10ms);
  ASSERT_EQ(t.host_b.received.size(), 200u);
  ASSERT_EQ(t.events.size(), 200u);
  EXPECT_EQ(t.net.counters().corrupted, 200u);
  std::size_t header_hits = 0;
  for (std::uint32_t i = 0; i < 200; ++i) {
    const auto sent = make_packet(kAddrA, kAddrB, i, 100);
    const auto& got = t.host_b.received[i].bytes;
    ASSERT_EQ(got.size(), sent.size());
    std::size_t bits_changed = 0;
    for (std::size_t k = 0; k < sent.size(); ++k) {
      bits_changed +=
          static_cast<std::size_t>(__builtin_popcount(std::to_integer<unsigned>(sent[k] ^ got[k])));
    }
    EXPECT_EQ(bits_changed, 1u);
    ASSERT_EQ(t.events[i].fate, Fate::Corrupted);
    ASSERT_TRUE(t.events[i].corrupted_bit.has_value());
    const std::size_t bit = *t.events[i].corrupted_bit;
    EXPECT_NE(sent[bit / 8], got[bit / 8]);
    if (bit < 160) {
      ++header_hits;
      // The IPv4 header checksum catches it: the header no longer sums to 0xffff.
      EXPECT_NE(testing::ipv4_header_checksum(std::span(got).first(20)), 0);
    }
  }
  EXPECT_GT(header_hits, 0u);  // bits land anywhere, the header included
}

TEST(SimNetwork, BandwidthSerializesAtTheRate) {
  // 1250-byte packets at 1 Mbit/s take 10 ms each; 10 of them (N = 12500 bytes) finish after
  // N * 8 / R = 100 ms, plus the 5 ms propagation delay.
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 5ms, .rate_bps = 1'000'000});
  t.send_burst(10, 1250 - 28);
  t.net.run_for(1s);
  ASSERT_EQ(t.host_b.received.size(), 10u);
  for (std::size_t k = 0; k < 10; ++k) {
    EXPECT_EQ(t.host_b.received[k].at, at_ms(5 + 10 * static_cast<std::int64_t>(k + 1)));
  }
}

TEST(SimNetwork, BandwidthCarriesFractionsOfAMicrosecond) {
  // The smallest test packet is 32 bytes = 256 bits; at 7 Mbit/s that is 36.57 µs, which does
  // not divide. The carried remainder makes 7 back-to-back packets take exactly 256 µs.
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 0us, .rate_bps = 7'000'000});
  t.send_burst(7);
  t.net.run_for(1s);
  ASSERT_EQ(t.host_b.received.size(), 7u);
  EXPECT_EQ(t.host_b.received.back().at, at_us(256));
  for (std::size_t k = 0; k < 7; ++k) {
    EXPECT_EQ(t.host_b.received[k].at, at_us(static_cast<std::int64_t>(256 * (k + 1) / 7)));
  }
}

TEST(SimNetwork, IdleLinkStartsTransmittingAtOnce) {
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 1ms, .rate_bps = 1'000'000});
  t.send_burst(1, 1250 - 28);
  t.net.run_for(100ms);
  t.send_burst(1, 1250 - 28);  // sent at 100 ms into an idle link
  t.net.run_for(100ms);
  ASSERT_EQ(t.host_b.received.size(), 2u);
  EXPECT_EQ(t.host_b.received[0].at, at_ms(11));
  EXPECT_EQ(t.host_b.received[1].at, at_ms(111));
}

TEST(SimNetwork, QueueOverflowTailDrops) {
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 1ms, .rate_bps = 1'000'000, .queue_bytes = 5000});
  t.send_burst(10, 1250 - 28);  // 4 x 1250 bytes fit in 5000
  EXPECT_EQ(t.net.counters().queue_drops, 6u);
  EXPECT_EQ(t.count(Fate::QueueDrop), 6u);
  for (std::size_t k = 4; k < 10; ++k) {
    EXPECT_EQ(t.events[k].fate, Fate::QueueDrop);
    EXPECT_EQ(t.events[k].arrives_at, std::nullopt);
  }
  // After one packet has left the transmitter there is room for one more.
  t.net.run_until(at_ms(10));
  t.send_burst(2, 1250 - 28);
  EXPECT_EQ(t.net.counters().queue_drops, 7u);
  t.net.run_for(1s);
  EXPECT_EQ(t.tags_received_by_b(), (std::vector<std::uint32_t>{0, 1, 2, 3, 0}));
  EXPECT_EQ(t.host_b.received.back().at, at_ms(51));
}

TEST(SimNetwork, PerDirectionLinkOverridesTheDefault) {
  TwoHosts t;
  t.net.set_default_link(LinkParams{.delay = 2ms});
  t.net.set_link(t.b, t.a, LinkParams{.delay = 9ms, .loss = 1.0});
  EXPECT_EQ(t.net.link(t.a, t.b).delay, 2ms);
  EXPECT_EQ(t.net.link(t.b, t.a).delay, 9ms);
  t.send_burst(1);
  t.host_b.queue(make_packet(kAddrB, kAddrA, 5));
  t.net.run_for(20ms);
  EXPECT_EQ(t.host_b.received.size(), 1u);
  EXPECT_EQ(t.host_a.received.size(), 0u);
  EXPECT_EQ(t.net.counters().lost, 1u);
}

TEST(SimNetwork, DropFilterDropsScriptedPackets) {
  SimNetwork net(1);
  SinkHost client;
  EchoHost server;
  const HostId c = net.add_host(client, {kAddrA}, "client");
  const HostId s = net.add_host(server, {kAddrB}, "server");
  std::vector<PacketInfo> seen;
  // "Drop the first reply": the first packet the server sends.
  bool dropped = false;
  net.set_drop_filter([&](const PacketInfo& p) {
    seen.push_back(PacketInfo{p.index, p.time, p.from, p.to, {}});
    EXPECT_GE(p.bytes.size(), 20u);
    if (p.from == s && !dropped) return dropped = true;
    return false;
  });
  std::vector<PacketEvent> events;
  net.set_observer([&](const PacketEvent& e) { events.push_back(e); });
  client.queue(make_packet(kAddrA, kAddrB, 1));
  client.queue(make_packet(kAddrA, kAddrB, 2));
  net.run_for(10ms);
  ASSERT_EQ(client.received.size(), 1u);
  EXPECT_EQ(packet_tag(client.received[0].bytes), 2u);
  EXPECT_EQ(net.counters().scripted_drops, 1u);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].index, 0u);
  EXPECT_EQ(seen[0].from, c);
  EXPECT_EQ(seen[0].to, s);
  EXPECT_EQ(seen[0].time, at_ms(0));
  EXPECT_EQ(seen[2].index, 2u);
  EXPECT_EQ(seen[2].from, s);
  EXPECT_EQ(seen[2].time, at_ms(1));
  EXPECT_EQ(events[2].fate, Fate::ScriptedDrop);
  EXPECT_EQ(events[2].arrives_at, std::nullopt);
  EXPECT_EQ(events[3].fate, Fate::Delivered);
}

TEST(SimNetwork, TimersFireAtTheHostsDeadline) {
  SimNetwork net(1);
  TimerHost timer(kAddrA, kAddrB, {at_ms(5), at_ms(12), at_ms(12), at_us(12'001)});
  SinkHost sink;
  net.add_host(timer, {kAddrA}, "timer");
  net.add_host(sink, {kAddrB}, "sink");
  net.set_default_link(LinkParams{.delay = 1ms});
  EXPECT_EQ(net.next_event_time(), at_ms(5));
  net.run_until(at_ms(4));
  EXPECT_TRUE(timer.timer_calls.empty());
  EXPECT_EQ(net.now(), at_ms(4));
  net.run_until(at_ms(100));
  EXPECT_EQ(timer.timer_calls, (std::vector<Instant>{at_ms(5), at_ms(12), at_us(12'001)}));
  ASSERT_EQ(sink.received.size(), 4u);
  EXPECT_EQ(sink.received[0].at, at_ms(6));
  EXPECT_EQ(sink.received[1].at, at_ms(13));
  EXPECT_EQ(sink.received[2].at, at_ms(13));
  EXPECT_EQ(sink.received[3].at, at_us(13'001));
  EXPECT_EQ(net.now(), at_ms(100));
  EXPECT_EQ(net.counters().timer_calls, 3u);
}

// Logs receptions and timer calls so the test can check their order.
class LoggingHost : public TimerHost {
 public:
  LoggingHost(std::vector<std::string>& log, std::vector<Instant> fire_at)
      : TimerHost(kAddrB, kAddrA, std::move(fire_at)), log_(log) {}
  void receive_packet(std::span<const std::byte> packet, Instant now) override {
    log_.push_back("rx " + std::to_string(packet_tag(packet)) + " @" + std::to_string(to_us(now)));
  }
  void on_timer(Instant now) override {
    log_.push_back("timer @" + std::to_string(to_us(now)));
    TimerHost::on_timer(now);
  }

 private:
  std::vector<std::string>& log_;
};

TEST(SimNetwork, TiesAreOrderedArrivalsFirstThenBySendOrder) {
  SimNetwork net(1);
  std::vector<std::string> log;
  SinkHost sender;
  LoggingHost receiver(log, {at_ms(3)});
  net.add_host(sender, {kAddrA}, "sender");
  net.add_host(receiver, {kAddrB}, "receiver");
  net.set_default_link(LinkParams{.delay = 3ms});
  for (std::uint32_t tag : {7u, 3u, 5u}) sender.queue(make_packet(kAddrA, kAddrB, tag));
  net.run_for(10ms);
  EXPECT_EQ(log,
            (std::vector<std::string>{"rx 7 @3000", "rx 3 @3000", "rx 5 @3000", "timer @3000"}));
}

// A buggy host: its deadline is always "now or earlier", whatever on_timer does.
class StuckHost : public SinkHost {
 public:
  void on_timer(Instant) override { ++calls; }
  std::optional<Instant> next_deadline() const override { return instant_from_us(0); }
  std::uint64_t calls = 0;
};

TEST(SimNetwork, AHostThatNeverClearsItsDeadlineCannotSpinForever) {
  SimNetwork net(1);
  StuckHost stuck;
  net.add_host(stuck, {kAddrA}, "stuck");
  net.run_for(10s);
  EXPECT_EQ(net.now(), at_ms(10'000));
  EXPECT_GT(net.counters().timer_stalls, 0u);
  EXPECT_LT(stuck.calls, 10'000u);  // backed off exponentially, not once per microsecond
}

TEST(SimNetwork, ZeroDelayPingPongIsCutByTheEventLimit) {
  SimNetwork net(1);
  EchoHost a, b;
  net.add_host(a, {kAddrA}, "a");
  net.add_host(b, {kAddrB}, "b");
  net.set_default_link(LinkParams{.delay = 0us});
  net.set_max_events_per_run(1000);
  a.queue(make_packet(kAddrA, kAddrB, 1));
  net.run_for(1ms);
  EXPECT_EQ(net.counters().event_limit_hits, 1u);
  EXPECT_EQ(net.counters().delivered, 1000u);
  EXPECT_EQ(net.now(), at_ms(0));  // time was not advanced past unprocessed events
}

// Issue 10: a run whose virtual clock stops advancing while packets keep flowing is a livelock.
// The network notices, stops running events (every run_* returns at once) and says when; the
// per-run event limit alone would let a caller that loops on run_* spin for ever.
TEST(SimNetwork, PacketsAtAFrozenInstantAreReportedAsLivelock) {
  SimNetwork net(1);
  EchoHost a, b;
  net.add_host(a, {kAddrA}, "a");
  net.add_host(b, {kAddrB}, "b");
  net.set_default_link(LinkParams{.delay = 0us});
  net.set_max_packets_per_instant(500);
  net.set_max_events_per_run(10'000);  // bounds the test should the livelock guard fail
  a.queue(make_packet(kAddrA, kAddrB, 1));
  for (int call = 0; call < 100; ++call) net.run_for(1ms);  // a caller that keeps trying
  ASSERT_TRUE(net.livelocked());
  EXPECT_EQ(*net.livelocked(), at_ms(0));
  EXPECT_EQ(net.counters().livelocks, 1u);
  EXPECT_EQ(net.counters().delivered, 500u);
  EXPECT_FALSE(net.step());
}

TEST(SimNetwork, ManyPacketsAtOneInstantThenTimeMovesOnIsNoLivelock) {
  SimNetwork net(1);
  SinkHost a, b;
  net.add_host(a, {kAddrA}, "a");
  net.add_host(b, {kAddrB}, "b");
  net.set_max_packets_per_instant(500);
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t i = 0; i < 400; ++i) a.queue(make_packet(kAddrA, kAddrB, i));
    net.run_for(5ms);
  }
  EXPECT_FALSE(net.livelocked());
  EXPECT_EQ(net.counters().delivered, 1200u);
}

TEST(SimNetwork, FateNamesAreReadable) {
  EXPECT_STREQ(to_string(Fate::ScriptedDrop), "scripted-drop");
  EXPECT_STREQ(to_string(Fate::Delivered), "delivered");
}

}  // namespace
}  // namespace synack::sim
