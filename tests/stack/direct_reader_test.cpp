// SPDX-License-Identifier: MIT
// Stack::set_direct_reader: in-order data arriving while the receive buffer is empty goes to
// the reader from the packet, not through the buffer; what the reader leaves, and anything
// that arrives out of order or behind buffered data, is buffered and read in order after it.
// Two stacks on a scripted wire, virtual time.
#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "synack/stack.hpp"
#include "two_stacks.hpp"

namespace synack {
namespace direct_reader_test {

using two_stacks::kA;
using two_stacks::kB;
using two_stacks::pattern;

// A connected to B; A's packets can be held back and released later (reordering).
struct Pair {
  Stack a{StackConfig{}, {kA}};
  Stack b{StackConfig{}, {kB}};
  Instant now{};
  ConnectionId c{}, s{};
  std::vector<std::byte> buf;
  std::size_t hold_next = 0;  // A's next data packets to hold back
  std::deque<std::vector<std::byte>> held;

  Pair() {
    auto l = b.listen({kB, 80}, now, 4);
    auto cc = a.connect({kB, 80}, now);
    shuttle();
    auto ss = b.accept(*l);
    EXPECT_TRUE(cc && ss);
    c = *cc;
    s = *ss;
  }
  void shuttle() {
    a.on_timer(now);
    b.on_timer(now);
    for (int round = 0; round < 256; ++round) {
      bool moved = false;
      while (a.pop_packet(buf)) {
        moved = true;
        if (hold_next > 0 && buf.size() > 60) {
          --hold_next;
          held.push_back(buf);
          continue;
        }
        b.receive_packet(buf, now);
      }
      while (b.pop_packet(buf)) {
        moved = true;
        a.receive_packet(buf, now);
      }
      if (!moved) return;
    }
  }
  void release_held() {
    while (!held.empty()) {
      b.receive_packet(held.front(), now);
      held.pop_front();
    }
    shuttle();
  }
  void send(std::span<const std::byte> data) {
    std::size_t sent = 0;
    for (int guard = 0; guard < 1000 && sent < data.size(); ++guard) {
      if (auto n = a.send(c, data.subspan(sent), now)) sent += *n;
      shuttle();
      now += std::chrono::milliseconds(1);
    }
    for (int guard = 0; guard < 20; ++guard) {  // delayed ACKs, Nagle's last segment
      now += std::chrono::milliseconds(50);
      shuttle();
    }
    EXPECT_EQ(sent, data.size());
  }
  std::vector<std::byte> read_buffered() {
    std::vector<std::byte> out, chunk(4096);
    for (;;) {
      auto n = b.receive(s, chunk, now);
      if (!n || *n == 0) break;
      out.insert(out.end(), chunk.begin(), chunk.begin() + *n);
    }
    shuttle();
    return out;
  }
};

// Takes up to `limit` bytes per call (all when 0).
struct Collect {
  std::vector<std::byte> got;
  std::size_t calls = 0;
  std::size_t limit = 0;
  BufferReader reader() {
    return [this](std::span<const std::byte> bytes) -> std::size_t {
      ++calls;
      std::size_t n = limit ? std::min(limit, bytes.size()) : bytes.size();
      got.insert(got.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      return n;
    };
  }
};

TEST(DirectReader, InOrderTextGoesToTheReaderAndNotThroughTheBuffer) {
  Pair p;
  Collect to;
  const BufferReader reader = to.reader();
  ASSERT_TRUE(p.b.set_direct_reader(p.s, &reader));
  const auto data = pattern(200000);
  p.send(data);
  EXPECT_EQ(to.got, data);
  EXPECT_EQ(p.b.status(p.s)->receive_queue, 0u) << "nothing waits in the buffer";
  EXPECT_FALSE(p.b.receive(p.s, p.buf, p.now)) << "WouldBlock: nothing was buffered";
  EXPECT_EQ(p.b.counters().tcp_direct_delivered_bytes, data.size());
  EXPECT_EQ(p.a.status(p.c)->send_queue, 0u) << "all of it acknowledged";
  // RFC 9293 §3.10.7.4 seventh: delivered text is acknowledged and the window stays open.
  EXPECT_EQ(p.b.status(p.s)->rcv_nxt, p.a.status(p.c)->snd_nxt);
}

TEST(DirectReader, WhatTheReaderLeavesIsBufferedInOrderAfterWhatItTook) {
  Pair p;
  Collect to;
  to.limit = 100;  // takes the first 100 bytes of each offer
  const BufferReader reader = to.reader();
  ASSERT_TRUE(p.b.set_direct_reader(p.s, &reader));
  ASSERT_TRUE(p.a.set_no_delay(p.c, true));  // three segments in one flight
  const auto data = pattern(3000);
  ASSERT_EQ(p.a.send(p.c, data, p.now).value(), data.size());
  p.shuttle();
  // Once data waits in the buffer, later segments join it there (never overtaking it).
  std::vector<std::byte> all = to.got;
  auto rest = p.read_buffered();
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(all, data);
  EXPECT_EQ(to.calls, 1u) << "the reader was offered only the segment that met an empty buffer";
  EXPECT_EQ(to.got.size(), 100u);
}

TEST(DirectReader, OutOfOrderTextIsBufferedAndReadInOrder) {
  Pair p;
  Collect to;
  const BufferReader reader = to.reader();
  ASSERT_TRUE(p.b.set_direct_reader(p.s, &reader));
  const auto first = pattern(1000);
  p.send(first);
  ASSERT_EQ(to.got, first);
  // The next segment is held back; the one after it arrives first (out of order) and must
  // not go to the reader ahead of the hole.
  p.hold_next = 1;
  auto second = pattern(1200);
  for (auto& x : second) x = ~x;
  ASSERT_EQ(p.a.send(p.c, std::span(second).first(600), p.now).value(), 600u);
  p.shuttle();
  p.now += std::chrono::milliseconds(1);
  ASSERT_TRUE(p.a.set_no_delay(p.c, true));
  ASSERT_EQ(p.a.send(p.c, std::span(second).subspan(600), p.now).value(), 600u);
  p.shuttle();
  EXPECT_EQ(to.got.size(), first.size()) << "nothing delivered across the hole";
  p.release_held();
  std::vector<std::byte> all(to.got.begin() + 1000, to.got.end());
  auto rest = p.read_buffered();
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(all, second);
}

TEST(DirectReader, ARefusingReaderLeavesEverythingToTheBuffer) {
  Pair p;
  Collect to;
  to.limit = 0;
  const BufferReader refuse = [&](std::span<const std::byte>) -> std::size_t {
    ++to.calls;
    return 0;
  };
  ASSERT_TRUE(p.b.set_direct_reader(p.s, &refuse));
  const auto data = pattern(5000);
  p.send(data);
  EXPECT_GT(to.calls, 0u);
  auto got = p.read_buffered();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(got, data);
  EXPECT_EQ(p.b.counters().tcp_direct_delivered_bytes, 0u);
}

TEST(DirectReader, ClearedOrClosedTheReaderIsNotCalledAgain) {
  Pair p;
  Collect to;
  const BufferReader reader = to.reader();
  ASSERT_TRUE(p.b.set_direct_reader(p.s, &reader));
  p.send(pattern(500));
  ASSERT_EQ(to.calls, 1u);
  ASSERT_TRUE(p.b.set_direct_reader(p.s, nullptr));
  p.send(pattern(500));
  EXPECT_EQ(to.calls, 1u) << "cleared";
  EXPECT_EQ(p.read_buffered().size(), 500u);
  ASSERT_TRUE(p.b.set_direct_reader(p.s, &reader));
  ASSERT_TRUE(p.b.shutdown_write(p.s, p.now));
  p.shuttle();
  ASSERT_TRUE(p.b.close(p.s, p.now));
  p.shuttle();
  // Text for a detached connection: an RST (RFC 2525 §2.17), never the reader.
  const auto late = pattern(500);
  (void)p.a.send(p.c, late, p.now);
  p.shuttle();
  EXPECT_EQ(to.calls, 1u) << "the close took the reader away";
  EXPECT_FALSE(p.b.set_direct_reader(p.s, &reader)) << "NoSuchConnection once closed";
}

}  // namespace direct_reader_test
}  // namespace synack
