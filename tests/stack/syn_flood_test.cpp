// SPDX-License-Identifier: MIT
// Issue 11 §1 in virtual time: 100,000 spoofed SYNs (random sources, built as packets and fed
// to Stack::receive_packet) against a listener while a legitimate client — a second Stack —
// connects, completes its handshake through the cookie path and exchanges data both ways.
// The SYN queue stays at its limit and no allocation per spoofed SYN survives: this file
// counts live heap blocks and bytes with a replacement operator new/delete.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>

#include "stack/syn_cookie_packets.hpp"

namespace {
std::atomic<std::int64_t> g_live_blocks{0};
std::atomic<std::int64_t> g_live_bytes{0};
}  // namespace

// Replacement allocation functions ([replacement.functions]): the array, nothrow and sized
// forms of the library forward to these two. Aligned forms are not replaced (and not used by
// the stack).
void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  g_live_blocks.fetch_add(1, std::memory_order_relaxed);
  g_live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)),
                         std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept {
  if (!p) return;
  g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)),
                         std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace synack {
namespace syn_flood_test {

using namespace cookie_test;  // NOLINT(google-build-using-namespace)
namespace flag = wire::tcp_flag;

const wire::IpAddress kServer = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kClient = wire::IpAddress::v4(198, 18, 0, 2);

constexpr int kSpoofed = 100'000;
constexpr int kPerMillisecond = 100;  // 100,000 SYNs per second of virtual time

// A SYN as Linux sends it (MSS, SACK-permitted, timestamps, window scale) from a random
// unicast source in 20/8 .. 99/8 (none martian), random port and ISN.
std::vector<std::byte> spoofed_syn(SeededRandom& r) {
  std::uint64_t x = r.next_u64();
  auto src =
      wire::IpAddress::v4(static_cast<std::uint8_t>(20 + x % 80),  // 20/8 .. 99/8
                          static_cast<std::uint8_t>(x >> 8), static_cast<std::uint8_t>(x >> 16),
                          static_cast<std::uint8_t>(1 + (x >> 24) % 254));
  wire::TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = wire::Timestamps{static_cast<std::uint32_t>(x >> 32), 0};
  o.window_scale = 7;
  return tcp_packet(
      Peer{{src, static_cast<std::uint16_t>(1024 + (x >> 40) % 60000)}, {kServer, 80}},
      SeqNum(static_cast<std::uint32_t>(r.next_u64())), SeqNum(0), flag::SYN, o);
}

struct Flood {
  explicit Flood(SynCookieMode mode) : server(config(mode), {kServer}) {}
  static StackConfig config(SynCookieMode mode) {
    StackConfig c;
    c.syn_cookies = mode;
    return c;  // max_syn_queue 1024, backlog 128: the defaults
  }
  Stack server;
  Stack client{StackConfig{}, {kClient}};
  Instant now = instant_from_us(1'000'000'000);
  SeededRandom random{2026};
  std::uint64_t reflected = 0;  // SYN,ACKs (and retransmissions) to spoofed sources
  std::vector<std::byte> buf;

  // Moves the client's packets to the server and the server's packets for the client back;
  // whatever the server sends to a spoofed source is lost, as it would be.
  void shuttle() {
    for (int round = 0; round < 16; ++round) {
      bool moved = false;
      while (server.pop_packet(buf)) {
        auto ip = wire::parse_ip_header(buf);
        if (ip && ip->dst == kClient) {
          moved = true;
          client.receive_packet(buf, now);
        } else {
          ++reflected;
        }
      }
      while (client.pop_packet(buf)) {
        moved = true;
        server.receive_packet(buf, now);
      }
      if (!moved) return;
    }
  }
  void tick() {
    now += 1ms;
    server.on_timer(now);
    client.on_timer(now);
    shuttle();
  }
  // Feeds `count` spoofed SYNs, paced, with the legitimate traffic moving alongside.
  void flood(
      int count, const std::function<void()>& each_ms = [] {}) {
    for (int i = 0; i < count; ++i) {
      server.receive_packet(spoofed_syn(random), now);
      if ((i + 1) % kPerMillisecond == 0) {
        tick();
        each_ms();
      }
    }
  }
};

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return v;
}

TEST(SynFlood, Legitimate_client_connects_and_exchanges_data_during_100k_spoofed_SYNs) {
  Flood f(SynCookieMode::Auto);
  auto listener = f.server.listen({kServer, 80}, f.now);
  ASSERT_TRUE(listener);

  f.flood(20'000);  // the SYN queue is long full: cookies from SYN 1,025 on
  EXPECT_EQ(f.server.connection_count(), 1024u);

  // The legitimate client, in the middle of the flood.
  auto c = f.client.connect({kServer, 80}, f.now);
  ASSERT_TRUE(c);
  const std::size_t kBytes = 100'000;
  const auto up = pattern(kBytes, 1), down = pattern(kBytes, 2);
  std::size_t sent_up = 0, got_up = 0, sent_down = 0, got_down = 0;
  std::optional<ConnectionId> s;
  std::vector<std::byte> in_server(kBytes), in_client(kBytes);
  std::optional<Instant> established_at;
  const Instant connect_at = f.now;
  auto pump = [&] {
    if (!established_at && f.client.state(*c) == State::Established) established_at = f.now;
    if (!s) {
      if (auto a = f.server.accept(*listener)) s = *a;
    }
    if (f.client.state(*c) == State::Established && sent_up < kBytes) {
      auto n = f.client.send(*c, std::span(up).subspan(sent_up), f.now);
      if (n) sent_up += *n;
    }
    if (!s) return;
    if (auto n = f.server.receive(*s, std::span(in_server).subspan(got_up), f.now)) got_up += *n;
    if (sent_down < kBytes) {
      if (auto n = f.server.send(*s, std::span(down).subspan(sent_down), f.now)) sent_down += *n;
    }
    if (auto n = f.client.receive(*c, std::span(in_client).subspan(got_down), f.now))
      got_down += *n;
  };
  f.flood(kSpoofed - 20'000, pump);

  ASSERT_TRUE(established_at) << "the client never completed its handshake";
  ASSERT_TRUE(s) << "the server never accepted the client's connection";
  EXPECT_LE(*established_at - connect_at, 2ms) << "one round trip, no retransmission";
  EXPECT_EQ(got_up, kBytes);
  EXPECT_EQ(got_down, kBytes);
  EXPECT_EQ(in_server, up);
  EXPECT_EQ(in_client, down);

  const Counters& k = f.server.counters();
  // Every SYN beyond the 1,024 the queue holds was answered with a cookie; the client's one
  // came back, validated, and nothing else did.
  EXPECT_EQ(k.tcp_syncookies_sent, static_cast<std::uint64_t>(kSpoofed - 1024 + 1));
  EXPECT_EQ(k.tcp_syncookies_validated, 1u);
  EXPECT_EQ(k.tcp_syncookies_failed, 0u);
  EXPECT_EQ(k.tcp_syn_queue_overflow, 0u);
  EXPECT_EQ(k.drop_martian_source, 0u) << "every spoofed SYN reached the listener";
  EXPECT_EQ(f.server.connection_count(), 1024u + 1) << "the SYN queue never grew past its limit";
  auto st = *f.server.status(*s);
  EXPECT_TRUE(st.timestamps);
  EXPECT_TRUE(st.sack);
  EXPECT_TRUE(st.window_scale);
  EXPECT_EQ(st.snd_mss, 1460u - 12);
  EXPECT_GE(f.reflected, static_cast<std::uint64_t>(kSpoofed));
  std::printf(
      "[ flood    ] %d spoofed SYNs in %.1f s virtual: %llu cookies, %llu SYN,ACKs to "
      "spoofed sources, client established in %lld us, %zu bytes each way\n",
      kSpoofed, static_cast<double>(to_us(f.now - instant_from_us(1'000'000'000))) / 1e6,
      static_cast<unsigned long long>(k.tcp_syncookies_sent),
      static_cast<unsigned long long>(f.reflected),
      static_cast<long long>(to_us(*established_at - connect_at)), got_up);
}

// The attack of issue 11 §1 without cookies: the queue fills and the client is shut out —
// what the test above would see if the cookie path did not work.
TEST(SynFlood, Without_cookies_the_flood_shuts_the_client_out) {
  Flood f(SynCookieMode::Never);
  auto listener = f.server.listen({kServer, 80}, f.now);
  ASSERT_TRUE(listener);
  f.flood(5'000);
  auto c = f.client.connect({kServer, 80}, f.now);
  ASSERT_TRUE(c);
  f.flood(20'000);
  EXPECT_EQ(f.client.state(*c), State::SynSent);
  EXPECT_FALSE(f.server.accept(*listener));
  EXPECT_GT(f.server.counters().tcp_syn_queue_overflow, 20'000u);
}

// No allocation per spoofed SYN survives: live heap blocks and bytes are the same after
// 98,000 further cookie SYNs as after the first 2,000 (the SYN queue full of its 1,024).
TEST(SynFlood, Memory_stays_bounded_under_the_flood) {
  Flood f(SynCookieMode::Auto);
  ASSERT_TRUE(f.server.listen({kServer, 80}, f.now));
  f.flood(2'000);
  const std::int64_t blocks = g_live_blocks.load(), bytes = g_live_bytes.load();
  f.flood(kSpoofed - 2'000);
  const std::int64_t blocks_after = g_live_blocks.load(), bytes_after = g_live_bytes.load();
  EXPECT_EQ(f.server.connection_count(), 1024u);
  EXPECT_GE(f.server.counters().tcp_syncookies_sent, static_cast<std::uint64_t>(kSpoofed - 1024));
  // A little slack for containers that keep a spare block (the transmit deque, spare
  // buffers): 1 KiB-sized, never per SYN.
  EXPECT_LE(blocks_after - blocks, 16) << "live heap blocks grew with the SYNs";
  EXPECT_LE(bytes_after - bytes, 64 * 1024) << "live heap bytes grew with the SYNs";
  std::printf(
      "[ memory   ] after 2,000 SYNs: %lld blocks / %lld bytes live; after %d: %lld "
      "blocks / %lld bytes (SYN queue %zu)\n",
      static_cast<long long>(blocks), static_cast<long long>(bytes), kSpoofed,
      static_cast<long long>(blocks_after), static_cast<long long>(bytes_after),
      f.server.connection_count());
}

}  // namespace syn_flood_test
}  // namespace synack
