// SPDX-License-Identifier: MIT
// Buffers no more data can enter go back once empty, without a memory budget too
// (tcp::Connection::release_finished_buffers): the send buffer once our FIN is queued and every
// byte acknowledged, the receive buffer once the peer's FIN is in and every byte read. A
// connection in TIME-WAIT then holds no buffer memory (Linux: an inet_timewait_sock has
// none); unread data keeps its buffer until it is read.
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "two_stacks.hpp"

namespace synack {
namespace finished_buffers_test {

using two_stacks::kA;
using two_stacks::kB;

std::size_t sent(const Expected<std::size_t, Error>& r) { return r ? *r : 0; }

struct Pair {
  Stack client{StackConfig{}, {kA}};
  Stack server{StackConfig{}, {kB}};
  Instant now{};
  ConnectionId cid{}, sid{};

  void shuttle() {
    std::vector<std::byte> buf;
    for (int round = 0; round < 64; ++round) {
      bool moved = false;
      while (client.pop_packet(buf)) moved = true, server.receive_packet(buf, now);
      while (server.pop_packet(buf)) moved = true, client.receive_packet(buf, now);
      if (!moved) return;
    }
  }
  // Lets delayed ACKs go: 200 ms of 1 ms steps.
  void settle() {
    for (int i = 0; i < 200; ++i) {
      shuttle();
      now += std::chrono::milliseconds(1);
      client.on_timer(now);
      server.on_timer(now);
    }
    shuttle();
  }
  void open() {
    auto listener = server.listen({kB, 80}, now);
    ASSERT_TRUE(listener);
    auto c = client.connect({kB, 80}, now);
    ASSERT_TRUE(c);
    cid = *c;
    shuttle();
    auto s = server.accept(*listener);
    ASSERT_TRUE(s);
    sid = *s;
  }
  ConnectionStatus client_status() { return client.status(cid).value_or(ConnectionStatus{}); }
  ConnectionStatus server_status() { return server.status(sid).value_or(ConnectionStatus{}); }
  // Reads everything `stack` has for `id` now.
  static std::size_t drain(Stack& stack, ConnectionId id, Instant now) {
    std::vector<std::byte> in(65536);
    std::size_t total = 0;
    for (;;) {
      auto n = stack.receive(id, in, now);
      if (!n || *n == 0) return total;
      total += *n;
    }
  }
};

// A request and a reply, then the client half-closes first and keeps its id (shutdown_write,
// not close: the id stays valid in TIME-WAIT so that its status can be asked).
TEST(FinishedBuffers, A_connection_in_TIME_WAIT_holds_no_buffer_memory) {
  Pair p;
  p.open();
  auto request = two_stacks::pattern(3000), reply = two_stacks::pattern(5000);
  ASSERT_EQ(sent(p.client.send(p.cid, request, p.now)), request.size());
  p.shuttle();
  ASSERT_EQ(Pair::drain(p.server, p.sid, p.now), request.size());
  ASSERT_EQ(sent(p.server.send(p.sid, reply, p.now)), reply.size());
  p.settle();
  ASSERT_EQ(Pair::drain(p.client, p.cid, p.now), reply.size());
  // Both ends still ESTABLISHED: each holds its two rings (what is asked is real memory).
  EXPECT_EQ(p.client_status().state, State::Established);
  EXPECT_GE(p.client_status().buffer_memory, 2u * 16384);
  EXPECT_GE(p.server_status().buffer_memory, 2u * 16384);

  ASSERT_TRUE(p.client.shutdown_write(p.cid, p.now));
  p.settle();
  // The client's FIN is acknowledged: FIN-WAIT-2, its send buffer back, its receive buffer
  // still open to the server's data. The server, in CLOSE-WAIT, has its receive buffer back.
  EXPECT_EQ(p.client_status().state, State::FinWait2);
  EXPECT_EQ(p.client_status().buffer_memory, 16384u) << "the receive ring only";
  EXPECT_EQ(p.server_status().state, State::CloseWait);
  EXPECT_EQ(p.server_status().buffer_memory, 16384u) << "the send ring only";

  ASSERT_TRUE(p.server.shutdown_write(p.sid, p.now));
  p.settle();
  EXPECT_EQ(p.client_status().state, State::TimeWait);
  EXPECT_EQ(p.client_status().buffer_memory, 0u);
  EXPECT_EQ(Pair::drain(p.client, p.cid, p.now), 0u) << "end of stream, as before";
}

// The peer's data and FIN arrive before the application reads: the receive buffer stays with
// its bytes (CLOSE-WAIT), and goes back with the read that takes the last of them.
TEST(FinishedBuffers, Unread_data_keeps_its_buffer_until_it_is_read) {
  Pair p;
  p.open();
  auto data = two_stacks::pattern(10000);
  ASSERT_EQ(sent(p.client.send(p.cid, data, p.now)), data.size());
  ASSERT_TRUE(p.client.shutdown_write(p.cid, p.now));
  p.settle();
  EXPECT_EQ(p.server_status().state, State::CloseWait);
  EXPECT_EQ(p.server_status().receive_queue, data.size());
  EXPECT_EQ(p.server_status().buffer_memory, 16384u);
  EXPECT_EQ(Pair::drain(p.server, p.sid, p.now), data.size());
  EXPECT_EQ(p.server_status().buffer_memory, 0u);
  // And the client, in FIN-WAIT-2 with all its data acknowledged, holds nothing either: its
  // receive ring was never needed.
  EXPECT_EQ(p.client_status().state, State::FinWait2);
  EXPECT_EQ(p.client_status().buffer_memory, 0u);
}

// Our FIN is queued behind data the peer has not acknowledged yet: the send buffer is the
// retransmission queue and stays until the ACK comes.
TEST(FinishedBuffers, The_send_buffer_stays_until_its_data_is_acknowledged) {
  Pair p;
  p.open();
  auto data = two_stacks::pattern(4000);
  ASSERT_EQ(sent(p.client.send(p.cid, data, p.now)), data.size());
  ASSERT_TRUE(p.client.shutdown_write(p.cid, p.now));
  std::vector<std::byte> buf;
  while (p.client.pop_packet(buf)) {
  }  // lost on the way
  EXPECT_EQ(p.client_status().state, State::FinWait1);
  EXPECT_EQ(p.client_status().send_queue, data.size());
  EXPECT_EQ(p.client_status().buffer_memory, 16384u);
  // The retransmission timer sends the data again; the server's ACK frees the ring.
  for (int i = 0; i < 3000 && p.client_status().state == State::FinWait1; ++i) p.settle();
  EXPECT_EQ(p.client_status().state, State::FinWait2);
  EXPECT_EQ(p.client_status().buffer_memory, 0u);
  EXPECT_EQ(Pair::drain(p.server, p.sid, p.now), data.size());
}

}  // namespace finished_buffers_test
}  // namespace synack
