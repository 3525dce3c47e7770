// SPDX-License-Identifier: MIT
// TCP options: RFC 9293 §3.2 framing, RFC 7323 window scale and timestamps, RFC 2018 SACK.
#include <gtest/gtest.h>

#include <set>

#include "wire/tcp_header.hpp"
#include "wire/wire_test_support.hpp"

namespace synack::wire {
namespace {

using test::from_hex;

Expected<TcpOptions, ParseError> parse_hex(std::string_view hex) {
  const auto bytes = from_hex(hex);
  return parse_tcp_options(bytes);
}

ParseError error_of(std::string_view hex) {
  const auto r = parse_hex(hex);
  return r ? ParseError::None : r.error();
}

std::string emit_hex(const TcpOptions& o) {
  std::vector<std::byte> out(o.emitted_size());
  EXPECT_EQ(emit_tcp_options(o, out), out.size());
  return test::to_hex(out);
}

// --- parsing ---------------------------------------------------------------------------

TEST(TcpOptionsParse, EmptyIsNoOptions) {
  const auto o = parse_hex("");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(*o, TcpOptions{});
}

TEST(TcpOptionsParse, LinuxSynOptions) {
  const auto o = parse_hex("0204ffd7 0402 080adbe8935c00000000 01 03030a");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->mss, 65495);
  EXPECT_TRUE(o->sack_permitted);
  ASSERT_TRUE(o->timestamps.has_value());
  EXPECT_EQ(o->timestamps->value, 0xdbe8935cu);
  EXPECT_EQ(o->timestamps->echo, 0u);
  EXPECT_EQ(o->window_scale, 10);
  EXPECT_EQ(o->sack_count, 0);
}

// RFC 9293 §3.2: End of Option List ends the list; what follows is not parsed, even if it
// would be malformed.
TEST(TcpOptionsParse, EndOfListEndsTheList) {
  const auto o = parse_hex("0204 05b4 00 0000 ff");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->mss, 1460);
  const auto garbage_after = parse_hex("00 0201 0303 ffff");
  ASSERT_TRUE(garbage_after.has_value());
  EXPECT_EQ(*garbage_after, TcpOptions{});
}

// RFC 9293 §3.2: No-Operation is one byte and may appear anywhere.
TEST(TcpOptionsParse, NopSkipped) {
  const auto o = parse_hex("01 01 01 0204 05b4 01 01 01 01 0303 07 01");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->mss, 1460);
  EXPECT_EQ(o->window_scale, 7);
  EXPECT_EQ(*parse_hex("01010101"), TcpOptions{});
}

TEST(TcpOptionsParse, LengthZeroIsTooSmall) {
  EXPECT_EQ(error_of("0200 0000"), ParseError::TcpOptionLengthTooSmall);
  EXPECT_EQ(error_of("01 01 1e00"), ParseError::TcpOptionLengthTooSmall);  // unknown kind too
}

TEST(TcpOptionsParse, LengthOneIsTooSmall) {
  EXPECT_EQ(error_of("0201 0000"), ParseError::TcpOptionLengthTooSmall);
  EXPECT_EQ(error_of("fe01 0000"), ParseError::TcpOptionLengthTooSmall);
}

TEST(TcpOptionsParse, LengthByteMissingIsPastHeader) {
  EXPECT_EQ(error_of("02"), ParseError::TcpOptionPastHeader);
  EXPECT_EQ(error_of("01 01 01 08"), ParseError::TcpOptionPastHeader);
  EXPECT_EQ(error_of("0204 05b4 1e"), ParseError::TcpOptionPastHeader);
}

TEST(TcpOptionsParse, OptionRunningPastHeaderIsPastHeader) {
  EXPECT_EQ(error_of("0204 05"), ParseError::TcpOptionPastHeader);
  EXPECT_EQ(error_of("080a 0000 0000 0000 00"), ParseError::TcpOptionPastHeader);
  EXPECT_EQ(error_of("01 1e05 0000"), ParseError::TcpOptionPastHeader);  // unknown kind too
  EXPECT_EQ(error_of("05ff 0000 0000"), ParseError::TcpOptionPastHeader);
}

// Framing comes first: a known option whose (wrong) length also runs past the header is
// reported as running past the header.
TEST(TcpOptionsParse, PastHeaderReportedBeforeBadLength) {
  EXPECT_EQ(error_of("0208 05b4"), ParseError::TcpOptionPastHeader);
}

TEST(TcpOptionsParse, MssWrongLengthIsBadLength) {  // RFC 9293 §3.2: length 4
  EXPECT_EQ(error_of("0203 05 00"), ParseError::TcpOptionBadLength);
  EXPECT_EQ(error_of("0205 05b4 00 000000"), ParseError::TcpOptionBadLength);
  EXPECT_EQ(error_of("0202 0000"), ParseError::TcpOptionBadLength);
}

TEST(TcpOptionsParse, WindowScaleWrongLengthIsBadLength) {  // RFC 7323 §2.2: length 3
  EXPECT_EQ(error_of("0302 0000"), ParseError::TcpOptionBadLength);
  EXPECT_EQ(error_of("0304 0700"), ParseError::TcpOptionBadLength);
}

TEST(TcpOptionsParse, SackPermittedWrongLengthIsBadLength) {  // RFC 2018 §2: length 2
  EXPECT_EQ(error_of("0403 00 00"), ParseError::TcpOptionBadLength);
  EXPECT_EQ(error_of("0404 0000"), ParseError::TcpOptionBadLength);
}

TEST(TcpOptionsParse, TimestampsWrongLengthIsBadLength) {  // RFC 7323 §3.2: length 10
  EXPECT_EQ(error_of("0808 0000 0000 0000"), ParseError::TcpOptionBadLength);
  EXPECT_EQ(error_of("080c 0000 0000 0000 0000 0000"), ParseError::TcpOptionBadLength);
}

// RFC 2018 §3: length 2 + 8n. n = 0 carries no block.
TEST(TcpOptionsParse, SackWithoutBlocksIsBadLength) {
  EXPECT_EQ(error_of("0502 0000"), ParseError::TcpOptionBadLength);
}

TEST(TcpOptionsParse, SackLengthNotTwoPlusEightNIsBadLength) {
  for (unsigned length : {3u, 9u, 11u, 17u, 19u, 25u, 33u}) {
    std::vector<std::byte> bytes(40, std::byte{0});
    bytes[0] = std::byte{5};
    bytes[1] = static_cast<std::byte>(length);
    const auto r = parse_tcp_options(bytes);
    ASSERT_FALSE(r.has_value()) << length;
    EXPECT_EQ(r.error(), ParseError::TcpOptionBadLength) << length;
  }
}

// A 42-byte SACK option (five blocks) cannot fit in a real header; handed a longer span
// directly, the parser still refuses more than kMaxSackBlocks.
TEST(TcpOptionsParse, MoreThanFourSackBlocksIsBadLength) {
  std::vector<std::byte> bytes(44, std::byte{0});
  bytes[0] = std::byte{5};
  bytes[1] = std::byte{42};
  const auto r = parse_tcp_options(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), ParseError::TcpOptionBadLength);
}

TEST(TcpOptionsParse, SackOneToFourBlocks) {
  for (std::size_t n = 1; n <= 4; ++n) {
    std::vector<std::byte> bytes(2 + 8 * n);
    bytes[0] = std::byte{5};
    bytes[1] = static_cast<std::byte>(bytes.size());
    for (std::size_t i = 0; i < 2 * n; ++i) {
      bytes[2 + 4 * i + 3] = static_cast<std::byte>(i + 1);  // edges 1, 2, 3, ...
    }
    const auto r = parse_tcp_options(bytes);
    ASSERT_TRUE(r.has_value()) << n;
    ASSERT_EQ(r->sack_count, n);
    for (std::size_t b = 0; b < n; ++b) {
      EXPECT_EQ(r->sack[b].left, 2 * b + 1);
      EXPECT_EQ(r->sack[b].right, 2 * b + 2);
    }
    for (std::size_t b = n; b < kMaxSackBlocks; ++b) EXPECT_EQ(r->sack[b], SackBlock{});
  }
}

// RFC 9293 §3.2: options we do not implement are skipped by their length.
TEST(TcpOptionsParse, UnknownOptionSkipped) {
  // MPTCP (30, len 4), TCP Fast Open cookie (34, len 10), an experiment (254, len 6),
  // MD5 signature (19, len 18) around an MSS and a window scale.
  const auto o = parse_hex(
      "1e04 0000 22 0a 0102030405060708 0204 05b4 fe06 f989 0000 "
      "1312 00000000000000000000000000000000 0303 0e");
  ASSERT_TRUE(o.has_value()) << to_string(o.error());
  TcpOptions expected;
  expected.mss = 1460;
  expected.window_scale = 14;
  EXPECT_EQ(*o, expected);
  // An unknown option of the minimum length 2.
  EXPECT_EQ(*parse_hex("6402"), TcpOptions{});
}

// RFC 7323 §2.3: a shift above 14 is clamped by the receiver, not refused by the parser.
TEST(TcpOptionsParse, WindowScaleKeptAsSent) {
  EXPECT_EQ(parse_hex("0303 ff 00")->window_scale, 255);
  EXPECT_EQ(parse_hex("0303 0f 00")->window_scale, 15);
}

TEST(TcpOptionsParse, DuplicateOptionLastWins) {
  const auto o = parse_hex("0204 0218 0204 05b4");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->mss, 1460);
  const auto sack = parse_hex("050a 00000001 00000002 050a 00000003 00000004");
  ASSERT_TRUE(sack.has_value());
  EXPECT_EQ(sack->sack_count, 1);
  EXPECT_EQ(sack->sack[0], (SackBlock{3, 4}));
}

// Cutting the full option block at every length: a cut on an option boundary (or inside
// the NOP runs) leaves a shorter valid list; a cut inside an option runs past the header.
TEST(TcpOptionsParse, EveryPrefixOfFullOptions) {
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = Timestamps{1, 2};
  o.window_scale = 7;
  o.sack_count = 2;
  o.sack[0] = SackBlock{10, 20};
  o.sack[1] = SackBlock{30, 40};
  // 0-3 MSS | 4-5 SACK-permitted | 6-15 TS | 16 NOP | 17-19 WS | 20,21 NOP | 22-39 SACK
  std::vector<std::byte> bytes(o.emitted_size());
  ASSERT_EQ(bytes.size(), 40u);
  emit_tcp_options(o, bytes);
  const std::set<std::size_t> valid_cuts = {0, 4, 6, 16, 17, 20, 21, 22, 40};
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    const auto r = parse_tcp_options(std::span(bytes).first(cut));
    if (valid_cuts.contains(cut)) {
      EXPECT_TRUE(r.has_value()) << cut;
    } else {
      ASSERT_FALSE(r.has_value()) << cut;
      EXPECT_EQ(r.error(), ParseError::TcpOptionPastHeader) << cut;
    }
  }
}

// --- emitting --------------------------------------------------------------------------

TEST(TcpOptionsEmit, NoOptionsEmitNothing) {
  EXPECT_EQ(TcpOptions{}.emitted_size(), 0u);
  EXPECT_EQ(emit_hex(TcpOptions{}), "");
}

TEST(TcpOptionsEmit, MssAlone) {
  TcpOptions o;
  o.mss = 1460;
  EXPECT_EQ(emit_hex(o), "020405b4");
}

// The layout Linux uses on a SYN: MSS, SACK-permitted in place of the timestamps' NOPs,
// timestamps, NOP, window scale. Byte-identical to the captured SYN in packet_test.
TEST(TcpOptionsEmit, LinuxSynLayout) {
  TcpOptions o;
  o.mss = 65495;
  o.sack_permitted = true;
  o.timestamps = Timestamps{0xdbe8935c, 0};
  o.window_scale = 10;
  EXPECT_EQ(emit_hex(o),
            "0204ffd7"
            "0402080adbe8935c00000000"
            "0103030a");
}

TEST(TcpOptionsEmit, TimestampsAloneBehindTwoNops) {
  TcpOptions o;
  o.timestamps = Timestamps{0x01020304, 0x05060708};
  EXPECT_EQ(emit_hex(o), "0101080a0102030405060708");
}

TEST(TcpOptionsEmit, SackPermittedAloneBehindTwoNops) {
  TcpOptions o;
  o.sack_permitted = true;
  EXPECT_EQ(emit_hex(o), "01010402");
}

TEST(TcpOptionsEmit, WindowScaleBehindOneNop) {
  TcpOptions o;
  o.window_scale = 14;
  EXPECT_EQ(emit_hex(o), "0103030e");
}

TEST(TcpOptionsEmit, SackBlocksBehindTwoNops) {
  TcpOptions o;
  o.timestamps = Timestamps{7, 8};
  o.sack_count = 2;
  o.sack[0] = SackBlock{0x100, 0x200};
  o.sack[1] = SackBlock{0x300, 0x400};
  EXPECT_EQ(emit_hex(o),
            "0101080a0000000700000008"
            "01010512"
            "0000010000000200"
            "0000030000000400");
}

TEST(TcpOptionsEmit, EmittedSizeMatchesEmitForEveryCombination) {
  for (const auto& o : test::every_option_combination()) {
    std::vector<std::byte> out(kTcpMaxOptions, std::byte{0xee});
    const std::size_t n = emit_tcp_options(o, out);
    EXPECT_EQ(n, o.emitted_size());
    EXPECT_EQ(n % 4, 0u);
    EXPECT_LE(n, kTcpMaxOptions);
    for (std::size_t i = n; i < out.size(); ++i) EXPECT_EQ(out[i], std::byte{0xee}) << i;
  }
}

TEST(TcpOptionsEmit, ParseOfEmitGivesBackEveryCombination) {
  for (const auto& o : test::every_option_combination()) {
    std::vector<std::byte> out(o.emitted_size());
    emit_tcp_options(o, out);
    const auto back = parse_tcp_options(out);
    ASSERT_TRUE(back.has_value()) << to_string(back.error());
    EXPECT_EQ(*back, test::expected_after_emit(o));
  }
}

// Timestamps must go in every segment once negotiated (RFC 7323 §3.2), so when SACK blocks
// do not fit beside them and the other options, it is the last SACK blocks that are left off.
TEST(TcpOptionsEmit, SackBlocksLeftOffWhenOutOfRoom) {
  TcpOptions o;
  o.sack_count = 4;
  for (std::size_t i = 0; i < 4; ++i) o.sack[i] = SackBlock{std::uint32_t(i), std::uint32_t(i + 1)};
  EXPECT_EQ(o.emitted_sack_blocks(), 4u);  // 4 + 32 = 36
  EXPECT_EQ(o.emitted_size(), 36u);
  o.window_scale = 7;
  EXPECT_EQ(o.emitted_sack_blocks(), 4u);  // 4 + 36 = 40
  o.timestamps = Timestamps{1, 2};
  EXPECT_EQ(o.emitted_sack_blocks(), 2u);  // 12 + 4 + 20 = 36
  o.window_scale.reset();
  EXPECT_EQ(o.emitted_sack_blocks(), 3u);  // 12 + 28 = 40
  EXPECT_EQ(o.emitted_size(), 40u);
  o.mss = 1460;
  o.sack_permitted = true;
  o.window_scale = 7;
  EXPECT_EQ(o.emitted_sack_blocks(), 2u);  // 4 + 12 + 4 + 20 = 40
  EXPECT_EQ(o.emitted_size(), 40u);
  std::vector<std::byte> out(40);
  emit_tcp_options(o, out);
  const auto back = parse_tcp_options(out);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->sack_count, 2);
  EXPECT_EQ(back->sack[0], o.sack[0]);
  EXPECT_EQ(back->sack[1], o.sack[1]);
}

TEST(TcpOptionsEmit, SackCountAboveMaximumClamped) {
  TcpOptions o;
  o.sack_count = 200;
  EXPECT_EQ(o.emitted_sack_blocks(), kMaxSackBlocks);
  EXPECT_EQ(o.emitted_size(), 36u);
}

}  // namespace
}  // namespace synack::wire
