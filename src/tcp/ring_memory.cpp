// SPDX-License-Identifier: MIT
// ByteRing memory kept for reuse, see ring_memory.hpp.
#include "tcp/ring_memory.hpp"

#include <array>
#include <utility>

namespace synack::tcp::ring_memory {
namespace {

struct Kept {
  struct Block {
    std::unique_ptr<std::byte[]> data;
    std::uint32_t size = 0;
  };
  std::array<Block, kMaxBlocks> blocks;
  std::size_t count = 0;
  std::size_t bytes = 0;
  ~Kept();
};

// Set once this thread's Kept is destroyed (at thread exit), so that a ring destroyed after it
// frees its block instead of keeping it in a dead list. Trivially destructible, so readable
// until the thread is gone.
thread_local bool gone = false;

Kept& kept() {
  thread_local Kept k;
  return k;
}

Kept::~Kept() { gone = true; }

}  // namespace

std::unique_ptr<std::byte[]> take(std::uint32_t size) {
  if (!gone) {
    Kept& k = kept();
    for (std::size_t i = 0; i < k.count; ++i) {
      if (k.blocks[i].size != size) continue;
      auto data = std::move(k.blocks[i].data);
      k.blocks[i] = std::move(k.blocks[--k.count]);
      k.bytes -= size;
      return data;
    }
  }
  return std::make_unique_for_overwrite<std::byte[]>(size);
}

void give(std::unique_ptr<std::byte[]> block, std::uint32_t size) {
  if (!block || gone) return;  // (freed here)
  Kept& k = kept();
  if (k.count == kMaxBlocks || k.bytes + size > kMaxBytes) return;
  k.blocks[k.count++] = Kept::Block{std::move(block), size};
  k.bytes += size;
}

void free_kept() {
  if (gone) return;
  Kept& k = kept();
  for (std::size_t i = 0; i < k.count; ++i) k.blocks[i] = {};
  k.count = 0;
  k.bytes = 0;
}

std::size_t kept_blocks() { return gone ? 0 : kept().count; }
std::size_t kept_bytes() { return gone ? 0 : kept().bytes; }

}  // namespace synack::tcp::ring_memory
