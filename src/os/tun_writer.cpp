// SPDX-License-Identifier: MIT
// The TUN's writer thread (tun_writer.hpp).
#include "os/tun_writer.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "synack/tun_device.hpp"

namespace synack::os {

namespace {
// Checks of an empty ring before the thread sleeps: a bulk sender pushes every few
// microseconds, and a futex wake-up from the other CPU costs about as much.
constexpr int kSpinsBeforeSleep = 200;
// How long a stopping writer keeps retrying a packet the kernel refuses.
constexpr auto kStopGrace = std::chrono::seconds(1);
}  // namespace

TunWriter::TunWriter(WriteFn write, int fd, std::size_t slots)
    : write_(std::move(write)), fd_(fd), slots_(slots < 2 ? 2 : slots) {
  room_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (room_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  thread_ = std::thread([this] { run(); });
}

TunWriter::~TunWriter() {
  stop_.store(true, std::memory_order_release);
  signal_.fetch_add(1, std::memory_order_release);
  signal_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (room_fd_ >= 0) ::close(room_fd_);
}

bool TunWriter::push(std::span<const std::byte> headers, std::span<const std::byte> payload,
                     std::uint16_t gso_size) {
  const std::uint64_t h = head_.load(std::memory_order_relaxed);
  if (h - tail_.load(std::memory_order_acquire) >= slots_.size()) {
    // Announce the wait before looking again, so that the thread, which looks at want_room_
    // after every packet it writes, cannot free the room unseen.
    want_room_.store(true, std::memory_order_seq_cst);
    if (h - tail_.load(std::memory_order_seq_cst) >= slots_.size()) {
      ++full_;
      return false;
    }
  }
  Slot& slot = slots_[h % slots_.size()];
  slot.bytes.resize(headers.size() + payload.size());  // keeps its capacity: no allocation
  if (!headers.empty()) std::memcpy(slot.bytes.data(), headers.data(), headers.size());
  if (!payload.empty())
    std::memcpy(slot.bytes.data() + headers.size(), payload.data(), payload.size());
  slot.gso_size = gso_size;
  head_.store(h + 1, std::memory_order_release);
  signal_.fetch_add(1, std::memory_order_release);
  signal_.notify_one();
  return true;
}

void TunWriter::take_room_signal() {
  std::uint64_t value = 0;
  while (::read(room_fd_, &value, sizeof value) == static_cast<ssize_t>(sizeof value)) {
  }
}

TunWriter::Stats TunWriter::stats() const {
  Stats s;
  s.packets = packets_.load(std::memory_order_relaxed);
  s.full = full_;
  s.write_waits = write_waits_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  return s;
}

void TunWriter::run() {
  std::uint64_t t = tail_.load(std::memory_order_relaxed);
  int spins = 0;
  for (;;) {
    const std::uint32_t sig = signal_.load(std::memory_order_acquire);
    const std::uint64_t h = head_.load(std::memory_order_acquire);
    if (t == h) {
      if (stop_.load(std::memory_order_acquire)) return;
      if (++spins < kSpinsBeforeSleep) continue;
      spins = 0;
      signal_.wait(sig, std::memory_order_acquire);  // until a push (or the stop) bumps it
      continue;
    }
    spins = 0;
    write_slot(slots_[t % slots_.size()]);
    tail_.store(++t, std::memory_order_release);
    if (want_room_.load(std::memory_order_seq_cst) && h - t <= slots_.size() / 2) {
      want_room_.store(false, std::memory_order_relaxed);
      const std::uint64_t one = 1;
      (void)!::write(room_fd_, &one, sizeof one);
    }
  }
}

void TunWriter::write_slot(const Slot& slot) {
  std::chrono::steady_clock::time_point stop_seen{};
  for (;;) {
    auto r = write_(slot.bytes, slot.gso_size);
    if (r) {
      packets_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const int error = r.error();
    if (!TunDevice::pushed_back(error) && error != EINTR) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);  // the packet is dropped
      return;
    }
    if (stop_.load(std::memory_order_acquire)) {
      const auto now = std::chrono::steady_clock::now();
      if (stop_seen == std::chrono::steady_clock::time_point{}) stop_seen = now;
      if (now - stop_seen > kStopGrace) {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    write_waits_.fetch_add(1, std::memory_order_relaxed);
    if (fd_ >= 0) {
      pollfd p{fd_, POLLOUT, 0};
      (void)::poll(&p, 1, 100);
    } else {
      ::usleep(1000);
    }
  }
}

}  // namespace synack::os
