// SPDX-License-Identifier: MIT
// The memory of ByteRings (send and receive buffers), kept for reuse. Under a memory budget a
// ring goes back as soon as the application empties it (issue 11 §4: an idle connection holds
// no buffer), and on a busy stream that is every few segments; handed to malloc and asked for
// again, a 16 KiB block at the top of the heap is trimmed back to the system and faulted in
// anew each time (one page fault per page of data received, measured in `synack serve`). So
// freed ring memory waits here, per thread, for the next ring that wants a block of its size.
// Bounded: at most kMaxBlocks blocks and kMaxBytes bytes per thread; beyond that a block is
// freed. The memory budget is charged by the rings, as before; these blocks belong to none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace synack::tcp::ring_memory {

inline constexpr std::size_t kMaxBlocks = 8;
inline constexpr std::size_t kMaxBytes = std::size_t{1} << 20;

// A block of exactly `size` bytes (contents unspecified): a kept one if there is one.
std::unique_ptr<std::byte[]> take(std::uint32_t size);
// `block` (of `size` bytes) is no longer needed: kept within the bounds, freed otherwise.
void give(std::unique_ptr<std::byte[]> block, std::uint32_t size);

// Frees this thread's kept blocks.
void free_kept();
// This thread's kept blocks and their bytes.
std::size_t kept_blocks();
std::size_t kept_bytes();

}  // namespace synack::tcp::ring_memory
