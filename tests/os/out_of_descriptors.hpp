// SPDX-License-Identifier: MIT
// For tests of what happens when accept4() finds no descriptor (EMFILE): while an
// OutOfDescriptors lives, the process's RLIMIT_NOFILE is lowered to 64 and every descriptor
// below it is taken; release() (or the destructor) gives them back and restores the limit.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace synack::testing {

class OutOfDescriptors {
 public:
  OutOfDescriptors() {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    rlimit low = saved_;
    low.rlim_cur = 64;
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return;
    lowered_ = true;
    for (int fd; (fd = ::dup(0)) >= 0;) taken_.push_back(fd);
    exhausted_ = errno == EMFILE;
  }
  ~OutOfDescriptors() { release(); }
  OutOfDescriptors(const OutOfDescriptors&) = delete;
  OutOfDescriptors& operator=(const OutOfDescriptors&) = delete;

  // Whether the next call that needs a descriptor fails with EMFILE.
  bool exhausted() const { return exhausted_; }
  void release() {
    for (int fd : taken_) ::close(fd);
    taken_.clear();
    if (lowered_) ::setrlimit(RLIMIT_NOFILE, &saved_);
    lowered_ = false;
    exhausted_ = false;
  }

 private:
  rlimit saved_{};
  bool lowered_ = false;
  bool exhausted_ = false;
  std::vector<int> taken_;
};

}  // namespace synack::testing
