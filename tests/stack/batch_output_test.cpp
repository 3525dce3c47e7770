// SPDX-License-Identifier: MIT
// TcpConfig::batch_output: the segments of one batch (Stack::begin_batch/end_batch, the event
// loop's TUN reads) are acknowledged together at its end, as Linux acknowledges a GRO packet,
// but never more than 64 KiB at a time, and an ACK owed at once (out-of-order data) does not
// wait. The ACKs of one batch release one burst of data.
#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

#include "synack/stack.hpp"
#include "two_stacks.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace batch_output_test {

using two_stacks::kA;
using two_stacks::kB;

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

std::vector<std::vector<std::byte>> drain(Stack& from) {
  std::vector<std::vector<std::byte>> out;
  std::vector<std::byte> buffer;
  while (from.pop_packet(buffer)) out.push_back(buffer);
  return out;
}

struct Segment {
  std::uint32_t ack = 0;
  std::size_t payload = 0;
  bool sack = false;
};

Segment parse(const std::vector<std::byte>& packet) {
  auto p = wire::parse_tcp_packet(packet);
  EXPECT_TRUE(p);
  if (!p) return {};
  return {p->tcp.ack, p->payload.size(), p->tcp.options.sack_count > 0};
}

// a sends to b; both with 1000-octet segments (988 of data with timestamps), a large initial
// window and buffers, so that one send() is a whole flight.
struct Pair {
  explicit Pair(bool batch_output) {
    StackConfig c;
    c.tcp.mss = 1000;
    c.tcp.initial_window_segments = 200;
    c.tcp.send_buffer = 1 << 20;
    c.tcp.receive_buffer = 1 << 20;
    c.tcp.batch_output = batch_output;
    a.emplace(c, std::vector{kA});
    b.emplace(c, std::vector{kB});
    auto listener = b->listen({kB, 80}, at_ms(0));
    EXPECT_TRUE(listener);
    auto c_id = a->connect({kB, 80}, at_ms(0));
    EXPECT_TRUE(c_id);
    client = *c_id;
    for (int i = 0; i < 3; ++i) {
      for (auto& p : drain(*a)) b->receive_packet(p, at_ms(1));
      for (auto& p : drain(*b)) a->receive_packet(p, at_ms(1));
    }
    EXPECT_EQ(a->state(client), State::Established);
    auto s = b->accept(*listener);
    EXPECT_TRUE(s);
    server = *s;
    // One octet from b: its segment carries b's scaled window (1 MiB), which the handshake's
    // unscaled SYN,ACK could not.
    const std::byte one{1};
    EXPECT_TRUE(b->send(server, std::span(&one, 1), at_ms(1)));
    for (auto& p : drain(*b)) a->receive_packet(p, at_ms(1));
  }
  // `n` data segments from a, as they left.
  std::vector<std::vector<std::byte>> flight(std::size_t n) {
    std::vector<std::byte> data(n * 988, std::byte{0x5a});
    EXPECT_EQ(*a->send(client, data, at_ms(2)), data.size());
    auto packets = drain(*a);
    EXPECT_EQ(packets.size(), n);
    return packets;
  }
  std::optional<Stack> a, b;
  ConnectionId client{}, server{};
};

TEST(BatchOutput, OneAckForTheInOrderSegmentsOfABatch) {
  Pair pair(true);
  auto flight = pair.flight(20);
  pair.b->begin_batch();
  for (auto& p : flight) pair.b->receive_packet(p, at_ms(3));
  EXPECT_TRUE(drain(*pair.b).empty()) << "the ACKs wait for the batch's end";
  pair.b->end_batch(at_ms(3));
  auto acks = drain(*pair.b);
  ASSERT_EQ(acks.size(), 1u);
  // It acknowledges all 20 segments: a has nothing left unacknowledged.
  pair.a->receive_packet(acks[0], at_ms(4));
  EXPECT_EQ(pair.a->status(pair.client)->send_queue, 0u);
}

TEST(BatchOutput, WithoutABatchEverySecondSegmentIsAcknowledged) {
  // RFC 9293 §3.8.6.3 SHLD-19, unchanged outside a batch and with batch_output off.
  for (bool batch_output : {true, false}) {
    Pair pair(batch_output);
    auto flight = pair.flight(20);
    if (!batch_output) pair.b->begin_batch();  // a batch that does nothing when off
    for (auto& p : flight) pair.b->receive_packet(p, at_ms(3));
    auto acks = drain(*pair.b);
    if (!batch_output) {
      pair.b->end_batch(at_ms(3));
      auto more = drain(*pair.b);
      acks.insert(acks.end(), more.begin(), more.end());
    }
    EXPECT_EQ(acks.size(), 10u) << "batch_output " << batch_output;
  }
}

TEST(BatchOutput, NoMoreThan64KiBWaitsForOneAck) {
  Pair pair(true);
  auto flight = pair.flight(150);  // 148,200 octets of data
  pair.b->begin_batch();
  for (auto& p : flight) pair.b->receive_packet(p, at_ms(3));
  auto during = drain(*pair.b);
  pair.b->end_batch(at_ms(3));
  auto after = drain(*pair.b);
  // 64 KiB is 66.3 segments of 988: an ACK after the 67th and the 134th, the rest at the
  // batch's end.
  ASSERT_EQ(during.size(), 2u);
  EXPECT_EQ(after.size(), 1u);
  const std::uint32_t isn = wire::parse_tcp_packet(flight.front())->tcp.seq;
  EXPECT_EQ(parse(during[0]).ack - isn, 67u * 988);
  EXPECT_EQ(parse(during[1]).ack - isn, 134u * 988);
  EXPECT_EQ(parse(after[0]).ack - isn, 150u * 988);
}

TEST(BatchOutput, OutOfOrderDataIsAcknowledgedAtOnceInABatch) {
  // RFC 5681 §4.2 / RFC 9293 §3.10.7.4: out-of-order data is acknowledged at once (with its
  // SACK block), batch or not.
  Pair pair(true);
  auto flight = pair.flight(6);
  pair.b->begin_batch();
  pair.b->receive_packet(flight[0], at_ms(3));
  pair.b->receive_packet(flight[1], at_ms(3));
  EXPECT_TRUE(drain(*pair.b).empty());
  pair.b->receive_packet(flight[3], at_ms(3));  // flight[2] lost
  auto acks = drain(*pair.b);
  ASSERT_EQ(acks.size(), 1u) << "the duplicate ACK leaves before the batch ends";
  EXPECT_TRUE(parse(acks[0]).sack);
  const std::uint32_t isn = wire::parse_tcp_packet(flight[0])->tcp.seq;
  EXPECT_EQ(parse(acks[0]).ack - isn, 2u * 988);
  pair.b->end_batch(at_ms(3));
}

TEST(BatchOutput, AfterOutOfOrderDataTheNext16AnswersLeaveAtOnce) {
  // Follows Linux's quick-ACK mode after out-of-order data: a sender recovering a loss needs
  // every ACK, so for 16 answers after one owed at once nothing waits for the batch's end.
  Pair pair(true);
  auto flight = pair.flight(40);
  pair.b->begin_batch();
  pair.b->receive_packet(flight[0], at_ms(3));
  pair.b->receive_packet(flight[2], at_ms(3));  // flight[1] late: out of order, ACKed at once
  pair.b->receive_packet(flight[1], at_ms(3));  // fills the hole, ACKed at once
  drain(*pair.b);
  for (int i = 3; i < 19; ++i) pair.b->receive_packet(flight[i], at_ms(3));
  EXPECT_EQ(drain(*pair.b).size(), 8u) << "every second segment of the next 16, as without batches";
  for (int i = 19; i < 40; ++i) pair.b->receive_packet(flight[i], at_ms(3));
  EXPECT_TRUE(drain(*pair.b).empty()) << "then the batch holds its ACKs again";
  pair.b->end_batch(at_ms(3));
  EXPECT_EQ(drain(*pair.b).size(), 1u);
}

// The first SACK block of an ACK, relative to the flight's first sequence number.
std::pair<std::uint32_t, std::uint32_t> first_sack_block(const std::vector<std::byte>& ack,
                                                         std::uint32_t isn) {
  auto p = wire::parse_tcp_packet(ack);
  EXPECT_TRUE(p && p->tcp.options.sack_count > 0);
  if (!p || p->tcp.options.sack_count == 0) return {};
  return {p->tcp.options.sack[0].left - isn, p->tcp.options.sack[0].right - isn};
}

TEST(BatchOutput, RFC5681_4_2_three_duplicate_ACKs_at_once_then_one_SACK_per_batch) {
  // Follows Linux's SACK compression (tcp_sack_compress) instead of RFC 5681 §4.2's
  // immediate duplicate ACK for every out-of-order segment: three at once for one RCV.NXT,
  // then the batch's out-of-order segments answered by one ACK at its end.
  Pair pair(true);
  auto flight = pair.flight(12);
  const std::uint32_t isn = wire::parse_tcp_packet(flight[0])->tcp.seq;
  pair.b->begin_batch();
  pair.b->receive_packet(flight[0], at_ms(3));
  for (int i = 2; i < 12; ++i) pair.b->receive_packet(flight[i], at_ms(3));  // flight[1] lost
  auto during = drain(*pair.b);
  ASSERT_EQ(during.size(), 3u) << "three duplicate ACKs, for flight[2], [3] and [4]";
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(parse(during[i]).ack - isn, 988u);
    EXPECT_EQ(first_sack_block(during[i], isn),
              std::make_pair(2u * 988, static_cast<std::uint32_t>(3 + i) * 988));
  }
  pair.b->end_batch(at_ms(3));
  auto after = drain(*pair.b);
  ASSERT_EQ(after.size(), 1u) << "flight[5..11] answered once, at the batch's end";
  EXPECT_EQ(parse(after[0]).ack - isn, 988u);
  EXPECT_EQ(first_sack_block(after[0], isn), std::make_pair(2u * 988, 12u * 988));
}

TEST(BatchOutput, RFC5681_4_2_no_more_than_8_out_of_order_segments_wait_for_one_ACK) {
  // A long batch of out-of-order data is still answered every 8 segments: beyond that, one
  // ACK's SACK blocks could not describe what it answers (Linux: net.ipv4.tcp_comp_sack_nr
  // and a timer).
  Pair pair(true);
  auto flight = pair.flight(22);
  const std::uint32_t isn = wire::parse_tcp_packet(flight[0])->tcp.seq;
  pair.b->begin_batch();
  for (int i = 1; i < 22; ++i) pair.b->receive_packet(flight[i], at_ms(3));  // flight[0] lost
  auto during = drain(*pair.b);
  ASSERT_EQ(during.size(), 5u) << "three at once, then one for flight[4..11] and one for [12..19]";
  EXPECT_EQ(first_sack_block(during[3], isn), std::make_pair(988u, 12u * 988));
  EXPECT_EQ(first_sack_block(during[4], isn), std::make_pair(988u, 20u * 988));
  pair.b->end_batch(at_ms(3));
  auto after = drain(*pair.b);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(first_sack_block(after[0], isn), std::make_pair(988u, 22u * 988));
}

TEST(BatchOutput, RFC5681_4_2_a_filled_hole_is_ACKed_at_once_and_the_next_hole_gets_three) {
  Pair pair(true);
  auto flight = pair.flight(20);
  const std::uint32_t isn = wire::parse_tcp_packet(flight[0])->tcp.seq;
  pair.b->begin_batch();
  for (int i = 1; i < 10; ++i) pair.b->receive_packet(flight[i], at_ms(3));  // flight[0] lost
  EXPECT_EQ(drain(*pair.b).size(), 3u);
  pair.b->receive_packet(flight[0], at_ms(3));  // the retransmission fills the hole
  auto filled = drain(*pair.b);
  ASSERT_EQ(filled.size(), 1u) << "RFC 5681 §4.2: a segment that fills a hole is ACKed at once";
  EXPECT_EQ(parse(filled[0]).ack - isn, 10u * 988);
  for (int i = 11; i < 20; ++i) pair.b->receive_packet(flight[i], at_ms(3));  // [10] lost
  EXPECT_EQ(drain(*pair.b).size(), 3u) << "three duplicate ACKs for the new RCV.NXT";
  pair.b->end_batch(at_ms(3));
  EXPECT_EQ(drain(*pair.b).size(), 1u);
}

TEST(BatchOutput, RFC5681_4_2_without_a_batch_every_out_of_order_segment_is_ACKed_at_once) {
  for (bool batch_output : {true, false}) {
    Pair pair(batch_output);
    auto flight = pair.flight(20);
    for (int i = 1; i < 20; ++i) pair.b->receive_packet(flight[i], at_ms(3));  // [0] lost
    EXPECT_EQ(drain(*pair.b).size(), 19u) << "batch_output " << batch_output;
  }
}

TEST(BatchOutput, TheAcksOfABatchReleaseOneBurst) {
  Pair pair(true);
  auto flight = pair.flight(20);
  for (auto& p : flight) pair.b->receive_packet(p, at_ms(3));
  auto acks = drain(*pair.b);
  ASSERT_EQ(acks.size(), 10u);
  std::vector<std::byte> more(200 * 988, std::byte{0x33});
  ASSERT_TRUE(pair.a->send(pair.client, more, at_ms(3)));  // fills the window
  drain(*pair.a);
  pair.a->begin_batch();
  pair.a->receive_packet(acks[0], at_ms(4));
  auto first = drain(*pair.a);
  EXPECT_FALSE(first.empty()) << "the batch's first ACK is answered at once, as without batches";
  for (std::size_t i = 1; i < acks.size(); ++i) pair.a->receive_packet(acks[i], at_ms(4));
  EXPECT_TRUE(drain(*pair.a).empty()) << "what the later ACKs release waits for the batch's end";
  pair.a->end_batch(at_ms(4));
  auto burst = drain(*pair.a);
  EXPECT_FALSE(burst.empty());
  std::size_t octets = 0;
  for (auto& p : first) octets += parse(p).payload;
  for (auto& p : burst) octets += parse(p).payload;
  EXPECT_GE(octets, 20u * 988) << "the 20 segments acknowledged are replaced";
}

namespace {

// A bulk transfer a -> b through a link that drops 1 packet in `drop_every` each way, each
// side reading its packets in batches as the event loop does: begin_batch, the packets, the
// application's events (a refills its send buffer on Writable, b reads), end_batch, the
// events again. a closes once it has queued the last byte. Returns, once b has every byte and
// the FIN, the virtual milliseconds it took, or -1 if it had not finished after
// 60 s.
std::int64_t batched_transfer(std::size_t bytes, std::uint32_t drop_every) {
  StackConfig c;
  Stack a(c, {kA}), b(c, {kB});
  auto listener = b.listen({kB, 80}, at_ms(0));
  auto conn = a.connect({kB, 80}, at_ms(0));
  if (!listener || !conn) return -1;
  std::optional<ConnectionId> server;
  std::vector<std::byte> data = two_stacks::pattern(bytes);
  std::size_t sent = 0, received = 0;
  bool eof = false;
  std::uint32_t lcg = 12345, count = 0;
  auto lose = [&] {
    lcg = lcg * 1103515245u + 12345u;
    return drop_every > 0 && (lcg >> 8) % drop_every == 0 && ++count > 0;
  };
  std::vector<std::byte> chunk(65536);
  bool writable = true;  // as an application that writes only when told it may
  auto a_events = [&](Instant now) {
    while (auto ev = a.poll_event()) {
      if (ev->handle == *conn && (ev->events & tcp::event::Writable)) writable = true;
    }
    while (writable && sent < data.size()) {
      auto n = a.send(*conn, std::span(data).subspan(sent), now);
      if (!n || *n == 0) {
        writable = false;
        break;
      }
      sent += *n;
      // Like `synack serve`'s HTTP server: closed once the last byte is queued, so that the
      // stack finishes the transfer for a connection the application has let go of.
      if (sent == data.size()) (void)a.close(*conn, now);
    }
  };
  auto b_events = [&](Instant now) {
    while (auto ev = b.poll_event()) (void)ev;
    if (!server) {
      if (auto s = b.accept(*listener)) server = *s;
    }
    while (server) {
      auto n = b.receive(*server, chunk, now);
      if (n && *n == 0) eof = true;  // the FIN, after every byte
      if (!n || *n == 0) break;
      received += *n;
    }
  };
  for (std::int64_t us = 0; us < 60'000'000; us += 50) {
    const Instant now = instant_from_us(us);
    std::vector<std::vector<std::byte>> to_b, to_a;
    for (auto& p : drain(a))
      if (!lose()) to_b.push_back(std::move(p));
    for (auto& p : drain(b))
      if (!lose()) to_a.push_back(std::move(p));
    b.begin_batch();
    for (auto& p : to_b) b.receive_packet(p, now);
    b_events(now);
    b.end_batch(now);
    b_events(now);
    a.begin_batch();
    for (auto& p : to_a) a.receive_packet(p, now);
    a_events(now);
    a.end_batch(now);
    a_events(now);
    if (auto d = a.next_deadline(); d && *d <= now) a.on_timer(now);
    if (auto d = b.next_deadline(); d && *d <= now) b.on_timer(now);
    if (received == bytes && eof) return us / 1000;
  }
  return -1;
}

}  // namespace

TEST(BatchOutput, ABatchedTransferUnderLossCompletes) {
  EXPECT_GE(batched_transfer(2 << 20, 0), 0) << "lossless";
  EXPECT_GE(batched_transfer(2 << 20, 100), 0) << "1 % loss each way";
  EXPECT_GE(batched_transfer(2 << 20, 20), 0) << "5 % loss each way";
}

}  // namespace batch_output_test
}  // namespace synack
