// SPDX-License-Identifier: MIT
// A listening socket that accept4() cannot serve for want of descriptors or memory (EMFILE,
// ENFILE, ENOBUFS, ENOMEM) keeps its connection queued and stays readable; a level-triggered
// loop that watches it wakes again at once and spins on one CPU. AcceptRest takes the
// listener's interest away for a pause (100 ms, as relay::LoopbackForwarder does) and gives
// it back afterwards; the queued connections wait in the kernel's backlog meanwhile.
//
// `Loop` is os::EventLoop or control::ControlLoop: modify_fd(fd, events), call_at(when,
// handler) returning a Loop::TimerId (0: none), cancel_timer(id), now().
#pragma once

#include <sys/epoll.h>

#include <cerrno>
#include <chrono>

#include "synack/time.hpp"

namespace synack::os {

// accept4() failed for want of descriptors or memory: the connection stays queued and the
// listener readable, so a loop that watches the listener must stop watching it for a while.
inline bool accept_shortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

template <class Loop>
class AcceptRest {
 public:
  static constexpr Duration kPause = std::chrono::milliseconds(100);

  explicit AcceptRest(Loop& loop) : loop_(loop) {}
  ~AcceptRest() {
    if (timer_) loop_.cancel_timer(timer_);
  }
  AcceptRest(const AcceptRest&) = delete;
  AcceptRest& operator=(const AcceptRest&) = delete;

  // accept4() on `listener` (watched for EPOLLIN) failed with `error`: when the error is a
  // shortage, the listener rests for kPause, and true is returned if it was not resting
  // already (a rest for the caller to count). Otherwise (EAGAIN, an error of the connection's
  // own such as ECONNABORTED) false, and nothing changes.
  bool after_failure(int listener, int error) {
    if (!accept_shortage(error)) return false;
    if (timer_) return false;  // resting already
    (void)loop_.modify_fd(listener, 0);
    timer_ = loop_.call_at(loop_.now() + kPause, [this, listener] {
      timer_ = 0;
      (void)loop_.modify_fd(listener, EPOLLIN);
    });
    return true;
  }

 private:
  Loop& loop_;
  typename Loop::TimerId timer_ = 0;
};

}  // namespace synack::os
