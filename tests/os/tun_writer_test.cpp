// SPDX-License-Identifier: MIT
// The TUN's writer thread (src/os/tun_writer.hpp) against a write function that records what it
// is given: order, the bound of its ring, what the kernel's EAGAIN does, and what a stop does to
// packets still queued. No TUN needed; the thread is real.
#include "os/tun_writer.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace synack::os {
namespace tun_writer_test {

using namespace std::chrono_literals;

std::vector<std::byte> packet(std::uint32_t n, std::size_t size = 100) {
  std::vector<std::byte> p(size);
  for (std::size_t i = 0; i < 4 && i < size; ++i) p[i] = static_cast<std::byte>(n >> (8 * i));
  return p;
}

std::uint32_t number(std::span<const std::byte> p) {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < 4 && i < p.size(); ++i)
    n |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return n;
}

struct Recorder {
  std::mutex mutex;
  std::vector<std::uint32_t> seen;
  std::vector<std::size_t> sizes;
  std::vector<std::uint16_t> gso;
  std::atomic<bool> blocked{false};  // while set, every write says EAGAIN
  std::atomic<int> refusals{0};
  TunWriter::WriteFn fn() {
    return [this](std::span<const std::byte> p, std::uint16_t g) -> Expected<void, int> {
      if (blocked.load()) {
        ++refusals;
        return Unexpected{EAGAIN};
      }
      std::lock_guard lock(mutex);
      seen.push_back(number(p));
      sizes.push_back(p.size());
      gso.push_back(g);
      return {};
    };
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
};

// The writer is a real thread: wait for it (yielding, at most 10 s) rather than for a time.
bool wait_until(const std::function<bool()>& done) {
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;
       std::this_thread::yield())
    if (done()) return true;
  return false;
}

// Every packet pushed is written once, in the order pushed, headers and payload joined, with
// its gso_size; idle() once the last is written.
TEST(TunWriter, writes_every_packet_in_order) {
  Recorder rec;
  TunWriter writer(rec.fn(), -1, 64);
  std::uint32_t pushed = 0;
  while (pushed < 10000) {
    auto p = packet(pushed);
    std::span<const std::byte> all(p);
    if (writer.push(all.first(10), all.subspan(10), static_cast<std::uint16_t>(pushed % 3)))
      ++pushed;
    else
      std::this_thread::yield();  // full: the thread frees slots
  }
  ASSERT_TRUE(wait_until([&] { return writer.idle(); }));
  std::lock_guard lock(rec.mutex);
  ASSERT_EQ(rec.seen.size(), 10000u);
  for (std::uint32_t i = 0; i < 10000; ++i) {
    ASSERT_EQ(rec.seen[i], i);
    EXPECT_EQ(rec.sizes[i], 100u);
    EXPECT_EQ(rec.gso[i], i % 3);
  }
  EXPECT_EQ(writer.stats().packets, 10000u);
}

// A kernel that refuses (EAGAIN) holds the ring: once every slot is taken push() says no and
// counts it, nothing is lost or reordered, and room_fd() says when there is room again.
TEST(TunWriter, full_ring_refuses_and_signals_room) {
  Recorder rec;
  rec.blocked = true;
  TunWriter writer(rec.fn(), -1, 8);
  std::uint32_t pushed = 0;
  while (writer.push(packet(pushed), {}, 0)) ++pushed;
  EXPECT_GE(pushed, 8u);  // eight slots, and the one being retried may have left its slot
  EXPECT_LE(pushed, 9u);
  EXPECT_EQ(writer.stats().full, 1u);
  EXPECT_FALSE(writer.idle());
  pollfd p{writer.room_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "no room yet";
  EXPECT_TRUE(wait_until([&] { return rec.refusals.load() > 2; })) << "the thread retries";
  rec.blocked = false;
  EXPECT_EQ(::poll(&p, 1, 10000), 1) << "room once half the ring is written";
  writer.take_room_signal();
  ASSERT_TRUE(wait_until([&] { return writer.idle(); }));
  std::lock_guard lock(rec.mutex);
  ASSERT_EQ(rec.seen.size(), pushed);
  for (std::uint32_t i = 0; i < pushed; ++i) EXPECT_EQ(rec.seen[i], i);
  EXPECT_GT(writer.stats().write_waits, 0u);
  EXPECT_EQ(writer.stats().write_errors, 0u);
}

// Other errors drop the packet and count it; the next ones still go.
TEST(TunWriter, other_errors_drop_and_count) {
  std::atomic<int> calls{0};
  TunWriter writer(
      [&](std::span<const std::byte> p, std::uint16_t) -> Expected<void, int> {
        ++calls;
        if (number(p) == 1) return Unexpected{EIO};
        return {};
      },
      -1, 4);
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(writer.push(packet(i), {}, 0));
  ASSERT_TRUE(wait_until([&] { return writer.idle(); }));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(writer.stats().packets, 2u);
  EXPECT_EQ(writer.stats().write_errors, 1u);
}

// Destroying the writer writes what is still queued; what the kernel keeps refusing is given
// up after a second, counted, and the thread ends.
TEST(TunWriter, stop_writes_the_rest_then_gives_up_on_refusals) {
  Recorder rec;
  {
    TunWriter writer(rec.fn(), -1, 16);
    for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(writer.push(packet(i), {}, 0));
  }
  EXPECT_EQ(rec.count(), 10u);
  Recorder stuck;
  stuck.blocked = true;
  const auto start = std::chrono::steady_clock::now();
  {
    TunWriter writer(stuck.fn(), -1, 4);
    ASSERT_TRUE(writer.push(packet(0), {}, 0));
    ASSERT_TRUE(writer.push(packet(1), {}, 0));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(stuck.count(), 0u);
}

}  // namespace tun_writer_test
}  // namespace synack::os
