// SPDX-License-Identifier: MIT
// Stack::receive_with and Stack::send_with (synack/buffer_access.hpp): a relay's bytes read
// from and written into the connection's own rings, with the same stream, the same window
// and the same FIN as receive() and send(). Two stacks on a scripted wire, in virtual time.
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "two_stacks.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace zero_copy_test {

using two_stacks::kA;
using two_stacks::kB;

// The shared wire (two_stacks.hpp), keeping the header and payload size of what a sends.
struct Wire : two_stacks::Wire {
  std::vector<wire::TcpHeader> a_sent;
  std::vector<std::size_t> a_payloads;
  Wire() {
    on_a = [this](std::span<const std::byte> packet) {
      if (auto p = wire::parse_tcp_packet(packet)) {
        a_sent.push_back(p->tcp);
        a_payloads.push_back(p->payload.size());
      }
    };
  }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;
  // Connects a to b with the given socket options on a's side.
  std::pair<ConnectionId, ConnectionId> establish(SocketOptions a_options = {},
                                                  SocketOptions b_options = {}) {
    auto l = b.listen({kB, 80}, now, 16, b_options);
    auto c = a.connect({kB, 80}, now, std::nullopt, a_options);
    shuttle();
    auto s = b.accept(*l);
    EXPECT_TRUE(c && s);
    return {*c, *s};
  }
};

std::vector<std::byte> pattern(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return v;
}

TEST(ZeroCopy, SendWithWritesInPlaceAcrossTheRingsWrapAndThePeerGetsTheSameStream) {
  Wire w;
  // B's small window keeps unacknowledged bytes in A's ring, so it does not empty (and
  // rewind to its start, ByteRing::rewind) between calls: it wraps.
  auto [c, s] =
      w.establish(SocketOptions{.send_buffer = 4096}, SocketOptions{.receive_buffer = 2500});
  const auto data = pattern(20000, 3);
  std::size_t written = 0;
  int calls = 0, wrapped_calls = 0;
  std::vector<std::byte> got, sink(1000);
  for (int guard = 0; guard < 1000 && got.size() < data.size(); ++guard) {
    int calls_this_time = 0;
    auto r = w.a.send_with(
        c,
        [&](std::span<std::byte> space, bool&) {
          ++calls;
          ++calls_this_time;
          std::size_t n = std::min(space.size(), data.size() - written);
          std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(written), n, space.begin());
          written += n;
          return n;
        },
        w.now);
    ASSERT_TRUE(r);
    if (calls_this_time == 2) ++wrapped_calls;
    w.shuttle();
    // The reader takes 1000 bytes at a time, so the send ring fills and drains out of step.
    if (auto n = w.b.receive(s, sink, w.now))
      got.insert(got.end(), sink.begin(), sink.begin() + *n);
    w.shuttle();
  }
  EXPECT_EQ(got, data);
  EXPECT_GT(wrapped_calls, 0) << "the 4 KiB ring wrapped at least once (two runs in one call)";
  EXPECT_GT(calls, 5);
}

TEST(ZeroCopy, SendWithLastPutsTheFinOnTheLastDataSegment) {
  Wire w;
  auto [c, s] = w.establish();
  const auto data = pattern(3000, 5);
  w.a_sent.clear();
  w.a_payloads.clear();
  auto r = w.a.send_with(
      c,
      [&](std::span<std::byte> space, bool& last) {
        std::copy(data.begin(), data.end(), space.begin());
        last = true;
        return data.size();
      },
      w.now);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, data.size());
  w.shuttle();
  // The FIN rides on the segment carrying the last byte: no segment of its own.
  std::size_t fins = 0, fin_payload = 0;
  for (std::size_t i = 0; i < w.a_sent.size(); ++i) {
    if (w.a_sent[i].has(wire::tcp_flag::FIN)) {
      ++fins;
      fin_payload = w.a_payloads[i];
    }
  }
  EXPECT_EQ(fins, 1u);
  EXPECT_GT(fin_payload, 0u) << "FIN on a data segment";
  EXPECT_EQ(w.a.state(c), State::FinWait2);
  std::vector<std::byte> got(5000);
  auto n = w.b.receive(s, got, w.now);
  ASSERT_TRUE(n);
  got.resize(*n);
  EXPECT_EQ(got, data);
  auto eof = w.b.receive(s, std::span<std::byte>(), w.now);
  ASSERT_TRUE(eof);
  EXPECT_EQ(*eof, 0u) << "end of stream after the data";
  // A send after `last`: the sending side is shut.
  auto again = w.a.send_with(
      c, [](std::span<std::byte>, bool&) { return std::size_t{0}; }, w.now);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Error::ShutDown);
}

TEST(ZeroCopy, ReceiveWithConsumesWhatTheReaderTakesAndKeepsTheRest) {
  Wire w;
  auto [c, s] = w.establish();
  const auto data = pattern(5000, 7);
  ASSERT_TRUE(w.a.set_no_delay(c, true));  // the short tail is not held for the delayed ACK
  ASSERT_TRUE(w.a.send(c, data, w.now));
  w.shuttle();
  std::vector<std::byte> got;
  // A reader that takes 1200 bytes, as a host socket with little room would.
  auto r = w.b.receive_with(
      s,
      [&](std::span<const std::byte> bytes) {
        std::size_t n = std::min<std::size_t>(bytes.size(), 1200);
        got.insert(got.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
      },
      w.now);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1200u);
  // A reader that takes nothing: WouldBlock, and nothing is lost.
  auto none = w.b.receive_with(
      s, [](std::span<const std::byte>) { return std::size_t{0}; }, w.now);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), Error::WouldBlock);
  EXPECT_EQ(w.b.status(s)->receive_queue, 5000u - 1200u);
  auto rest = w.b.receive_with(
      s,
      [&](std::span<const std::byte> bytes) {
        got.insert(got.end(), bytes.begin(), bytes.end());
        return bytes.size();
      },
      w.now);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, 5000u - 1200u);
  EXPECT_EQ(got, data);
  // Nothing there: WouldBlock; after the peer's FIN: 0, end of stream.
  auto empty = w.b.receive_with(
      s, [](std::span<const std::byte> b) { return b.size(); }, w.now);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), Error::WouldBlock);
  ASSERT_TRUE(w.a.shutdown_write(c, w.now));
  w.shuttle();
  auto eof = w.b.receive_with(
      s, [](std::span<const std::byte> b) { return b.size(); }, w.now);
  ASSERT_TRUE(eof);
  EXPECT_EQ(*eof, 0u);
}

TEST(ZeroCopy, ReceiveWithReadsAcrossTheWrapAndReopensTheWindow) {
  Wire w;
  auto [c, s] = w.establish({}, SocketOptions{.receive_buffer = 4096});
  const auto data = pattern(30000, 9);
  std::size_t sent = 0;
  std::vector<std::byte> got;
  int two_run_calls = 0;
  for (int guard = 0; guard < 2000 && got.size() < data.size(); ++guard) {
    if (sent < data.size()) {
      auto r = w.a.send(
          c, std::span(data).subspan(sent, std::min<std::size_t>(3000, data.size() - sent)), w.now);
      if (r) sent += *r;
    }
    w.shuttle();
    // At most 1500 bytes per call: the ring never empties (and rewinds to its start,
    // ByteRing::rewind) between calls, so it wraps under the reader.
    int runs = 0;
    std::size_t taken = 0;
    auto r = w.b.receive_with(
        s,
        [&](std::span<const std::byte> bytes) {
          ++runs;
          const std::size_t n = std::min<std::size_t>(bytes.size(), 1500 - taken);
          got.insert(got.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
          taken += n;
          return n;
        },
        w.now);
    if (runs == 2) ++two_run_calls;
    (void)r;
    w.shuttle();
  }
  EXPECT_EQ(got, data) << "the whole stream, in order, through a 4 KiB window";
  EXPECT_GT(two_run_calls, 0) << "the ring wrapped under the reader";
}

}  // namespace zero_copy_test
}  // namespace synack
