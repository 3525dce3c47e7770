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

TEST(ByteRing, TheBudgetIsChargedTheCapacityOnceAndGetsItBack) {
  MemoryBudget budget(1 << 20);
  {
    ByteRing r(300000);
    r.set_budget(&budget);
    ASSERT_EQ(r.append(bytes(10, 12)), 10u);
    EXPECT_EQ(budget.used(), 300000u) << "what the ring may grow to is set aside at once";
    ASSERT_EQ(r.append(bytes(200000, 13)), 200000u);
    EXPECT_EQ(budget.used(), 300000u) << "growing charges nothing more";
    r.release();
    EXPECT_EQ(budget.used(), 0u);
    ASSERT_EQ(r.append(bytes(10, 14)), 10u);
    EXPECT_EQ(budget.used(), 300000u);
  }
  EXPECT_EQ(budget.used(), 0u) << "returned when the ring goes";
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
