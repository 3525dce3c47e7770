// SPDX-License-Identifier: MIT
#include "os/inbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace synack::os {

Expected<std::unique_ptr<Inbox>, std::string> Inbox::create(std::size_t max_items,
                                                            std::size_t max_bytes) {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Unexpected{std::string("eventfd: ") + std::strerror(errno)};
  return std::unique_ptr<Inbox>(new Inbox(fd, max_items, max_bytes));
}

Inbox::~Inbox() {
  if (fd_ >= 0) ::close(fd_);
}

void Inbox::wake() {
  std::uint64_t one = 1;
  // Cannot fail short of a counter at 2^64 - 1: take() reads it back to zero each time.
  (void)!::write(fd_, &one, sizeof one);
}

void Inbox::post(Item item) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = items_.empty();
    items_.push_back(std::move(item));
  }
  if (first) wake();  // later posts find the owner woken already
}

bool Inbox::post_bounded(Item item, std::size_t bytes) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (bounded_items_ >= max_items_ || bytes > max_bytes_ - bytes_) {
      ++dropped_;
      return false;
    }
    ++bounded_items_;
    bytes_ += bytes;
    first = items_.empty();
    items_.push_back(std::move(item));
  }
  if (first) wake();
  return true;
}

std::vector<Inbox::Item> Inbox::take() {
  std::uint64_t count = 0;
  (void)!::read(fd_, &count, sizeof count);
  std::vector<Item> items;
  std::lock_guard lock(mutex_);
  items.swap(items_);
  bounded_items_ = 0;
  bytes_ = 0;
  return items;
}

std::uint64_t Inbox::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace synack::os
