// SPDX-License-Identifier: MIT
#include "tcp/receive_buffer.hpp"

#include <algorithm>

namespace synack::tcp {

void ReceiveBuffer::shift_ranges(std::uint32_t n) {
  for (auto& r : ranges_) {
    r.begin -= n;
    r.end -= n;
  }
}

ReceiveBuffer::InsertResult ReceiveBuffer::insert(std::uint32_t offset,
                                                  std::span<const std::byte> data) {
  InsertResult result;
  if (ring_.starved() && !data.empty()) {
    result.no_memory = true;
    return result;
  }
  std::uint32_t room = ring_.free_space();
  if (data.empty()) return result;
  // Bytes the memory budget keeps out, not the buffer's size (issue 11 §4): what fits is
  // stored, the rest is dropped and counted as memory pressure.
  result.no_memory = ring_.budget_limited() && offset + data.size() > room;
  if (offset >= room) return result;
  auto len = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), room - offset));
  std::uint32_t begin = offset;
  std::uint32_t end = offset + len;

  if (begin > 0) {
    // Out of order: merge [begin, end) into the range list.
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), begin,
                               [](const Range& r, std::uint32_t b) { return r.end < b; });
    bool overlaps = it != ranges_.end() && it->begin <= end;
    if (!overlaps && ranges_.size() >= max_ranges_) {
      result.dropped = true;
      return result;
    }
    ring_.write_at(ring_.size() + begin, data.first(len));
    Range merged{begin, end, ++clock_};
    auto last = it;
    while (last != ranges_.end() && last->begin <= end) {
      merged.begin = std::min(merged.begin, last->begin);
      merged.end = std::max(merged.end, last->end);
      ++last;
    }
    it = ranges_.erase(it, last);
    ranges_.insert(it, merged);
    result.out_of_order = true;
    return result;
  }

  // In order: append, then absorb any stored range that now touches the end.
  ring_.write_at(ring_.size(), data.first(len));
  std::uint32_t advanced = len;
  while (!ranges_.empty() && ranges_.front().begin <= advanced) {
    advanced = std::max(advanced, ranges_.front().end);
    ranges_.erase(ranges_.begin());
    result.filled_hole = true;
  }
  ring_.commit(advanced);
  shift_ranges(advanced);
  result.advanced = advanced;
  return result;
}

std::uint32_t ReceiveBuffer::read(std::span<std::byte> out) {
  auto n = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), ring_.size()));
  ring_.copy_out(0, out.first(n));
  ring_.consume(n);
  rewind_if_idle();
  return n;
}

std::uint32_t ReceiveBuffer::read_with(const BufferReader& reader) {
  std::uint32_t total = 0;
  for (int run = 0; run < 2 && ring_.size() > 0; ++run) {
    auto bytes = ring_.contiguous(0, ring_.size());
    auto taken = static_cast<std::uint32_t>(std::min(reader(bytes), bytes.size()));
    ring_.consume(taken);
    total += taken;
    if (taken < bytes.size()) break;
  }
  rewind_if_idle();
  return total;
}

std::size_t ReceiveBuffer::sack_blocks(std::uint32_t rcv_nxt, wire::SackBlock* out,
                                       std::size_t max) const {
  std::vector<const Range*> order;
  order.reserve(ranges_.size());
  for (const auto& r : ranges_) order.push_back(&r);
  std::sort(order.begin(), order.end(),
            [](const Range* a, const Range* b) { return a->touched > b->touched; });
  std::size_t n = std::min(max, order.size());
  for (std::size_t i = 0; i < n; ++i)
    out[i] = wire::SackBlock{rcv_nxt + order[i]->begin, rcv_nxt + order[i]->end};
  return n;
}

}  // namespace synack::tcp
