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
  // What post_bounded() lets wait: at most `max_items` items holding `max_bytes` in all (as
  // their posters count them). Errors: eventfd's, as a message.
  static Expected<std::unique_ptr<Inbox>, std::string> create(std::size_t max_items,
                                                              std::size_t max_bytes);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Readable while items wait.
  int fd() const { return fd_; }
  // A command: always queued. Cannot fail.
  void post(Item item);
  // Traffic, an item holding `bytes`: false (and counted in dropped()) when it would pass
  // either bound.
  bool post_bounded(Item item, std::size_t bytes);
  // Every waiting item, oldest first; the owner runs them. Cannot fail.
  std::vector<Item> take();
  std::uint64_t dropped() const;

 private:
  Inbox(int fd, std::size_t max_items, std::size_t max_bytes)
      : fd_(fd), max_items_(max_items), max_bytes_(max_bytes) {}
  void wake();

  int fd_ = -1;
  std::size_t max_items_;
  std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::vector<Item> items_;
  std::size_t bounded_items_ = 0;  // post_bounded()'s, waiting
  std::size_t bytes_ = 0;          // what they hold
  std::uint64_t dropped_ = 0;
};

}  // namespace synack::os
