// SPDX-License-Identifier: MIT
// A bound on the buffer memory of a whole process (issue 11 §4), shared by everything that
// holds bytes for a peer: the stack's send and receive rings, the UDP datagram queue, and
// whatever an application keeps per connection (the relay's chunks). Like Linux's tcp_mem,
// but one hard limit: a buffer that would cross it is not allocated. The receive side then
// advertises a zero window (the peer is flow-controlled, not dropped), send() takes nothing,
// and the stack refuses new connections (counted as tcp_memory_refused).
//
// A plain counter: no clock, no I/O, one thread (the stack's). Pass the same object to the
// stack (StackConfig::memory_budget) and to the code around it.
#pragma once

#include <algorithm>
#include <cstddef>

namespace synack {

class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t limit) : limit_(limit) {}

  std::size_t limit() const { return limit_; }
  std::size_t used() const { return used_; }
  std::size_t peak() const { return peak_; }
  std::size_t available() const { return used_ >= limit_ ? 0 : limit_ - used_; }
  bool fits(std::size_t bytes) const { return bytes <= available(); }

  // Takes `bytes` when they fit; false (nothing taken) otherwise.
  bool try_reserve(std::size_t bytes) {
    if (!fits(bytes)) return false;
    charge(bytes);
    return true;
  }
  // Takes `bytes` even beyond the limit: for what is already allocated and must be counted
  // (callers keep such amounts small and bounded per connection).
  void charge(std::size_t bytes) {
    used_ += bytes;
    peak_ = std::max(peak_, used_);
  }
  void release(std::size_t bytes) { used_ -= std::min(bytes, used_); }

 private:
  std::size_t limit_;
  std::size_t used_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace synack
