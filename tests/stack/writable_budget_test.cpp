// SPDX-License-Identifier: MIT
// A writer hears of room (a Writable event) when the memory budget, not the send buffer's
// capacity, bounds how far its send ring can fill (StackConfig::memory_budget, issue 11 §4).
// The event comes once a third of the ring is free (Linux's sk_stream_write_space()); a third of
// the capacity was never free when the budget held the ring under it, and a writer that waited
// for the event — `synack run`'s relay among them — waited for ever with the ring drained.
#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <vector>

#include "synack/stack.hpp"
#include "two_stacks.hpp"

namespace synack {
namespace writable_budget_test {

const wire::IpAddress kServer = two_stacks::kB;

TEST(WritableBudget,
     A_send_ring_the_budget_holds_under_a_third_of_its_capacity_still_signals_room) {
  auto budget = std::make_shared<MemoryBudget>(128 * 1024);
  StackConfig sc;
  sc.tcp.send_buffer = 64 * 1024;  // a third: 21,845 bytes
  sc.tcp.receive_buffer = 16 * 1024;
  sc.memory_budget = budget;
  two_stacks::Wire wire(StackConfig{}, sc);
  Stack& client = wire.a;
  Stack& server = wire.b;
  Instant& now = wire.now;
  auto shuttle = [&] { wire.shuttle(); };
  auto listener = server.listen({kServer, 80}, now, 4);
  ASSERT_TRUE(listener);
  auto c = client.connect({kServer, 80}, now);
  ASSERT_TRUE(c);
  shuttle();
  auto s = server.accept(*listener);
  ASSERT_TRUE(s);
  while (server.poll_event()) {
  }
  // Other connections hold the budget but for 16 KiB: the send ring gets its first 16 KiB
  // (ByteRing::kFirstAllocation) and cannot grow.
  ASSERT_TRUE(budget->try_reserve(budget->available() - 16 * 1024));
  std::vector<std::byte> data(100 * 1024, std::byte{1});
  auto n = server.send(*s, data, now);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 16u * 1024) << "the ring should fill to what the budget grants";
  auto more = server.send(*s, std::span(data).subspan(*n), now);
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error(), Error::WouldBlock);

  // The client reads everything; the server's ring drains.
  std::vector<std::byte> sink(64 * 1024);
  bool writable = false;
  for (int ms = 0; ms < 1000 && !writable; ++ms) {
    shuttle();
    for (auto r = client.receive(*c, sink, now); r && *r > 0; r = client.receive(*c, sink, now)) {
    }
    shuttle();
    while (auto ev = server.poll_event())
      if (ev->handle == *s && (ev->events & tcp::event::Writable)) writable = true;
    now += 1ms;
    client.on_timer(now);
    server.on_timer(now);
  }
  EXPECT_TRUE(writable) << "the ring drained and the writer never heard of it";
  EXPECT_GE(server.send_space(*s).value_or(0), 16u * 1024 / 3);
}

}  // namespace writable_budget_test
}  // namespace synack
