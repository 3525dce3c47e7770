// SPDX-License-Identifier: MIT
// The seed corpus of fuzz/fuzz_wire_roundtrip: valid packets covering both families, every
// option, IPv4 options, link padding, unknown options and a SACK layout we re-pack.
//
// Regenerate after changing the seeds below (one command line):
//   ./build-asan/tests/wire_tests --gtest_also_run_disabled_tests
//       --gtest_filter='FuzzSeeds.DISABLED_WriteSeedCorpus'
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "wire/checksum.hpp"
#include "wire/wire_test_support.hpp"

namespace synack::wire {
namespace {

using test::from_hex;
using test::store16;

std::filesystem::path corpus_dir() {
  // The corpus is fuzz/corpus/<target>, beside tests/.
  return std::filesystem::path(SYNACK_TESTS_DIR).parent_path() / "fuzz" / "corpus" /
         "fuzz_wire_roundtrip";
}

// Replaces a built packet's TCP options with raw bytes (a multiple of 4 long) and fixes up
// lengths and checksums.
std::vector<std::byte> with_raw_tcp_options(std::vector<std::byte> packet,
                                            std::span<const std::byte> options) {
  const bool v4 = (static_cast<unsigned>(packet[0]) >> 4) == 4;
  const std::size_t ip = v4 ? 20 : 40;
  const std::size_t old_header = (static_cast<unsigned>(packet[ip + 12]) >> 4) * 4u;
  packet.erase(packet.begin() + static_cast<long>(ip + 20),
               packet.begin() + static_cast<long>(ip + old_header));
  packet.insert(packet.begin() + static_cast<long>(ip + 20), options.begin(), options.end());
  packet[ip + 12] = static_cast<std::byte>(((20 + options.size()) / 4) << 4);
  if (v4) {
    store16(packet, 2, static_cast<std::uint16_t>(packet.size()));
    store16(packet, 10, 0);
    store16(packet, 10, internet_checksum(std::span(packet).first(20)));
  } else {
    store16(packet, 4, static_cast<std::uint16_t>(packet.size() - 40));
  }
  const auto parsed_ip = parse_ip_header(packet);
  const auto segment = std::span(packet).subspan(ip);
  store16(segment, 16, 0);
  store16(segment, 16, tcp_checksum(parsed_ip->src, parsed_ip->dst, segment));
  return packet;
}

std::vector<std::pair<std::string, std::vector<std::byte>>> seeds() {
  std::vector<std::pair<std::string, std::vector<std::byte>>> all;
  all.emplace_back("linux_syn_v4", from_hex(test::kLinuxSynV4));
  all.emplace_back("linux_synack_v4", from_hex(test::kLinuxSynAckV4));
  all.emplace_back("linux_syn_v6", from_hex(test::kLinuxSynV6));
  all.emplace_back("linux_synack_v6", from_hex(test::kLinuxSynAckV6));

  TcpHeader data = test::sample_tcp_header(tcp_flag::ACK | tcp_flag::PSH);
  data.options.timestamps = Timestamps{1000, 2000};
  data.options.sack_count = 3;
  for (std::uint32_t i = 0; i < 3; ++i)
    data.options.sack[i] = SackBlock{5000 + 100 * i, 5050 + 100 * i};
  all.emplace_back("v4_data_ts_sack3",
                   test::build(test::sample_v4_header(), data, test::sample_payload(33)));

  TcpHeader fin = test::sample_tcp_header(tcp_flag::FIN | tcp_flag::ACK);
  fin.options.timestamps = Timestamps{77, 66};
  all.emplace_back("v6_fin_ack_ts", test::build(test::sample_v6_header(), fin));

  all.emplace_back("v4_rst",
                   test::build(test::sample_v4_header(), test::sample_tcp_header(tcp_flag::RST)));

  TcpHeader urgent =
      test::sample_tcp_header(tcp_flag::ACK | tcp_flag::URG | tcp_flag::ECE | tcp_flag::CWR);
  urgent.urgent = 1;
  urgent.options.sack_count = 4;
  for (std::uint32_t i = 0; i < 4; ++i) urgent.options.sack[i] = SackBlock{i * 10, i * 10 + 5};
  all.emplace_back("v6_urg_ecn_sack4",
                   test::build(test::sample_v6_header(), urgent, test::sample_payload(1)));

  // IPv4 options (Record Route) and Ethernet padding; an unknown TCP option (an RFC 6994
  // experiment).
  {
    auto packet =
        test::build(test::sample_v4_header(), test::sample_tcp_header(), test::sample_payload(2));
    packet = with_raw_tcp_options(packet, from_hex("fd04 abcd 0204 05b4"));
    const auto rr = from_hex("07 07 04 00000000 00");
    packet.insert(packet.begin() + 20, rr.begin(), rr.end());
    packet[0] = std::byte{0x47};
    store16(packet, 2, static_cast<std::uint16_t>(packet.size()));
    store16(packet, 10, 0);
    store16(packet, 10, internet_checksum(std::span(packet).first(28)));
    packet.resize(packet.size() + 6, std::byte{0});
    all.emplace_back("v4_ip_options_unknown_tcp_option_padding", packet);
  }
  // Packed options as another stack might send them: MSS, SACK-permitted and four SACK
  // blocks in exactly 40 bytes, which our layout re-packs with three blocks.
  {
    auto options = from_hex("0204 05b4 0402 0522");
    for (std::uint32_t i = 0; i < 8; ++i) {
      const auto edge = from_hex(i % 2 == 0 ? "00001000" : "00002000");
      options.insert(options.end(), edge.begin(), edge.end());
    }
    all.emplace_back(
        "v4_packed_mss_sackperm_sack4",
        with_raw_tcp_options(test::build(test::sample_v4_header(), test::sample_tcp_header()),
                             options));
  }
  return all;
}

TEST(FuzzSeeds, SeedsAreValidPackets) {
  for (const auto& [name, bytes] : seeds()) {
    const auto p = parse_tcp_packet(bytes);
    EXPECT_TRUE(p.has_value()) << name << ": " << to_string(p.error());
  }
}

TEST(FuzzSeeds, PackedSackSeedLosesOneBlockOnRebuild) {
  const auto all = seeds();
  const auto& packed = all.back().second;
  const auto p = parse_tcp_packet(packed);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->tcp.options.sack_count, 4);
  EXPECT_EQ(p->tcp.options.emitted_sack_blocks(), 3u);
  const auto rebuilt = parse_tcp_packet(test::build(p->ip, p->tcp, p->payload));
  ASSERT_TRUE(rebuilt.has_value());
  EXPECT_EQ(rebuilt->tcp.options, test::expected_after_emit(p->tcp.options));
}

// The checked-in corpus holds these seeds, byte for byte (when the tree has fuzz/).
TEST(FuzzSeeds, CorpusMatchesSeeds) {
  const auto dir = corpus_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " not present";
  for (const auto& [name, bytes] : seeds()) {
    std::ifstream in(dir / (name + ".bin"), std::ios::binary);
    ASSERT_TRUE(in.good()) << name;
    std::vector<char> on_disk{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    ASSERT_EQ(on_disk.size(), bytes.size()) << name;
    EXPECT_TRUE(std::equal(on_disk.begin(), on_disk.end(), bytes.begin(), [](char c, std::byte b) {
      return static_cast<std::byte>(c) == b;
    })) << name;
  }
}

TEST(FuzzSeeds, DISABLED_WriteSeedCorpus) {
  const auto dir = corpus_dir();
  std::filesystem::create_directories(dir);
  for (const auto& [name, bytes] : seeds()) {
    std::ofstream out(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << name;
  }
}

}  // namespace
}  // namespace synack::wire
