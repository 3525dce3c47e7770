// SPDX-License-Identifier: MIT
// tcp::ring_memory (src/tcp/ring_memory.hpp): the memory a ByteRing gives back is handed to the
// next ring that wants a block of that size, within the bounds; a ring emptied and filled again
// under a memory budget reuses its block instead of asking malloc each time.
#include <gtest/gtest.h>

#include <vector>

#include "synack/memory_budget.hpp"
#include "tcp/byte_ring.hpp"
#include "tcp/ring_memory.hpp"

namespace synack::tcp {
namespace ring_memory_test {

// Each test starts from no kept blocks (other tests of the process leave some).
void drain_kept() { ring_memory::free_kept(); }

TEST(RingMemory, a_given_block_is_taken_again_by_its_size_only) {
  drain_kept();
  auto block = ring_memory::take(16384);
  std::byte* where = block.get();
  ring_memory::give(std::move(block), 16384);
  EXPECT_EQ(ring_memory::kept_blocks(), 1u);
  EXPECT_EQ(ring_memory::kept_bytes(), 16384u);
  auto other = ring_memory::take(32768);  // another size: a new block
  EXPECT_NE(other.get(), where);
  EXPECT_EQ(ring_memory::kept_blocks(), 1u);
  auto again = ring_memory::take(16384);
  EXPECT_EQ(again.get(), where);
  EXPECT_EQ(ring_memory::kept_blocks(), 0u);
  EXPECT_EQ(ring_memory::kept_bytes(), 0u);
}

TEST(RingMemory, keeps_at_most_its_blocks_and_bytes) {
  drain_kept();
  for (std::size_t i = 0; i < ring_memory::kMaxBlocks + 3; ++i)
    ring_memory::give(ring_memory::take(16384), 16384);
  // One block given back and taken again each time: never more than one kept.
  EXPECT_EQ(ring_memory::kept_blocks(), 1u);
  std::vector<std::unique_ptr<std::byte[]>> many;
  for (std::size_t i = 0; i < ring_memory::kMaxBlocks + 3; ++i)
    many.push_back(ring_memory::take(16384));
  for (auto& b : many) ring_memory::give(std::move(b), 16384);
  EXPECT_EQ(ring_memory::kept_blocks(), ring_memory::kMaxBlocks);
  drain_kept();
  std::vector<std::unique_ptr<std::byte[]>> big;
  for (int i = 0; i < 5; ++i) big.push_back(ring_memory::take(262144));
  for (auto& b : big) ring_memory::give(std::move(b), 262144);
  EXPECT_EQ(ring_memory::kept_bytes(), ring_memory::kMaxBytes);  // 4 of 256 KiB, the fifth freed
  EXPECT_EQ(ring_memory::kept_blocks(), 4u);
  drain_kept();
}

// The churn it is for: under a budget, the application empties the ring after every segment
// and the connection releases it (issue 11 §4); the next segment finds its old block.
TEST(RingMemory, a_ring_released_and_filled_again_reuses_its_block) {
  drain_kept();
  MemoryBudget budget(1 << 20);
  ByteRing ring(256 * 1024);
  ring.set_budget(&budget);
  std::vector<std::byte> segment(1448, std::byte{7}), out(1448);
  ASSERT_EQ(ring.append(segment), segment.size());
  EXPECT_EQ(budget.used(), ByteRing::kFirstAllocation);
  for (int i = 0; i < 100; ++i) {
    ring.copy_out(0, out);
    ring.consume(static_cast<std::uint32_t>(out.size()));
    ASSERT_TRUE(ring.empty());
    ring.release();
    EXPECT_EQ(budget.used(), 0u);
    EXPECT_EQ(ring_memory::kept_blocks(), 1u);
    ASSERT_EQ(ring.append(segment), segment.size());
    EXPECT_EQ(ring_memory::kept_blocks(), 0u) << "the kept block was taken again";
    EXPECT_EQ(ring.allocated_bytes(), ByteRing::kFirstAllocation);
  }
  ring.release();
  drain_kept();
}

// Growing gives the smaller block back, for the next ring that starts small.
TEST(RingMemory, growing_gives_the_smaller_block_back) {
  drain_kept();
  ByteRing ring(64 * 1024);
  std::vector<std::byte> data(10000, std::byte{1});
  ASSERT_EQ(ring.append(data), data.size());
  EXPECT_EQ(ring.allocated_bytes(), 16384u);
  EXPECT_EQ(ring_memory::kept_blocks(), 0u);
  ASSERT_EQ(ring.append(data), data.size());  // 20,000 bytes: grown to 32 KiB
  EXPECT_EQ(ring.allocated_bytes(), 32768u);
  EXPECT_EQ(ring_memory::kept_blocks(), 1u);
  EXPECT_EQ(ring_memory::kept_bytes(), 16384u);
  ring.release();
  EXPECT_EQ(ring_memory::kept_bytes(), 16384u + 32768u);
  drain_kept();
}

}  // namespace ring_memory_test
}  // namespace synack::tcp
