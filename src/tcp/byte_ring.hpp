// SPDX-License-Identifier: MIT
// A fixed-capacity ring of bytes, allocated on first use and grown as it fills: its memory
// starts at kFirstAllocation bytes and doubles (up to the capacity) when a write needs more,
// so a connection that moves a few bytes never touches (or page-faults in) megabytes. The
// send buffer (whose unacked prefix is the retransmission queue) and the receive buffer (with
// out-of-order data written ahead of the in-order tail) are both rings.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include "synack/memory_budget.hpp"
#include "tcp/ring_memory.hpp"

namespace synack::tcp {

// With a MemoryBudget (issue 11 §4), the memory the ring allocates is charged to it as the
// ring grows and returned on release (as Linux's tcp_mem counts the pages buffers take, not
// their limits): free_space() is then what the allocation and what the budget can still
// grant hold, up to the capacity. While the ring is unallocated and the budget cannot hold
// its first allocation, free_space() is 0: a receive ring then advertises a zero window and a
// send ring takes nothing.
class ByteRing {
 public:
  explicit ByteRing(std::uint32_t capacity = 0) : capacity_(capacity) {}
  ~ByteRing() { release(); }
  ByteRing(ByteRing&& other) noexcept
      : data_(std::move(other.data_)),
        budget_(other.budget_),
        capacity_(other.capacity_),
        alloc_(std::exchange(other.alloc_, 0)),
        head_(std::exchange(other.head_, 0)),
        size_(std::exchange(other.size_, 0)),
        high_water_(std::exchange(other.high_water_, 0)) {}
  ByteRing& operator=(ByteRing&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::move(other.data_);
      budget_ = other.budget_;
      capacity_ = other.capacity_;
      alloc_ = std::exchange(other.alloc_, 0);
      head_ = std::exchange(other.head_, 0);
      size_ = std::exchange(other.size_, 0);
      high_water_ = std::exchange(other.high_water_, 0);
    }
    return *this;
  }

  // The allocation is charged to `budget` (null: none). Ignored while allocated, so that
  // what was charged is returned where it was taken.
  void set_budget(MemoryBudget* budget) {
    if (!data_) budget_ = budget;
  }
  // The ring could not be allocated: the budget is short of its first allocation.
  bool starved() const { return !data_ && budget_ && !budget_->fits(first_allocation()); }

  // The budget, not the capacity, bounds how far the ring can fill now.
  bool budget_limited() const { return budget_ && reachable() < capacity_; }

  std::uint32_t capacity() const { return capacity_; }
  // How far the ring can fill now: the capacity, or less while the budget bounds it.
  std::uint32_t limit() const { return reachable(); }
  std::uint32_t size() const { return size_; }
  std::uint32_t free_space() const {
    if (starved()) return 0;
    const std::uint32_t limit = reachable();
    return limit > size_ ? limit - size_ : 0;
  }
  bool empty() const { return size_ == 0; }
  bool allocated() const { return data_ != nullptr; }

  // Appends up to free_space() bytes; returns how many were taken.
  std::uint32_t append(std::span<const std::byte> in) {
    auto n = static_cast<std::uint32_t>(std::min<std::size_t>(in.size(), free_space()));
    write_at(size_, in.first(n));
    size_ += n;
    return n;
  }

  // Writes bytes at `offset` past the head without changing size (offset + len <= capacity).
  // Used by reassembly to place out-of-order data ahead of the in-order end.
  void write_at(std::uint32_t offset, std::span<const std::byte> in) {
    if (in.empty()) return;
    reserve(offset + static_cast<std::uint32_t>(in.size()));
    std::uint32_t pos = wrap(head_ + offset);
    auto first = static_cast<std::uint32_t>(std::min<std::size_t>(in.size(), alloc_ - pos));
    std::memcpy(data_.get() + pos, in.data(), first);
    if (first < in.size()) std::memcpy(data_.get(), in.data() + first, in.size() - first);
  }

  // The contiguous free space after the content, at most `max` bytes (shorter at the wrap):
  // written in place, then made content with commit(). Allocates the ring, or grows it one
  // step (doubling) once its memory is full — not at once to whatever `max` asks: a writer
  // that offers the whole free space (a relay reading a socket into the ring) would otherwise
  // allocate, and charge to the budget, the whole buffer for a 1 KiB reply. Empty while
  // free_space() is 0 (the memory budget cannot hold it).
  std::span<std::byte> writable(std::uint32_t max) {
    if (free_space() == 0 || max == 0) return {};
    if (size_ == alloc_) reserve(size_ + 1);
    std::uint32_t pos = wrap(head_ + size_);
    std::uint32_t n = std::min({max, alloc_ - size_, alloc_ - pos});
    return {data_.get() + pos, n};
  }

  // Marks `n` bytes already written with write_at as part of the content.
  void commit(std::uint32_t n) { size_ = std::min(capacity_, size_ + n); }

  // Copies bytes [offset, offset + out.size()) into out.
  void copy_out(std::uint32_t offset, std::span<std::byte> out) const {
    if (out.empty()) return;
    std::uint32_t pos = wrap(head_ + offset);
    auto first = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), alloc_ - pos));
    std::memcpy(out.data(), data_.get() + pos, first);
    if (first < out.size()) std::memcpy(out.data() + first, data_.get(), out.size() - first);
  }

  // The contiguous run starting at `offset`, at most `max` bytes (may be shorter at the wrap).
  std::span<const std::byte> contiguous(std::uint32_t offset, std::uint32_t max) const {
    if (size_ == offset) return {};
    std::uint32_t pos = wrap(head_ + offset);
    std::uint32_t n = std::min({max, size_ - offset, alloc_ - pos});
    return {data_.get() + pos, n};
  }

  void consume(std::uint32_t n) {
    n = std::min(n, size_);
    // The head is never reset when the ring empties: out-of-order data may already sit
    // ahead of it (ReceiveBuffer writes there with write_at). See rewind().
    head_ = wrap(head_ + n);
    size_ -= n;
  }

  // A ring holding little starts again at the beginning of its memory (the few bytes it
  // holds are moved there), so that a connection whose reader keeps up, or whose sent data is
  // acknowledged but for a Nagle-held tail, reuses the same cache-warm bytes instead of
  // walking all its memory (in-memory bulk, 128 KiB writes into 4 MiB buffers: every copy
  // into the ring missed the cache). Only for an owner that keeps nothing ahead of the
  // content (ReceiveBuffer: no out-of-order range). "Little" is at most kRewindBytes and at
  // most a sixteenth of the memory: a small ring is cache-warm anyway and keeps wrapping.
  static constexpr std::uint32_t kRewindBytes = 4096;
  void rewind() {
    if (head_ == 0 || size_ > std::min(kRewindBytes, alloc_ / 16)) return;
    if (size_ > 0) {
      std::byte held[kRewindBytes];
      copy_out(0, std::span(held, size_));
      std::memcpy(data_.get(), held, size_);
    }
    head_ = 0;
  }

  void release() {
    // Charged exactly when allocated with a budget (set_budget is ignored while allocated).
    if (data_ && budget_) budget_->release(alloc_);
    high_water_ = std::max(high_water_, alloc_);
    ring_memory::give(std::move(data_), alloc_);
    alloc_ = head_ = size_ = 0;
  }

  // Bytes of memory the ring holds now (at most the capacity).
  std::uint32_t allocated_bytes() const { return alloc_; }

  static constexpr std::uint32_t kFirstAllocation = 16384;

 private:
  std::uint32_t wrap(std::uint32_t pos) const { return pos >= alloc_ ? pos - alloc_ : pos; }
  std::uint32_t first_allocation() const { return std::min(kFirstAllocation, capacity_); }
  // How far the ring can fill: its capacity, or with a budget its allocation plus what the
  // budget has left, whichever is less.
  std::uint32_t reachable() const {
    if (!budget_) return capacity_;
    return static_cast<std::uint32_t>(
        std::min<std::size_t>(capacity_, std::size_t{alloc_} + budget_->available()));
  }

  // Room for bytes up to `end` past the head (end <= capacity): allocates the ring, or grows
  // it to the next power of two that holds `end` (at least double, at most the capacity),
  // keeping every byte at its offset from the head — out-of-order data ahead of the content
  // included, since the whole old memory is copied in ring order.
  void reserve(std::uint32_t end) {
    if (end <= alloc_) return;
    // A ring given back when it emptied (a memory budget's idle connection) starts again at
    // the size it had grown to: a busy stream would otherwise grow from 16 KiB, copying, each
    // time its ring empties (downloads through `synack run` lost 8-15 %).
    std::uint32_t want = std::max({alloc_ * 2, kFirstAllocation, data_ ? 0u : high_water_});
    while (want < end && want < capacity_) want *= 2;
    want = std::min(want, capacity_);
    if (budget_) {
      // Only what the budget can grant (never less than `end`: callers write within
      // free_space(), which the budget bounds), so the charge stays within the limit.
      want = std::min(want, std::max(end, reachable()));
      budget_->charge(want - alloc_);
    }
    auto bigger = ring_memory::take(want);
    if (data_) {
      std::memcpy(bigger.get(), data_.get() + head_, alloc_ - head_);
      std::memcpy(bigger.get() + (alloc_ - head_), data_.get(), head_);
      ring_memory::give(std::move(data_), alloc_);
    }
    data_ = std::move(bigger);
    alloc_ = want;
    head_ = 0;
  }

  std::unique_ptr<std::byte[]> data_;
  MemoryBudget* budget_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t alloc_ = 0;  // bytes of data_, <= capacity_; positions wrap here
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t high_water_ = 0;  // the most memory the ring has held (reserve() after release)
};

}  // namespace synack::tcp
