// SPDX-License-Identifier: MIT
// Work handed to the thread that owns an event loop, from any thread: closures queued under a
// mutex, and an eventfd that the owner's loop watches (EventLoop::add_fd) and that is readable
// while anything waits. `synack run --queues` (cli/run_lanes.cpp) uses one per queue: for
// segments that reached the wrong queue, and for the main thread's drain and stop commands.
// Internal (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "synack/expected.hpp"

namespace synack::os {

class Inbox {
 public:
  using Item = std::function<void()>;
  // `bound`: how many items post_bounded() lets wait. Errors: eventfd's, as a message.
  static Expected<std::unique_ptr<Inbox>, std::string> create(std::size_t bound);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Readable while items wait.
  int fd() const { return fd_; }
  // A command: always queued. Cannot fail.
  void post(Item item);
  // Traffic: false (and counted in dropped()) when `bound` items wait already.
  bool post_bounded(Item item);
  // Every waiting item, oldest first; the owner runs them. Cannot fail.
  std::vector<Item> take();
  std::uint64_t dropped() const;

 private:
  Inbox(int fd, std::size_t bound) : fd_(fd), bound_(bound) {}
  void wake();

  int fd_ = -1;
  std::size_t bound_;
  mutable std::mutex mutex_;
  std::vector<Item> items_;
  std::uint64_t dropped_ = 0;
};

}  // namespace synack::os
