// SPDX-License-Identifier: MIT
// Issue 11 §4 in virtual time: a stack with a MemoryBudget (StackConfig::memory_budget)
// whose application never reads. Its buffers stay within the budget, which counts what the
// rings allocate; connections whose rings it cannot grow keep what they hold and drop the rest
// (flow-controlled by retransmission, never reset); new connections are refused with an RST
// once it is under pressure; and once the application reads, every byte arrives intact and
// every byte of the budget comes back.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "synack/stack.hpp"

namespace synack {
namespace memory_budget_test {

const wire::IpAddress kClient = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kServer = wire::IpAddress::v4(198, 18, 0, 2);

constexpr std::size_t kLimit = 1 << 20;
constexpr std::uint32_t kBuffer = 64 * 1024;
constexpr int kConnections = 40;
constexpr std::size_t kBytes = 200 * 1024;

StackConfig budgeted(std::shared_ptr<MemoryBudget> budget) {
  StackConfig c;
  c.tcp.send_buffer = kBuffer;
  c.tcp.receive_buffer = kBuffer;
  c.memory_budget = std::move(budget);
  return c;
}

struct Pair {
  std::shared_ptr<MemoryBudget> budget = std::make_shared<MemoryBudget>(kLimit);
  Stack client{StackConfig{}, {kClient}};
  Stack server{budgeted(budget), {kServer}};
  Instant now{};
  std::size_t peak_seen = 0;

  void shuttle() {
    std::vector<std::byte> buf;
    for (int round = 0; round < 64; ++round) {
      bool moved = false;
      while (client.pop_packet(buf)) moved = true, server.receive_packet(buf, now);
      while (server.pop_packet(buf)) moved = true, client.receive_packet(buf, now);
      peak_seen = std::max(peak_seen, budget->used());
      if (!moved) return;
    }
  }
  void step() {
    shuttle();
    now += 1ms;
    client.on_timer(now);
    server.on_timer(now);
  }
};

std::vector<std::byte> pattern(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed * 13) & 0xff);
  return v;
}

TEST(MemoryBudget, Bounds_unread_connections_closes_windows_refuses_new_then_recovers) {
  Pair p;
  auto listener = p.server.listen({kServer, 80}, p.now, kConnections);
  ASSERT_TRUE(listener);
  std::vector<ConnectionId> clients, servers;
  std::vector<std::vector<std::byte>> sent, got;
  std::vector<std::size_t> offset(kConnections, 0);
  for (int i = 0; i < kConnections; ++i) {
    auto c = p.client.connect({kServer, 80}, p.now);
    ASSERT_TRUE(c);
    clients.push_back(*c);
    sent.push_back(pattern(kBytes, i));
    got.emplace_back();
  }
  auto write_all = [&] {
    for (int i = 0; i < kConnections; ++i) {
      if (offset[i] == kBytes) continue;
      auto n = p.client.send(clients[i], std::span(sent[i]).subspan(offset[i]), p.now);
      if (n) offset[i] += *n;
    }
  };
  // The server accepts everything and reads nothing for 10 s of virtual time.
  for (int ms = 0; ms < 10'000; ++ms) {
    while (auto a = p.server.accept(*listener)) servers.push_back(*a);
    write_all();
    p.step();
  }
  ASSERT_EQ(servers.size(), static_cast<std::size_t>(kConnections));
  const Counters& k = p.server.counters();
  EXPECT_LE(p.peak_seen, kLimit) << "buffers beyond the budget";
  EXPECT_LE(p.budget->peak(), kLimit);
  EXPECT_EQ(k.memory_budget_bytes, kLimit);
  EXPECT_EQ(k.memory_used_bytes, p.budget->used());
  // The budget counts what the rings allocate, 16 KiB first, doubling as they fill: every
  // connection got its first 16 KiB, the first ones grew to the whole 64 KiB, and then the
  // budget was full. The others' windows, advertised before, cannot shrink (RFC 9293
  // §3.8.6.2.2); what arrives beyond what their rings hold is dropped and counted, and
  // waits at the client.
  EXPECT_EQ(p.budget->used(), kLimit);
  std::size_t held = 0;
  int full = 0;
  for (int i = 0; i < kConnections; ++i) {
    auto st = p.server.status(servers[i]);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->state, State::Established) << "flow-controlled, never reset";
    EXPECT_GE(st->receive_queue, 16384u) << "connection " << i << " got no memory";
    EXPECT_EQ(st->buffer_memory, st->receive_queue) << "rings full, nothing else held";
    // RFC 9293 §3.8.6 (SHLD-14): the right edge advertised while the budget had room stays.
    EXPECT_EQ(st->rcv_wnd + st->receive_queue, kBuffer) << "connection " << i;
    held += st->receive_queue;
    if (st->receive_queue == kBuffer) ++full;
  }
  EXPECT_EQ(held, kLimit);
  EXPECT_EQ(full, static_cast<int>((kLimit - kConnections * 16384) / (kBuffer - 16384)));
  EXPECT_GT(k.drop_memory_pressure, 0u);
  EXPECT_EQ(k.tcp_resets_sent, 0u);

  // Under pressure, a new connection is refused with an RST and counted.
  auto late = p.client.connect({kServer, 80}, p.now);
  ASSERT_TRUE(late);
  for (int ms = 0; ms < 10; ++ms) p.step();
  EXPECT_EQ(p.client.state(*late).value_or(State::Closed), State::Closed);
  EXPECT_EQ(p.client.connection_error(*late), Error::ConnectionRefused);
  EXPECT_EQ(p.server.counters().tcp_memory_refused, 1u);
  // And connect() from the server side too.
  auto out = p.server.connect({kClient, 9}, p.now);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), Error::TooManyConnections);
  EXPECT_EQ(p.server.counters().tcp_memory_refused, 2u);

  // The application reads now: emptied rings go back to the budget, the held-back connections'
  // rings grow again (the client's retransmissions find the room), and every byte arrives
  // intact.
  std::vector<std::byte> chunk(kBuffer);
  for (int ms = 0; ms < 300'000; ++ms) {
    bool all = true;
    for (int i = 0; i < kConnections; ++i) {
      while (auto n = p.server.receive(servers[i], chunk, p.now)) {
        if (*n == 0) break;
        got[i].insert(got[i].end(), chunk.begin(), chunk.begin() + static_cast<long>(*n));
      }
      all = all && got[i].size() == kBytes;
    }
    if (all) break;
    write_all();
    p.step();
  }
  for (int i = 0; i < kConnections; ++i) EXPECT_EQ(got[i], sent[i]) << "connection " << i;
  EXPECT_LE(p.peak_seen, kLimit);
  EXPECT_EQ(p.server.counters().tcp_resets_sent, 1u) << "only the refused connection";

  // Closed and gone: every byte of the budget is back.
  for (int i = 0; i < kConnections; ++i) {
    (void)p.client.close(clients[i], p.now);
    (void)p.server.close(servers[i], p.now);
  }
  for (int ms = 0; ms < 100'000 && p.budget->used() != 0; ++ms) p.step();
  EXPECT_EQ(p.budget->used(), 0u);
}

TEST(MemoryBudget, Without_a_budget_nothing_is_refused_or_dropped) {
  StackConfig c;
  c.tcp.receive_buffer = kBuffer;
  Stack client{StackConfig{}, {kClient}};
  Stack server{c, {kServer}};
  EXPECT_EQ(server.memory_budget(), nullptr);
  Instant now{};
  auto listener = server.listen({kServer, 80}, now, kConnections);
  ASSERT_TRUE(listener);
  std::vector<ConnectionId> clients;
  const auto data = pattern(kBytes, 0);
  for (int i = 0; i < kConnections; ++i) clients.push_back(*client.connect({kServer, 80}, now));
  std::vector<std::byte> buf;
  for (int ms = 0; ms < 2'000; ++ms) {
    for (auto c : clients) (void)client.send(c, data, now);
    while (client.pop_packet(buf)) server.receive_packet(buf, now);
    while (server.pop_packet(buf)) client.receive_packet(buf, now);
    while (server.accept(*listener)) {
    }
    now += 1ms;
    client.on_timer(now);
    server.on_timer(now);
  }
  EXPECT_EQ(server.counters().drop_memory_pressure, 0u);
  EXPECT_EQ(server.counters().tcp_memory_refused, 0u);
  EXPECT_EQ(server.counters().memory_budget_bytes, 0u);
  int full = 0;
  for (const auto& info : server.connections()) {
    if (info.status.state != State::Established) continue;
    // The whole buffer, and at most the octet of slack that a window field rounded up to the
    // 2-octet step of shift 1 may offer past it (RFC 7323 §2.4, tcp::ReceiveBuffer).
    EXPECT_GE(info.status.receive_queue, kBuffer);
    EXPECT_LE(info.status.receive_queue, kBuffer + 1);
    ++full;
  }
  EXPECT_EQ(full, kConnections) << "every receive buffer filled, none refused";
}

}  // namespace memory_budget_test
}  // namespace synack
