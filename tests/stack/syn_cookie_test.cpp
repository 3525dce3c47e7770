// SPDX-License-Identifier: MIT
// SYN cookies at the stack (RFC 4987 §3.6): the listener answers statelessly; the ACK that
// returns a valid cookie makes a connection with the options the cookie preserved; forged,
// stale or misdirected ACKs are refused, counted and never make a connection.
#include "tcp/syn_cookie.hpp"

#include <gtest/gtest.h>

#include <string>

#include "stack/syn_cookie_packets.hpp"

namespace synack {
namespace syn_cookie_test {

using namespace cookie_test;  // NOLINT(google-build-using-namespace)
using tcp::SynCookies;
namespace flag = wire::tcp_flag;

const wire::IpAddress kServer = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kClient = wire::IpAddress::v4(203, 0, 113, 9);
const wire::IpAddress kServer6 = *wire::IpAddress::parse("fd00::1");
const wire::IpAddress kClient6 = *wire::IpAddress::parse("2001:db8::9");

StackConfig cookie_config(SynCookieMode mode) {
  StackConfig c;
  c.syn_cookies = mode;
  return c;
}

struct SynShape {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> ws;
  bool sack = false;
  bool ts = false;
};

wire::TcpOptions syn_options(const SynShape& s, std::uint32_t tsval) {
  wire::TcpOptions o;
  o.mss = s.mss;
  o.window_scale = s.ws;
  o.sack_permitted = s.sack;
  if (s.ts) o.timestamps = wire::Timestamps{tsval, 0};
  return o;
}

// Every MSS class, window scale, SACK and timestamps combination, IPv4 and IPv6: the cookie
// SYN,ACK offers what an ordinary SYN,ACK offers when the SYN had timestamps (MSS only when it
// had not), and the connection made from the returning ACK has exactly the options the
// encoding preserved.
TEST(SynCookieStack, Connection_from_a_cookie_has_the_preserved_options) {
  int combos = 0;
  for (bool v6 : {false, true}) {
    const auto& server_addr = v6 ? kServer6 : kServer;
    const auto& client_addr = v6 ? kClient6 : kClient;
    for (std::optional<std::uint16_t> mss :
         {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{536},
          std::optional<std::uint16_t>{1300}, std::optional<std::uint16_t>{1420},
          std::optional<std::uint16_t>{1440}, std::optional<std::uint16_t>{1460},
          std::optional<std::uint16_t>{9000}}) {
      for (std::optional<std::uint8_t> ws :
           {std::optional<std::uint8_t>{}, std::optional<std::uint8_t>{0},
            std::optional<std::uint8_t>{7}, std::optional<std::uint8_t>{14}}) {
        for (bool sack : {false, true}) {
          for (bool ts : {false, true}) {
            SCOPED_TRACE("v6 " + std::to_string(v6) + " mss " + std::to_string(mss.value_or(0)) +
                         " ws " + std::to_string(ws ? *ws : -1) + " sack " + std::to_string(sack) +
                         " ts " + std::to_string(ts));
            ++combos;
            const SynShape shape{mss, ws, sack, ts};
            Stack server(cookie_config(SynCookieMode::Always), {server_addr});
            Stack plain(cookie_config(SynCookieMode::Never), {server_addr});
            Instant now = instant_from_us(3'600'000'000);
            auto l = server.listen({server_addr, 80}, now);
            ASSERT_TRUE(plain.listen({server_addr, 80}, now));
            const Peer peer{{client_addr, 41000}, {server_addr, 80}};
            const SeqNum isn(0xfffff000);  // wraps during the test
            auto syn = tcp_packet(peer, isn, SeqNum(0), flag::SYN, syn_options(shape, 5000));
            server.receive_packet(syn, now);
            plain.receive_packet(syn, now);
            auto out = drain(server);
            auto plain_out = drain(plain);
            ASSERT_EQ(out.size(), 1u);
            ASSERT_EQ(plain_out.size(), 1u);
            const wire::TcpHeader& synack = out[0].tcp;
            EXPECT_EQ(synack.flags, flag::SYN | flag::ACK);
            EXPECT_EQ(synack.ack, (isn + 1).raw());
            EXPECT_EQ(server.connection_count(), 0u) << "a cookie keeps no state";
            EXPECT_EQ(server.counters().tcp_syncookies_sent, 1u);
            // What the cookie SYN,ACK offers: with timestamps, all an ordinary SYN,ACK
            // offers; without, the MSS only (RFC 4987 §3.6; Linux clears the rest).
            const wire::TcpOptions& o = synack.options;
            const wire::TcpOptions& p = plain_out[0].tcp.options;
            EXPECT_EQ(synack.window, plain_out[0].tcp.window);
            EXPECT_EQ(o.mss, p.mss);
            EXPECT_EQ(o.timestamps.has_value(), ts);
            EXPECT_EQ(o.window_scale, ts ? p.window_scale : std::nullopt);
            EXPECT_EQ(o.sack_permitted, ts && p.sack_permitted);
            if (ts) {
              EXPECT_EQ(o.timestamps->echo, 5000u);
              EXPECT_EQ(p.timestamps->value - o.timestamps->value < 64, true)
                  << "the cookie's TSval is the connection's clock, low bits replaced";
            }

            // The returning ACK, echoing the TSval as a peer must (RFC 7323 §3.2).
            wire::TcpOptions ack_opts;
            if (ts) ack_opts.timestamps = wire::Timestamps{5001, o.timestamps->value};
            now += 30ms;
            server.receive_packet(
                tcp_packet(peer, isn + 1, SeqNum(synack.seq) + 1, flag::ACK, ack_opts), now);
            EXPECT_EQ(server.counters().tcp_syncookies_validated, 1u);
            EXPECT_EQ(server.counters().tcp_syncookies_failed, 0u);
            auto id = server.accept(*l);
            ASSERT_TRUE(id);
            auto st = *server.status(*id);
            EXPECT_EQ(st.state, State::Established);
            EXPECT_EQ(st.iss, SeqNum(synack.seq));
            EXPECT_EQ(st.irs, isn);
            EXPECT_EQ(st.rcv_nxt, isn + 1);
            const std::uint16_t default_mss = v6 ? 1220 : 536;
            const std::uint16_t table_mss =
                SynCookies::mss_at(SynCookies::mss_index(mss.value_or(default_mss), v6), v6);
            const std::uint32_t ours = v6 ? 1440 : 1460;
            EXPECT_EQ(st.snd_mss, std::min<std::uint32_t>(table_mss, ours) - (ts ? 12 : 0));
            EXPECT_EQ(st.timestamps, ts);
            EXPECT_EQ(st.window_scale, ts && ws.has_value());
            EXPECT_EQ(st.snd_wscale, ts && ws ? *ws : 0);
            EXPECT_EQ(st.rcv_wscale, ts && ws ? *o.window_scale : 0);
            EXPECT_EQ(st.sack, ts && sack);
            // The window of the ACK is scaled by the shift the cookie kept (RFC 7323 §2.3).
            EXPECT_EQ(st.snd_wnd, 65535u << (ts && ws ? *ws : 0));

            // Data both ways over the cookie connection.
            wire::TcpOptions data_opts;
            if (ts) data_opts.timestamps = wire::Timestamps{5002, o.timestamps->value};
            server.receive_packet(tcp_packet(peer, isn + 1, SeqNum(synack.seq) + 1,
                                             flag::ACK | flag::PSH, data_opts, "hello"),
                                  now);
            std::byte buf[16];
            auto got = server.receive(*id, buf, now);
            ASSERT_TRUE(got);
            EXPECT_EQ(*got, 5u);
            ASSERT_TRUE(server.send(*id, std::as_bytes(std::span("world", 5)), now));
            bool data_seen = false;
            for (const auto& s : drain(server)) {
              if (s.payload.size() != 5) continue;
              data_seen = true;
              EXPECT_EQ(s.tcp.seq, synack.seq + 1);
              EXPECT_EQ(s.tcp.ack, (isn + 6).raw());
              EXPECT_EQ(s.tcp.options.timestamps.has_value(), ts);
              if (ts) {
                EXPECT_GE(s.tcp.options.timestamps->value, o.timestamps->value);
              }
            }
            EXPECT_TRUE(data_seen);
          }
        }
      }
    }
  }
  EXPECT_EQ(combos, 2 * 7 * 4 * 2 * 2);
}

// A listener in Auto mode whose SYN queue is full: the next SYN gets a cookie.
struct FullQueue {
  StackConfig config = [] {
    StackConfig c;
    c.max_syn_queue = 4;
    return c;
  }();
  Stack server{config, {kServer}};
  Instant now = instant_from_us(7'200'000'000);
  ListenerId listener = *server.listen({kServer, 80}, now);
  FullQueue() {
    for (std::uint16_t i = 0; i < 4; ++i)
      server.receive_packet(
          tcp_packet(Peer{{kClient, static_cast<std::uint16_t>(1000 + i)}, {kServer, 80}},
                     SeqNum(i), SeqNum(0), flag::SYN),
          now);
    drain(server);
  }
  // The cookie SYN,ACK for a SYN from `peer`.
  wire::TcpHeader cookie_for(const Peer& peer, SeqNum isn, const wire::TcpOptions& o = {}) {
    server.receive_packet(tcp_packet(peer, isn, SeqNum(0), flag::SYN, o), now);
    auto out = drain(server);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? wire::TcpHeader{} : out[0].tcp;
  }
};

TEST(SynCookieStack, Auto_mode_answers_with_a_cookie_only_once_the_queue_is_full) {
  FullQueue f;
  EXPECT_EQ(f.server.connection_count(), 4u);
  EXPECT_EQ(f.server.counters().tcp_syncookies_sent, 0u) << "below the limit: ordinary SYN queue";
  const Peer peer{{kClient, 2000}, {kServer, 80}};
  auto synack = f.cookie_for(peer, SeqNum(100));
  EXPECT_EQ(synack.flags, flag::SYN | flag::ACK);
  EXPECT_EQ(f.server.counters().tcp_syncookies_sent, 1u);
  EXPECT_EQ(f.server.counters().tcp_syn_queue_overflow, 0u);
  EXPECT_EQ(f.server.connection_count(), 4u) << "the SYN queue did not grow";
  f.server.receive_packet(tcp_packet(peer, SeqNum(101), SeqNum(synack.seq) + 1, flag::ACK), f.now);
  EXPECT_EQ(f.server.connection_count(), 5u);
  EXPECT_TRUE(f.server.accept(f.listener));
}

TEST(SynCookieStack, Never_mode_drops_the_SYN_when_the_queue_is_full) {
  FullQueue f;
  f.config.syn_cookies = SynCookieMode::Never;
  Stack server(f.config, {kServer});
  ASSERT_TRUE(server.listen({kServer, 80}, f.now));
  for (std::uint16_t i = 0; i < 5; ++i)
    server.receive_packet(
        tcp_packet(Peer{{kClient, static_cast<std::uint16_t>(1000 + i)}, {kServer, 80}}, SeqNum(i),
                   SeqNum(0), flag::SYN),
        f.now);
  EXPECT_EQ(drain(server).size(), 4u);
  EXPECT_EQ(server.counters().tcp_syn_queue_overflow, 1u);
  EXPECT_EQ(server.counters().tcp_syncookies_sent, 0u);
}

// Forged ACKs — wrong hash, another tuple, SEG.SEQ or SEG.ACK off by one, bits we never send
// in the echoed timestamp — are refused, counted as tcp_syncookies_failed (and traced under
// that name), answered with RST as any ACK at a listener, and never make a connection.
TEST(SynCookieStack, Forged_ACKs_are_refused_counted_and_make_no_connection) {
  struct Drops : TraceSink {
    int failed = 0;
    void on_drop(const DropEvent& e) override { failed += e.counter == "tcp_syncookies_failed"; }
  } drops;
  FullQueue f;
  f.server.set_trace(&drops);
  const Peer peer{{kClient, 2000}, {kServer, 80}};
  const SeqNum isn(0x80000000);
  wire::TcpOptions syn_ts;
  syn_ts.timestamps = wire::Timestamps{777, 0};
  syn_ts.window_scale = 7;
  syn_ts.sack_permitted = true;
  auto synack = f.cookie_for(peer, isn, syn_ts);
  const SeqNum cookie(synack.seq);
  const std::uint32_t tsval = synack.options.timestamps->value;
  auto ts = [&](std::uint32_t echo) {
    wire::TcpOptions o;
    o.timestamps = wire::Timestamps{778, echo};
    return o;
  };
  std::uint64_t expected_failed = 0;
  auto refused = [&](const Peer& from, SeqNum seq, SeqNum ack, const wire::TcpOptions& o,
                     std::string_view what) {
    const std::uint64_t resets = f.server.counters().tcp_resets_sent;
    f.server.receive_packet(tcp_packet(from, seq, ack, flag::ACK, o), f.now);
    ++expected_failed;
    EXPECT_EQ(f.server.counters().tcp_syncookies_failed, expected_failed) << what;
    EXPECT_EQ(f.server.counters().tcp_resets_sent, resets + 1) << what;
    auto out = drain(f.server);
    ASSERT_EQ(out.size(), 1u) << what;
    EXPECT_EQ(out[0].tcp.flags, flag::RST) << what;
    EXPECT_EQ(out[0].tcp.seq, ack.raw()) << what;
    EXPECT_EQ(f.server.connection_count(), 4u) << what;
    EXPECT_FALSE(f.server.accept(f.listener)) << what;
  };
  // Blind guesses of the cookie.
  SeededRandom r(1);
  for (int i = 0; i < 1000; ++i)
    refused(peer, isn + 1, SeqNum(static_cast<std::uint32_t>(r.next_u64())), ts(tsval), "guess");
  refused(peer, isn + 2, cookie + 1, ts(tsval), "SEG.SEQ off by one");
  refused(peer, isn, cookie + 1, ts(tsval), "SEG.SEQ one short");
  refused(peer, isn + 1, cookie + 2, ts(tsval), "SEG.ACK off by one");
  refused(peer, isn + 1, cookie, ts(tsval), "SEG.ACK one short");
  refused(Peer{{kClient, 2001}, {kServer, 80}}, isn + 1, cookie + 1, ts(tsval), "other port");
  refused(Peer{{wire::IpAddress::v4(203, 0, 113, 10), 2000}, {kServer, 80}}, isn + 1, cookie + 1,
          ts(tsval), "other address");
  refused(peer, isn + 1, cookie + 1, ts(tsval | SynCookies::kTsEcn), "ECN bit we never send");
  EXPECT_EQ(drops.failed, static_cast<int>(expected_failed));
  EXPECT_EQ(f.server.counters().tcp_syncookies_validated, 0u);

  // The genuine ACK still works afterwards.
  f.server.receive_packet(tcp_packet(peer, isn + 1, cookie + 1, flag::ACK, ts(tsval)), f.now);
  EXPECT_EQ(f.server.counters().tcp_syncookies_validated, 1u);
  auto id = f.server.accept(f.listener);
  ASSERT_TRUE(id);
  auto st = *f.server.status(*id);
  EXPECT_TRUE(st.sack);
  EXPECT_EQ(st.snd_wscale, 7);
  f.server.set_trace(nullptr);
}

TEST(SynCookieStack, Stale_cookie_is_refused) {
  FullQueue f;
  const Peer peer{{kClient, 2000}, {kServer, 80}};
  auto synack = f.cookie_for(peer, SeqNum(5));
  // Two periods later (a fresh SYN keeps cookies in use on the listener meanwhile).
  f.now += 2 * SynCookies::kPeriod;
  f.cookie_for(Peer{{kClient, 3000}, {kServer, 80}}, SeqNum(9));
  f.server.receive_packet(tcp_packet(peer, SeqNum(6), SeqNum(synack.seq) + 1, flag::ACK), f.now);
  EXPECT_EQ(f.server.counters().tcp_syncookies_failed, 1u);
  EXPECT_EQ(f.server.counters().tcp_syncookies_validated, 0u);
  EXPECT_FALSE(f.server.accept(f.listener));
  // One period later it would still have been good: the previous count is accepted.
  FullQueue g;
  auto fresh = g.cookie_for(peer, SeqNum(5));
  g.now += SynCookies::kPeriod;
  g.server.receive_packet(tcp_packet(peer, SeqNum(6), SeqNum(fresh.seq) + 1, flag::ACK), g.now);
  EXPECT_EQ(g.server.counters().tcp_syncookies_validated, 1u);
  EXPECT_TRUE(g.server.accept(g.listener));
}

TEST(SynCookieStack, ACK_at_a_listener_that_sent_no_cookies_is_not_tried_as_one) {
  Stack server(StackConfig{}, {kServer});
  Instant now{};
  ASSERT_TRUE(server.listen({kServer, 80}, now));
  server.receive_packet(
      tcp_packet(Peer{{kClient, 2000}, {kServer, 80}}, SeqNum(1), SeqNum(77), flag::ACK), now);
  EXPECT_EQ(server.counters().tcp_syncookies_failed, 0u);
  EXPECT_EQ(server.counters().drop_listen_ack, 1u);
  EXPECT_EQ(drain(server).size(), 1u);  // the RST of RFC 9293 §3.10.7.2
}

// The accept queue bounds cookie connections as it bounds the others: a valid cookie ACK
// finding it full is dropped without a reply (Linux: ListenOverflows), and the peer's next
// segment, once there is room, makes the connection — data carried on it included.
TEST(SynCookieStack, Full_accept_queue_drops_the_cookie_ACK_until_there_is_room) {
  Stack server(cookie_config(SynCookieMode::Always), {kServer});
  Instant now = instant_from_us(1'000'000);
  auto l = server.listen({kServer, 80}, now, 1);
  ASSERT_TRUE(l);
  const Peer a{{kClient, 2000}, {kServer, 80}};
  const Peer b{{kClient, 2001}, {kServer, 80}};
  server.receive_packet(tcp_packet(a, SeqNum(10), SeqNum(0), flag::SYN), now);
  server.receive_packet(tcp_packet(b, SeqNum(20), SeqNum(0), flag::SYN), now);
  auto out = drain(server);
  ASSERT_EQ(out.size(), 2u);
  server.receive_packet(tcp_packet(a, SeqNum(11), SeqNum(out[0].tcp.seq) + 1, flag::ACK), now);
  server.receive_packet(tcp_packet(b, SeqNum(21), SeqNum(out[1].tcp.seq) + 1, flag::ACK), now);
  EXPECT_EQ(server.counters().tcp_backlog_overflow, 1u);
  EXPECT_EQ(server.connection_count(), 1u);
  EXPECT_TRUE(drain(server).empty()) << "dropped silently";
  ASSERT_TRUE(server.accept(*l));
  server.receive_packet(
      tcp_packet(b, SeqNum(21), SeqNum(out[1].tcp.seq) + 1, flag::ACK | flag::PSH, {}, "late"),
      now + 1s);
  auto id = server.accept(*l);
  ASSERT_TRUE(id);
  std::byte buf[8];
  auto got = server.receive(*id, buf, now + 1s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 4u);
  EXPECT_EQ(server.counters().tcp_syncookies_validated, 3u);
}

}  // namespace syn_cookie_test
}  // namespace synack
