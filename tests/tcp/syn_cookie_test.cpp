// SPDX-License-Identifier: MIT
// The SYN cookie codec (RFC 4987 §3.6, Linux's layout; src/tcp/syn_cookie.hpp): every MSS
// index and option combination survives the round trip; stale counters, other tuples, other
// peer ISNs and cookies moved by one are refused.
#include "tcp/syn_cookie.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "synack/random.hpp"

namespace synack::tcp {
namespace {

const wire::Endpoint kServer4{wire::IpAddress::v4(198, 18, 0, 1), 80};
const wire::Endpoint kClient4{wire::IpAddress::v4(203, 0, 113, 7), 40000};
const wire::Endpoint kServer6{*wire::IpAddress::parse("fd00::1"), 443};
const wire::Endpoint kClient6{*wire::IpAddress::parse("2001:db8::7"), 51000};

SynCookies make_codec(std::uint64_t seed = 1) {
  SeededRandom r(seed);
  return SynCookies({r.next_u64(), r.next_u64()}, {r.next_u64(), r.next_u64()});
}

TEST(SynCookieCodec, Every_MSS_index_round_trips_in_both_families_and_both_periods) {
  const SynCookies codec = make_codec();
  SeededRandom r(7);
  for (bool v6 : {false, true}) {
    const auto& server = v6 ? kServer6 : kServer4;
    const auto& client = v6 ? kClient6 : kClient4;
    for (std::uint8_t index = 0; index < 4; ++index) {
      for (int trial = 0; trial < 200; ++trial) {
        SeqNum isn(static_cast<std::uint32_t>(r.next_u64()));
        // Anywhere in a period, decoded anywhere up to the end of the next one.
        Instant sent = instant_from_us(static_cast<std::int64_t>(r.next_u64() % 1'000'000'000'000));
        SeqNum cookie = codec.encode(server, client, isn, index, sent);
        std::int64_t left =
            to_us(SynCookies::kPeriod) * (SynCookies::count_at(sent) + 2) - 1 - to_us(sent);
        Instant received = sent + Duration{static_cast<std::int64_t>(r.next_u64() % left)};
        auto got = codec.decode(server, client, isn, cookie, received);
        ASSERT_TRUE(got) << "index " << int(index) << " v6 " << v6 << " trial " << trial;
        EXPECT_EQ(*got, index);
        EXPECT_EQ(SynCookies::count_at(received) - SynCookies::count_at(sent) <= 1, true);
      }
    }
  }
}

TEST(SynCookieCodec, MSS_table_picks_the_largest_entry_not_above_the_peers_MSS) {
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1460, false), false), 1460);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(65535, false), false), 1460);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1459, false), false), 1440);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1300, false), false), 1300);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1299, false), false), 536);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(100, false), false), 536);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(8940, true), true), 8940);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1440, true), true), 1440);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1439, true), true), 1420);
  EXPECT_EQ(SynCookies::mss_at(SynCookies::mss_index(1220, true), true), 1220);
  // Every table entry maps to itself.
  for (std::uint8_t i = 0; i < 4; ++i) {
    EXPECT_EQ(SynCookies::mss_index(SynCookies::kMssV4[i], false), i);
    EXPECT_EQ(SynCookies::mss_index(SynCookies::kMssV6[i], true), i);
  }
}

TEST(SynCookieCodec, Stale_counter_is_rejected) {
  const SynCookies codec = make_codec();
  const SeqNum isn(0x12345678);
  const Instant sent = instant_from_us(1000 * to_us(SynCookies::kPeriod) + 5'000'000);
  for (std::uint8_t index = 0; index < 4; ++index) {
    SeqNum cookie = codec.encode(kServer4, kClient4, isn, index, sent);
    // The start of the period after next: two periods old.
    Instant stale = instant_from_us(1002 * to_us(SynCookies::kPeriod));
    EXPECT_TRUE(codec.decode(kServer4, kClient4, isn, cookie, stale - 1us));
    EXPECT_FALSE(codec.decode(kServer4, kClient4, isn, cookie, stale));
    // Far later, when the 8-bit count has wrapped round to a value nearby: still refused
    // unless it lands on the same count modulo 256 (the hash of that count differs).
    for (int periods = 2; periods < 256; ++periods)
      EXPECT_FALSE(
          codec.decode(kServer4, kClient4, isn, cookie, sent + periods * SynCookies::kPeriod))
          << periods;
    // Nor from the future (a count ahead of ours).
    EXPECT_FALSE(codec.decode(kServer4, kClient4, isn, cookie, sent - SynCookies::kPeriod));
  }
}

TEST(SynCookieCodec, Other_tuple_other_ISN_moved_cookie_or_other_secret_is_rejected) {
  const SynCookies codec = make_codec();
  const SynCookies other_secret = make_codec(2);
  const Instant now = instant_from_us(77'000'000'000);
  SeededRandom r(11);
  int checked = 0;
  for (int trial = 0; trial < 500; ++trial) {
    const SeqNum isn(static_cast<std::uint32_t>(r.next_u64()));
    const auto index = static_cast<std::uint8_t>(r.next_u64() % 4);
    const SeqNum cookie = codec.encode(kServer4, kClient4, isn, index, now);
    ASSERT_TRUE(codec.decode(kServer4, kClient4, isn, cookie, now));
    auto refused = [&](const wire::Endpoint& l, const wire::Endpoint& rm, SeqNum i, SeqNum c) {
      ++checked;
      return !codec.decode(l, rm, i, c, now).has_value();
    };
    wire::Endpoint port = kClient4;
    port.port = static_cast<std::uint16_t>(port.port + 1);
    wire::Endpoint addr = kClient4;
    addr.addr.bytes[3] ^= 1;
    wire::Endpoint lport = kServer4;
    lport.port = 81;
    EXPECT_TRUE(refused(kServer4, port, isn, cookie));
    EXPECT_TRUE(refused(kServer4, addr, isn, cookie));
    EXPECT_TRUE(refused(lport, kClient4, isn, cookie));
    EXPECT_TRUE(refused(kClient4, kServer4, isn, cookie));      // reversed
    EXPECT_TRUE(refused(kServer4, kClient4, isn + 1, cookie));  // SEG.SEQ off by one
    EXPECT_TRUE(refused(kServer4, kClient4, isn - 1, cookie));
    for (std::uint32_t d : {1u, 2u, 3u, 4u, 1u << 24})
      EXPECT_TRUE(refused(kServer4, kClient4, isn, cookie + d)) << d;  // SEG.ACK off
    EXPECT_TRUE(refused(kServer4, kClient4, isn, cookie - 1));
    EXPECT_FALSE(other_secret.decode(kServer4, kClient4, isn, cookie, now));
  }
  EXPECT_EQ(checked, 500 * 12);
}

TEST(SynCookieCodec, Random_guesses_pass_about_once_in_four_million) {
  // 2^22 MAC values (and 2 of 256 counts): a blind forger's odds per ACK, as Linux's.
  const SynCookies codec = make_codec();
  const Instant now = instant_from_us(5'000'000'000);
  SeqNum isn(99);
  SeededRandom r(3);
  int passed = 0;
  for (int i = 0; i < 1'000'000; ++i)
    passed +=
        codec.decode(kServer4, kClient4, isn, SeqNum(static_cast<std::uint32_t>(r.next_u64())), now)
            .has_value();
  EXPECT_LE(passed, 2);
}

TEST(SynCookieCodec, Timestamp_bits_round_trip_every_option_combination) {
  SeededRandom r(5);
  int combos = 0;
  for (int ws = -1; ws <= 14; ++ws) {
    for (bool sack : {false, true}) {
      for (bool ecn : {false, true}) {
        CookieOptions o;
        if (ws >= 0) o.window_scale = static_cast<std::uint8_t>(ws);
        o.sack = sack;
        o.ecn = ecn;
        for (int trial = 0; trial < 50; ++trial) {
          auto clock = static_cast<std::uint32_t>(r.next_u64());
          if (trial == 0) clock = 0;  // wraps below zero
          if (trial == 1) clock = 0xffffffff;
          std::uint32_t tsval = SynCookies::encode_tsval(clock, o);
          // Never ahead of the clock, and less than 64 ticks behind it.
          EXPECT_LT(clock - tsval, 64u);
          EXPECT_EQ(SynCookies::decode_tsecr(tsval), o);
        }
        ++combos;
      }
    }
  }
  EXPECT_EQ(combos, 16 * 2 * 2);
  // 0xf is "no window scale"; 0..14 are shifts.
  EXPECT_EQ(SynCookies::decode_tsecr(0x0e).window_scale, 14);
  EXPECT_EQ(SynCookies::decode_tsecr(0x0f).window_scale, std::nullopt);
}

// The SYN,ACK of cookie mode offers what the SYN offered and we do, only with timestamps.
TEST(SynCookieCodec, Cookie_SYN_ACK_offers_options_only_with_timestamps) {
  TcpConfig config;
  Segment syn;
  syn.seq = SeqNum(1000);
  syn.flags = SYN;
  syn.options.mss = 1460;
  syn.options.window_scale = 7;
  syn.options.sack_permitted = true;
  Segment bare = cookie_syn_ack(config, kServer4, syn, SeqNum(5), 0);
  EXPECT_EQ(bare.flags, SYN | ACK);
  EXPECT_EQ(bare.seq, SeqNum(5));
  EXPECT_EQ(bare.ack, SeqNum(1001));
  EXPECT_EQ(bare.options.mss, 1460);
  EXPECT_FALSE(bare.options.window_scale);
  EXPECT_FALSE(bare.options.sack_permitted);
  EXPECT_FALSE(bare.options.timestamps);

  syn.options.timestamps = wire::Timestamps{4242, 0};
  Segment full = cookie_syn_ack(config, kServer6, syn, SeqNum(5), 0x1234);
  EXPECT_EQ(full.options.mss, 1440);  // IPv6: 20 less (RFC 9293 §3.7.1, MUST-67)
  EXPECT_EQ(full.options.window_scale, window_shift_for(config.receive_buffer));
  EXPECT_TRUE(full.options.sack_permitted);
  ASSERT_TRUE(full.options.timestamps);
  EXPECT_EQ(full.options.timestamps->value, 0x1234u);
  EXPECT_EQ(full.options.timestamps->echo, 4242u);

  config.sack = false;
  config.window_scale = false;
  Segment ours_off = cookie_syn_ack(config, kServer4, syn, SeqNum(5), 1);
  EXPECT_FALSE(ours_off.options.window_scale);
  EXPECT_FALSE(ours_off.options.sack_permitted);
  EXPECT_TRUE(ours_off.options.timestamps);
  CookieOptions o = cookie_options_for(config, syn);
  EXPECT_FALSE(o.window_scale);
  EXPECT_FALSE(o.sack);
}

}  // namespace
}  // namespace synack::tcp
