// SPDX-License-Identifier: MIT
// The simulator's offload device (sim/offload_host): segmentation of a stack's bursts as
// Linux's tcp_gso_segment cuts them, receive coalescing by tcp_gro_receive's rules, and a bulk
// transfer through both, under loss, that still delivers every byte.
#include <gtest/gtest.h>

#include <map>

#include "sim/bulk.hpp"
#include "sim/chaos.hpp"
#include "sim/offload_host.hpp"
#include "wire/packet.hpp"

using namespace synack;
using namespace synack::sim;
namespace flag = synack::wire::tcp_flag;

namespace offload_test {

const wire::IpAddress kA = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kB = wire::IpAddress::v4(198, 18, 0, 2);

struct Seg {
  std::uint32_t seq = 1000;
  std::size_t len = 100;
  std::uint8_t flags = flag::ACK;
  std::uint32_t ack = 5000;
  std::uint32_t tsval = 7;  // 0: no timestamps option
  std::uint16_t window = 100;
  std::uint16_t src_port = 40000;
  std::uint8_t fill = 0;  // payload bytes: fill, fill + 1, ... (so joins can be checked)
};

Packet make(const Seg& s) {
  wire::IpHeader ip;
  ip.src = kA;
  ip.dst = kB;
  wire::TcpHeader tcp;
  tcp.src_port = s.src_port;
  tcp.dst_port = 80;
  tcp.seq = s.seq;
  tcp.ack = s.ack;
  tcp.flags = s.flags;
  tcp.window = s.window;
  if (s.tsval) tcp.options.timestamps = wire::Timestamps{s.tsval, 3};
  std::vector<std::byte> payload(s.len);
  for (std::size_t i = 0; i < s.len; ++i)
    payload[i] = static_cast<std::byte>(static_cast<std::uint8_t>(s.fill + i));
  Packet out;
  wire::build_tcp_packet(ip, tcp, payload, out);
  return out;
}

wire::TcpPacket parse(const Packet& p) {
  auto parsed = wire::parse_tcp_packet(p);
  EXPECT_TRUE(parsed) << "every packet out of the device parses, checksums included";
  return parsed ? *parsed : wire::TcpPacket{};
}

// --- segmentation ---------------------------------------------------------------------------

TEST(Segmentation, a_burst_leaves_as_gso_size_pieces_with_Linux_flags) {
  const Packet burst =
      make({.seq = 1000, .len = 350, .flags = flag::ACK | flag::PSH | flag::FIN | flag::CWR});
  std::vector<Packet> pieces = segment_burst(burst, 100);
  ASSERT_EQ(pieces.size(), 4u);
  std::vector<std::byte> joined;
  std::uint16_t id = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    wire::TcpPacket p = parse(pieces[i]);
    EXPECT_EQ(p.tcp.seq, 1000 + 100 * i);
    EXPECT_EQ(p.payload.size(), i < 3 ? 100u : 50u);
    EXPECT_EQ(p.tcp.has(flag::CWR), i == 0) << "CWR on the first piece only";
    EXPECT_EQ(p.tcp.has(flag::PSH), i == 3) << "PSH on the last piece only";
    EXPECT_EQ(p.tcp.has(flag::FIN), i == 3) << "FIN on the last piece only";
    EXPECT_EQ(p.tcp.ack, 5000u);
    ASSERT_TRUE(p.tcp.options.timestamps);
    EXPECT_EQ(p.tcp.options.timestamps->value, 7u) << "every piece has the burst's options";
    if (i > 0) {
      EXPECT_EQ(p.ip.id, static_cast<std::uint16_t>(id + 1)) << "IPv4 ID counts up";
    }
    id = p.ip.id;
    joined.insert(joined.end(), p.payload.begin(), p.payload.end());
  }
  const wire::TcpPacket whole = parse(burst);
  EXPECT_TRUE(std::ranges::equal(joined, whole.payload));
}

TEST(Segmentation, what_fits_one_piece_or_has_no_gso_size_leaves_whole) {
  const Packet small = make({.len = 100});
  EXPECT_EQ(segment_burst(small, 100), std::vector<Packet>{small});
  const Packet big = make({.len = 300});
  EXPECT_EQ(segment_burst(big, 0), std::vector<Packet>{big});
  const Packet junk{std::byte{0x45}, std::byte{0}};
  EXPECT_EQ(segment_burst(junk, 100), std::vector<Packet>{junk}) << "not parsed: left alone";
}

// --- coalescing -----------------------------------------------------------------------------

TEST(Coalescing, in_order_segments_of_a_flow_become_one_packet_ended_by_PSH) {
  CoalesceCounters counters;
  std::vector<Packet> out = coalesce_batch(
      {make({.seq = 1000, .fill = 0}), make({.seq = 1100, .fill = 100}),
       make({.seq = 1200, .flags = flag::ACK | flag::PSH, .window = 90, .fill = 200}),
       make({.seq = 1300, .fill = 44})},
      &counters);
  ASSERT_EQ(out.size(), 2u);
  const wire::TcpPacket first = parse(out[0]);
  EXPECT_EQ(first.tcp.seq, 1000u);
  ASSERT_EQ(first.payload.size(), 300u);
  for (std::size_t i = 0; i < 300; ++i)
    ASSERT_EQ(first.payload[i], static_cast<std::byte>(static_cast<std::uint8_t>(i)));
  EXPECT_TRUE(first.tcp.has(flag::PSH)) << "the PSH of a segment joined";
  EXPECT_EQ(first.tcp.window, 100) << "the first segment's header is kept";
  EXPECT_EQ(parse(out[1]).tcp.seq, 1300u) << "after PSH the packet went up: a new one starts";
  EXPECT_EQ(counters.merged, 2u);
  EXPECT_EQ(counters.out, 2u);
}

TEST(Coalescing, a_segment_that_differs_does_not_join) {
  struct Case {
    const char* what;
    Seg second;
  };
  const Case cases[] = {
      {"another ACK number", {.seq = 1100, .ack = 5001}},
      {"other option bytes (TSval)", {.seq = 1100, .tsval = 8}},
      {"a gap in sequence", {.seq = 1101}},
      {"CWR", {.seq = 1100, .flags = flag::ACK | flag::CWR}},
      {"ECE (a flag other than PSH, FIN, CWR)", {.seq = 1100, .flags = flag::ACK | flag::ECE}},
      {"longer than the first", {.seq = 1100, .len = 101}},
      {"no payload (a pure ACK)", {.seq = 1100, .len = 0}},
  };
  for (const Case& c : cases) {
    std::vector<Packet> out = coalesce_batch({make({.seq = 1000}), make(c.second)});
    ASSERT_EQ(out.size(), 2u) << c.what;
    EXPECT_EQ(parse(out[0]).tcp.seq, 1000u) << c.what << ": the held one goes up first";
    EXPECT_EQ(parse(out[1]).payload.size(), c.second.len) << c.what;
  }
}

TEST(Coalescing, a_shorter_segment_joins_and_ends_the_packet) {
  std::vector<Packet> out = coalesce_batch(
      {make({.seq = 1000}), make({.seq = 1100, .len = 40}), make({.seq = 1140, .len = 40})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(parse(out[0]).payload.size(), 140u);
  EXPECT_EQ(parse(out[1]).tcp.seq, 1140u);
}

TEST(Coalescing, flows_are_coalesced_apart_and_keep_their_own_order) {
  std::vector<Packet> out =
      coalesce_batch({make({.seq = 1000, .src_port = 1}), make({.seq = 9000, .src_port = 2}),
                      make({.seq = 1100, .src_port = 1}), make({.seq = 9100, .src_port = 2})});
  ASSERT_EQ(out.size(), 2u);
  std::map<std::uint16_t, std::size_t> lengths;
  for (const Packet& p : out) lengths[parse(p).tcp.src_port] = parse(p).payload.size();
  EXPECT_EQ(lengths[1], 200u);
  EXPECT_EQ(lengths[2], 200u);
}

TEST(Coalescing, a_corrupt_packet_goes_up_unmerged_after_what_was_held) {
  Packet bad = make({.seq = 1100});
  bad.back() ^= std::byte{1};  // the checksum no longer holds
  std::vector<Packet> out = coalesce_batch({make({.seq = 1000}), bad, make({.seq = 1100})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(parse(out[0]).tcp.seq, 1000u);
  EXPECT_EQ(out[1], bad) << "handed on as it came, for the stack to drop and count";
  EXPECT_EQ(parse(out[2]).tcp.seq, 1100u) << "the good copy starts a new packet";
}

TEST(Coalescing, a_packet_never_grows_past_64_KiB) {
  std::vector<Packet> batch;
  for (std::uint32_t i = 0; i < 50; ++i)
    batch.push_back(make({.seq = 1000 + i * 1400, .len = 1400}));
  std::vector<Packet> out = coalesce_batch(batch);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_LE(out[0].size(), 65535u);
  EXPECT_EQ(parse(out[0]).payload.size() + parse(out[1]).payload.size(), 50u * 1400);
  EXPECT_EQ(parse(out[1]).tcp.seq, 1000 + parse(out[0]).payload.size());
}

// --- a transfer through the devices -----------------------------------------------------------

TEST(OffloadBulk, bursts_cut_and_coalesced_under_loss_still_deliver_every_byte) {
  BulkOptions o;
  o.bytes = 2 << 20;
  o.reverse_bytes = 256 * 1024;
  o.link.loss = 0.03;
  o.link.delay = std::chrono::milliseconds(5);
  o.gso_max_bytes = 65000;
  o.coalesce = true;
  BulkResult r = run_bulk(o);
  EXPECT_TRUE(r.intact) << r.failure;
  EXPECT_FALSE(r.hung);
  EXPECT_GT(r.bursts_cut, 10u) << "the stacks sent bursts and the devices cut them";
  EXPECT_GT(r.segments_coalesced, 100u) << "segments of one instant reached the stack joined";
  EXPECT_GT(r.retransmissions, 0u);
}

// The chaos soak draws the TCP choices and the device shapes too: over 400 seeds each one
// shows up in some of them (the draw is 1 in 2 to 1 in 8 per seed).
TEST(ChaosDimensions, every_choice_and_offload_appears_among_the_seeds) {
  std::map<std::string, int> seen;
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    const BulkOptions o = chaos_options(seed);
    if (o.congestion == CongestionAlgorithm::Bbr) ++seen["bbr"];
    if (o.loss_detection == LossDetection::DupThresh) ++seen["dupthresh"];
    if (o.dsack == true) ++seen["dsack"];
    if (o.dsack == false) ++seen["no dsack"];
    if (o.frto) ++seen["frto"];
    if (!o.tail_loss_probe) ++seen["no tlp"];
    if (o.profile[0] == "linux" || o.profile[1] == "linux") ++seen["linux profile"];
    if (o.profile[0] != o.profile[1]) ++seen["mixed profiles"];
    if (o.gso_max_bytes > 0) ++seen["gso"];
    if (o.coalesce) ++seen["gro"];
  }
  for (const char* what : {"bbr", "dupthresh", "dsack", "no dsack", "frto", "no tlp",
                           "linux profile", "mixed profiles", "gso", "gro"})
    EXPECT_GE(seen[what], 20) << what;
}

}  // namespace offload_test
