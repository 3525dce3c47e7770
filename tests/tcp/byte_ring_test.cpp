// SPDX-License-Identifier: MIT
// ByteRing::rewind and its use by ReceiveBuffer: a ring that holds little starts again at the
// beginning of its memory (so a reader that keeps up reuses cache-warm bytes), without losing
// or reordering a byte, and never while out-of-order data sits ahead of the in-order end.
#include "tcp/byte_ring.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tcp/receive_buffer.hpp"

namespace synack::tcp {
namespace {

std::vector<std::byte> bytes(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return v;
}

std::vector<std::byte> content(const ByteRing& r) {
  std::vector<std::byte> out(r.size());
  r.copy_out(0, out);
  return out;
}

TEST(ByteRing, RewindMovesWhatLittleItHoldsToTheStart) {
  ByteRing r(100000);
  const auto first = bytes(9000, 1);
  ASSERT_EQ(r.append(first), 9000u);
  const std::byte* base = r.contiguous(0, 1).data();
  r.consume(8000);  // head at 8000, 1000 bytes held
  r.rewind();
  EXPECT_EQ(r.contiguous(0, 1).data(), base) << "the content starts at the ring's start again";
  EXPECT_EQ(content(r), std::vector<std::byte>(first.begin() + 8000, first.end()));
}

TEST(ByteRing, RewindKeepsWrappedContentInOrder) {
  ByteRing r(65536);
  ASSERT_EQ(r.append(bytes(65000, 2)), 65000u);
  r.consume(64900);  // head at 64900: 636 bytes to the end, then the rest wraps to the front
  const auto more = bytes(1500, 3);
  ASSERT_EQ(r.append(more), 1500u);
  auto expected = content(r);
  ASSERT_EQ(expected.size(), 1600u);
  ASSERT_LT(r.contiguous(0, 2000).size(), 1600u) << "two runs before";
  r.rewind();
  EXPECT_EQ(content(r), expected);
  EXPECT_EQ(r.contiguous(0, 2000).size(), 1600u) << "one run now: no wrap";
}

TEST(ByteRing, ASmallRingKeepsWrapping) {
  ByteRing r(4096);
  ASSERT_EQ(r.append(bytes(4000, 6)), 4000u);
  r.consume(3700);  // 300 bytes held: more than a sixteenth of 4 KiB
  const std::byte* at = r.contiguous(0, 1).data();
  r.rewind();
  EXPECT_EQ(r.contiguous(0, 1).data(), at);
}

TEST(ByteRing, RewindLeavesAFullerRingAlone) {
  ByteRing r(200000);
  ASSERT_EQ(r.append(bytes(15000, 4)), 15000u);
  r.consume(5000);  // 10000 bytes held, more than kRewindBytes
  const std::byte* at = r.contiguous(0, 1).data();
  auto before = content(r);
  r.rewind();
  EXPECT_EQ(r.contiguous(0, 1).data(), at);
  EXPECT_EQ(content(r), before);
}

TEST(ByteRing, MemoryGrowsFromSixteenKibibytesToTheCapacityAsWritesNeedIt) {
  ByteRing r(1 << 20);
  EXPECT_EQ(r.allocated_bytes(), 0u) << "nothing before the first write";
  const auto data = bytes(1 << 20, 7);
  ASSERT_EQ(r.append(std::span(data).first(100)), 100u);
  EXPECT_EQ(r.allocated_bytes(), ByteRing::kFirstAllocation);
  ASSERT_EQ(r.append(std::span(data).subspan(100, 99900)), 99900u);
  EXPECT_EQ(r.allocated_bytes(), 131072u) << "the next power of two that holds 100,000 bytes";
  ASSERT_EQ(r.append(std::span(data).subspan(100000)), (1u << 20) - 100000u);
  EXPECT_EQ(r.allocated_bytes(), 1u << 20) << "never past the capacity";
  EXPECT_EQ(r.free_space(), 0u);
  EXPECT_EQ(content(r), data);
}

TEST(ByteRing, GrowingKeepsWrappedContentAndDataWrittenAheadOfIt) {
  ByteRing r(1 << 20);
  ASSERT_EQ(r.append(bytes(16000, 8)), 16000u);
  r.consume(15000);  // head at 15,000 of 16,384
  const auto more = bytes(3000, 9);
  ASSERT_EQ(r.append(more), 3000u);  // wraps inside the first allocation
  ASSERT_EQ(r.allocated_bytes(), ByteRing::kFirstAllocation);
  std::vector<std::byte> expected = content(r);  // 4,000 bytes
  // Out-of-order data far ahead: the ring must grow, and keep both where they were.
  const auto ahead = bytes(2000, 10);
  r.write_at(24000, ahead);
  EXPECT_EQ(r.allocated_bytes(), 32768u);
  const auto gap = bytes(20000, 11);
  r.write_at(4000, gap);
  r.commit(22000);
  expected.insert(expected.end(), gap.begin(), gap.end());
  expected.insert(expected.end(), ahead.begin(), ahead.end());
  EXPECT_EQ(content(r), expected);
}

// The budget counts what the ring allocates, as it grows (Linux's tcp_mem counts pages held,
// not buffer limits), and gets it all back on release.
TEST(ByteRing, TheBudgetIsChargedWhatTheRingAllocatesAndGetsItBack) {
  MemoryBudget budget(1 << 20);
  {
    ByteRing r(300000);
    r.set_budget(&budget);
    ASSERT_EQ(r.append(bytes(10, 12)), 10u);
    EXPECT_EQ(budget.used(), ByteRing::kFirstAllocation) << "the first 16 KiB only";
    ASSERT_EQ(r.append(bytes(200000, 13)), 200000u);
    EXPECT_EQ(budget.used(), 262144u) << "grown to the power of two that holds 200,010 bytes";
    EXPECT_EQ(budget.used(), r.allocated_bytes());
    r.release();
    EXPECT_EQ(budget.used(), 0u);
    ASSERT_EQ(r.append(bytes(10, 14)), 10u);
    EXPECT_EQ(budget.used(), 262144u)
        << "a ring given back starts again at the size it had grown to (a busy stream)";
  }
  EXPECT_EQ(budget.used(), 0u) << "returned when the ring goes";
  ByteRing small(300000);
  small.set_budget(&budget);
  ASSERT_EQ(small.append(bytes(1000, 15)), 1000u);
  small.release();
  ASSERT_EQ(small.append(bytes(1000, 16)), 1000u);
  EXPECT_EQ(budget.used(), ByteRing::kFirstAllocation) << "and one that never grew, at 16 KiB";
}

// A writer offered the whole free space (a relay reading a socket straight into the ring) gets
// the memory the ring has, grown one step when it is full, never the whole buffer at once.
TEST(ByteRing, WritableGrowsOneStepAtATime) {
  MemoryBudget budget(1 << 30);
  ByteRing r(1 << 20);
  r.set_budget(&budget);
  auto space = r.writable(r.free_space());
  EXPECT_EQ(space.size(), ByteRing::kFirstAllocation);
  EXPECT_EQ(budget.used(), ByteRing::kFirstAllocation) << "not the 1 MiB capacity";
  std::fill(space.begin(), space.begin() + 1000, std::byte{9});
  r.commit(1000);  // a 1 KiB reply: the rest of the 16 KiB stays free, nothing more allocated
  EXPECT_EQ(r.writable(r.free_space()).size(), ByteRing::kFirstAllocation - 1000);
  EXPECT_EQ(r.allocated_bytes(), ByteRing::kFirstAllocation);
  r.commit(ByteRing::kFirstAllocation - 1000);  // full: the next call doubles it
  auto more = r.writable(r.free_space());
  EXPECT_EQ(r.allocated_bytes(), 2 * ByteRing::kFirstAllocation);
  EXPECT_EQ(more.size(), ByteRing::kFirstAllocation);
  EXPECT_EQ(budget.used(), 2 * ByteRing::kFirstAllocation);
  std::vector<std::byte> out(1000);
  r.copy_out(0, out);
  EXPECT_EQ(out, std::vector<std::byte>(1000, std::byte{9})) << "kept across the growth";
}

// A ring under a budget fills only as far as its allocation and what the budget has left: its
// free space shrinks when others take the budget, it grows no further than the budget allows
// (the limit holds), and a ring that cannot get its first allocation is starved.
TEST(ByteRing, GrowsOnlyAsFarAsTheBudgetAllows) {
  MemoryBudget budget(100000);
  ByteRing r(1 << 20);
  r.set_budget(&budget);
  EXPECT_EQ(r.free_space(), 100000u) << "the budget, not the 1 MiB capacity";
  ASSERT_EQ(r.append(bytes(20000, 3)), 20000u);  // 32 KiB allocated
  EXPECT_EQ(budget.used(), 32768u);
  budget.charge(50000);  // another ring's
  EXPECT_EQ(r.free_space(), 32768u + (100000u - 82768u) - 20000u);
  EXPECT_EQ(r.append(bytes(100000, 4)), 32768u + (100000u - 82768u) - 20000u);
  EXPECT_EQ(budget.used(), 100000u) << "grown to what was left, not to the next power of two";
  EXPECT_EQ(r.allocated_bytes(), 50000u);
  EXPECT_EQ(r.free_space(), 0u);
  budget.release(50000);
  ByteRing other(1 << 20);
  other.set_budget(&budget);
  budget.charge(50000 - ByteRing::kFirstAllocation + 1);  // less than 16 KiB left
  EXPECT_TRUE(other.starved());
  EXPECT_EQ(other.free_space(), 0u);
  EXPECT_EQ(other.append(bytes(10, 5)), 0u);
  budget.release(50000 - ByteRing::kFirstAllocation + 1);
  r.release();
}

TEST(ReceiveBuffer, ReadingRewindsOnlyWithNothingOutOfOrder) {
  ReceiveBuffer rb(65536, 4);
  const auto stream = bytes(20000, 5);
  std::vector<std::byte> got, out(3000);
  std::size_t next = 0;  // stream offset of RCV.NXT
  // In order, read in pieces that leave a little behind (each read may rewind)...
  for (int i = 0; i < 4; ++i) {
    auto res = rb.insert(0, std::span(stream).subspan(next, 2500));
    next += res.advanced;
    auto n = rb.read(std::span(out).first(2000));
    got.insert(got.end(), out.begin(), out.begin() + n);
  }
  // ...then a segment ahead of a hole: reads must not move the ring under it.
  auto ahead = rb.insert(1000, std::span(stream).subspan(next + 1000, 1500));
  EXPECT_TRUE(ahead.out_of_order);
  auto n = rb.read(out);
  got.insert(got.end(), out.begin(), out.begin() + n);
  auto filled = rb.insert(0, std::span(stream).subspan(next, 1000));
  EXPECT_TRUE(filled.filled_hole);
  next += filled.advanced;
  EXPECT_EQ(next, 10000u + 2500u);
  for (;;) {
    n = rb.read(out);
    if (n == 0) break;
    got.insert(got.end(), out.begin(), out.begin() + n);
  }
  EXPECT_EQ(got, std::vector<std::byte>(stream.begin(), stream.begin() + next));
}

}  // namespace
}  // namespace synack::tcp
