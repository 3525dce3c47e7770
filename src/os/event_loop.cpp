// SPDX-License-Identifier: MIT
// epoll driver for one Stack on one TUN device.
#include "synack/event_loop.hpp"

#include <sched.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "os/tun_writer.hpp"
#include "synack/pcap.hpp"
#include "synack/tun_device.hpp"

namespace synack::os {
using namespace synack::capture;
namespace {

// Events delivered to the application per pump() before the loop takes a breath (polls its
// descriptors again); a handler that keeps producing events cannot starve the TUN.
constexpr std::size_t kEventsPerPump = 4096;
// How long the loop still runs after resetting the connections left at the end of a graceful
// stop.
constexpr Duration kAbortLinger = 200ms;
// Options::write_thread: packets closer together than this go to the writer thread.
constexpr Duration kDenseGap = 20us;
// ... whose ring holds about this many bytes of packets.
constexpr std::size_t kWriterBytes = 1 << 20;
// Larger packets are written by the loop itself even in a burst (unless the thread holds
// packets, whose order must hold): copying 64 KiB into a slot costs the loop about what the
// write would (measured, MTU 65520: iperf3 down 18-22 Gbit/s written here, 17 through the
// thread).
constexpr std::size_t kThreadMaxPacket = 9216;

std::int64_t clock_us(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

Instant monotonic_now() { return instant_from_us(clock_us(CLOCK_MONOTONIC)); }

std::int64_t realtime_offset_us() { return clock_us(CLOCK_REALTIME) - clock_us(CLOCK_MONOTONIC); }

SignalGuard::SignalGuard() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, &saved_mask_);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &saved_sigpipe_);
}

SignalGuard::~SignalGuard() {
  ::sigaction(SIGPIPE, &saved_sigpipe_, nullptr);
  pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
}

EventLoop::EventLoop(Stack& stack, TunDevice& tun, Options options)
    : stack_(stack), tun_(tun), options_(options) {}

Expected<std::unique_ptr<EventLoop>, std::string> EventLoop::create(Stack& stack, TunDevice& tun,
                                                                    Options options) {
  std::unique_ptr<EventLoop> loop(new EventLoop(stack, tun, options));
  if (auto r = loop->init(); !r) return Unexpected{r.error()};
  return loop;
}

Expected<void, std::string> EventLoop::init() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Unexpected{std::string("epoll_create1: ") + std::strerror(errno)};
  if (options_.handle_signals) {
    signal_guard_ = std::make_unique<SignalGuard>();
    sigset_t set = stop_signals();
    signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) return Unexpected{std::string("signalfd: ") + std::strerror(errno)};
  }
  for (int fd : {tun_.fd(), signal_fd_}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0)
      return Unexpected{std::string("epoll_ctl: ") + std::strerror(errno)};
  }
  read_buffer_.resize(TunDevice::kReadBufferSize);
  if (options_.write_thread) {
    const std::size_t slot = std::min<std::size_t>(tun_.mtu(), kThreadMaxPacket) + 64;
    TunDevice& tun = tun_;
    writer_ =
        std::make_unique<TunWriter>([&tun](std::span<const std::byte> packet,
                                           std::uint16_t gso) { return tun.write(packet, gso); },
                                    tun_.fd(), kWriterBytes / slot);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = writer_->room_fd();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, writer_->room_fd(), &ev) < 0)
      return Unexpected{std::string("epoll_ctl: ") + std::strerror(errno)};
  }
  now_ = monotonic_now();
  if (options_.gather_writes) stack_.set_packet_writer(this);
  return {};
}

EventLoop::~EventLoop() {
  if (options_.gather_writes) stack_.set_packet_writer(nullptr);
  writer_.reset();  // writes what is still queued, then stops the thread
  if (signal_fd_ >= 0) {
    // Take any stop signal still pending, so restoring the mask does not deliver it.
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    }
    ::close(signal_fd_);
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Expected<void, int> EventLoop::add_fd(int fd, std::uint32_t events, FdHandler handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ++stats_.fd_changes;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) return Unexpected{errno};
  fd_handlers_[fd] = std::move(handler);
  return {};
}

Expected<void, int> EventLoop::replace_fd(int fd, std::uint32_t events, FdHandler handler) {
  auto it = fd_handlers_.find(fd);
  if (it == fd_handlers_.end()) return add_fd(fd, events, std::move(handler));
  if (auto r = modify_fd(fd, events); !r) return r;
  it->second = std::move(handler);  // run() calls a copy: a handler may replace itself
  return {};
}

Expected<void, int> EventLoop::modify_fd(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ++stats_.fd_changes;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) < 0) return Unexpected{errno};
  return {};
}

void EventLoop::remove_fd(int fd) {
  if (!fd_handlers_.erase(fd)) return;
  ++stats_.fd_changes;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::close_fd(int fd) {
  // An event for it already fetched in this round finds no handler (run() skips it), or,
  // should the number be reused within the round, reaches the new descriptor's handler as
  // it would after remove_fd(): handlers take a wakeup as a hint, not as a fact.
  fd_handlers_.erase(fd);
  ::close(fd);
}

EventLoop::TimerId EventLoop::call_at(Instant at, TimerHandler handler) {
  TimerId id = next_timer_++;
  auto it = timers_.emplace(at, Timer{id, std::move(handler)});
  timer_index_[id] = it;
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timer_index_.find(id);
  if (it == timer_index_.end()) return;
  timers_.erase(it->second);
  timer_index_.erase(it);
}

void EventLoop::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_deadline_ = now_ + options_.shutdown_grace;
  if (shutdown_hook_) shutdown_hook_();
  pump();
}

void EventLoop::run() {
  running_ = true;
  now_ = monotonic_now();
  pump();
  epoll_event events[32];
  while (running_) {
    if (shutting_down_ && connections_finished()) break;
    if (shutting_down_ && now_ >= shutdown_deadline_) {
      if (aborted_) break;
      abort_remaining();
      // Linger briefly: a peer that takes our RST for a blind one (RFC 5961 §3.2) answers
      // with a challenge ACK, which the stack, knowing no connection, answers with an RST at
      // exactly the sequence number the peer wants.
      aborted_ = true;
      shutdown_deadline_ = now_ + kAbortLinger;
      continue;
    }
    std::optional<Instant> wake = stack_.next_deadline();
    if (!timers_.empty() && (!wake || timers_.begin()->first < *wake))
      wake = timers_.begin()->first;
    if (shutting_down_ && (!wake || shutdown_deadline_ < *wake)) wake = shutdown_deadline_;
    timespec timeout{};
    timespec* timeout_ptr = nullptr;
    const bool spin =
        options_.busy_poll > Duration::zero() && now_ - last_work_ < options_.busy_poll;
    if (events_left_ || spin) {
      timeout_ptr = &timeout;  // zero: poll
      if (spin && !events_left_) {
        ++stats_.busy_polls;
        // A spin gives way to whatever else is runnable on this CPU — often the very client
        // or server whose answer it waits for (on 2 CPUs, `synack run`'s keep-alive has three
        // busy processes): CPU per keep-alive request 10.2-10.6 -> 8.4-9.9 µs, requests/s the
        // same within their scatter (docs/performance.md, twenty-third session).
        ::sched_yield();
      }
    } else if (wake) {
      auto us = std::max<std::int64_t>(0, to_us(*wake) - to_us(monotonic_now()));
      timeout.tv_sec = us / 1'000'000;
      timeout.tv_nsec = (us % 1'000'000) * 1000;
      timeout_ptr = &timeout;
    }
    int n = ::epoll_pwait2(epoll_fd_, events, 32, timeout_ptr, nullptr);
    if (n < 0 && errno == ENOSYS) {
      // Kernels before 5.11: millisecond timeouts, rounded up so we never wake early forever.
      int ms = -1;
      if (timeout_ptr)
        ms = static_cast<int>(timeout.tv_sec * 1000 + (timeout.tv_nsec + 999'999) / 1'000'000);
      n = ::epoll_wait(epoll_fd_, events, 32, ms);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "synack: epoll_wait: %s\n", std::strerror(errno));
      break;
    }
    ++stats_.wakeups;
    now_ = monotonic_now();
    if (n > 0) last_work_ = now_;
    for (int i = 0; i < n && running_; ++i) {
      int fd = events[i].data.fd;
      std::uint32_t what = events[i].events;
      if (fd == tun_.fd()) {
        if (what & EPOLLOUT) write_queued();
        if (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_tun();
      } else if (writer_ && fd == writer_->room_fd()) {
        writer_->take_room_signal();
        write_queued();
      } else if (fd == signal_fd_) {
        handle_signal();
      } else {
        auto it = fd_handlers_.find(fd);
        if (it == fd_handlers_.end()) continue;  // removed by an earlier handler this round
        FdHandler handler = it->second;          // the handler may remove itself
        handler(what);
      }
      pump();
    }
    run_timers();
    pump();
  }
  running_ = false;
  pump();
  // What the writer thread still holds leaves before run() returns (a second at most: the
  // thread gives up on a kernel that keeps refusing).
  for (int i = 0; writer_ && !writer_->idle() && i < 2000; ++i) ::usleep(1000);
}

void EventLoop::read_tun() {
  // What the batch makes the stack send waits for pump()'s end_batch(), after the
  // application has had its events (TcpConfig::batch_output).
  stack_.begin_batch();
  for (std::size_t i = 0; i < options_.read_batch; ++i) {
    auto packet = tun_.read(read_buffer_);
    if (!packet) {
      tun_failed(packet.error());
      return;
    }
    if (packet->empty()) return;  // drained (or an unusable packet; epoll says if more)
    // Each packet at the clock's time, not the wake-up's: a batch takes time (what the stack
    // sends in answer to one packet crosses the kernel inside the write, and its answer is
    // the batch's next packet), and RACK's loss detection (RFC 8985 §6.2), RTT samples and a
    // capture all need to know when each packet really arrived.
    now_ = monotonic_now();
    if (pcap_) pcap_->write(*packet, now_);
    if (packet_filter_ && packet_filter_(*packet, tun_.last_checksum_trusted())) continue;
    stack_.receive_packet(*packet, now_, Stack::ReceiveFlags{tun_.last_checksum_trusted()});
  }
}

void EventLoop::pump() {
  deliver_events();
  stack_.end_batch(now_);
  deliver_events();  // what the held output's ACKs and sends made ready
  flush_output();
}

void EventLoop::deliver_events() {
  events_left_ = false;
  std::size_t budget = kEventsPerPump;
  while (budget-- > 0) {
    auto ev = stack_.poll_event();
    if (!ev) return;
    if (socket_handler_) socket_handler_(*ev);
  }
  events_left_ = true;
}

void EventLoop::flush_output() {
  std::uint16_t gso_size = 0;
  while (stack_.pop_packet(out_buffer_, &gso_size)) {
    if (pcap_) pcap_->write(out_buffer_, monotonic_now());
    if (output_queue_.empty() && emit(out_buffer_, {}, gso_size)) continue;
    // Keep order behind what the kernel (or the writer thread's full ring) refused; past the
    // bound, drop (TCP retransmits).
    const std::size_t bytes = out_buffer_.capacity();
    if (output_queue_.size() < options_.max_output_queue &&
        stats_.tun_output_queued_bytes + bytes <= options_.max_output_queue_bytes) {
      stats_.tun_output_queued_bytes += bytes;
      output_queue_.push_back({std::move(out_buffer_), gso_size});
      out_buffer_ = {};
    } else {
      ++stats_.tun_output_drops;
    }
  }
  if (writer_) {
    const auto w = writer_->stats();
    stats_.tun_thread_packets = w.packets;
    stats_.tun_thread_full = w.full;
    stats_.tun_write_errors += w.write_errors - writer_errors_seen_;
    writer_errors_seen_ = w.write_errors;
  }
}

bool EventLoop::emit(std::span<const std::byte> headers, std::span<const std::byte> payload,
                     std::uint16_t gso_size) {
  if (writer_) {
    // Behind packets the thread still holds (their order must hold), or in a burst: the
    // thread's. A lone packet with nothing queued: written here, without a wake-up's delay.
    const bool dense =
        now_ - last_emit_ < kDenseGap && headers.size() + payload.size() <= kThreadMaxPacket;
    last_emit_ = now_;
    if (dense || !writer_->idle()) return writer_->push(headers, payload, gso_size);
  }
  auto r = payload.empty() ? tun_.write(headers, gso_size)
                           : tun_.write_gather(headers, payload, gso_size);
  if (r) return true;
  if (TunDevice::pushed_back(r.error())) {
    ++stats_.tun_write_blocked;
    set_tun_writable_interest(true);
    return false;
  }
  ++stats_.tun_write_errors;  // counted, the packet dropped
  return true;
}

bool EventLoop::write_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                             std::uint16_t gso_size) {
  if (!output_queue_.empty()) return false;
  // Not taken: the stack keeps it; flush_output() queues it behind the refusal.
  if (!emit(headers, payload, gso_size)) return false;
  if (pcap_) {
    pcap_scratch_.assign(headers.begin(), headers.end());
    pcap_scratch_.insert(pcap_scratch_.end(), payload.begin(), payload.end());
    pcap_->write(pcap_scratch_, monotonic_now());
  }
  return true;
}

void EventLoop::write_queued() {
  while (!output_queue_.empty()) {
    if (!emit(output_queue_.front().bytes, {}, output_queue_.front().gso_size)) return;
    stats_.tun_output_queued_bytes -= output_queue_.front().bytes.capacity();
    output_queue_.pop_front();
  }
  set_tun_writable_interest(false);
}

void EventLoop::tun_failed(int error) {
  // A deleted TUN (or one whose namespace is gone) reports EPOLLERR and fails every read for
  // ever: out of the epoll set, once, or the loop would spin printing the error (789,320
  // lines in 2 s under `synack run -- ip link del synack0` before). Writes that still come
  // fail and are counted (tun_write_errors).
  if (stats_.tun_read_failed) return;
  stats_.tun_read_failed = 1;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, tun_.fd(), nullptr);
  if (tun_error_handler_) {
    tun_error_handler_(error);
    return;
  }
  std::fprintf(stderr, "synack: read from %s: %s; no longer reading it\n", tun_.name().c_str(),
               std::strerror(error));
}

void EventLoop::set_tun_writable_interest(bool on) {
  if (stats_.tun_read_failed) return;  // out of the epoll set (tun_failed)
  if (tun_out_interest_ == on) return;
  tun_out_interest_ = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.fd = tun_.fd();
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, tun_.fd(), &ev);
}

void EventLoop::run_timers() {
  if (auto deadline = stack_.next_deadline(); deadline && *deadline <= now_) stack_.on_timer(now_);
  while (!timers_.empty() && timers_.begin()->first <= now_) {
    auto it = timers_.begin();
    Timer timer = std::move(it->second);
    timer_index_.erase(timer.id);
    timers_.erase(it);
    timer.handler();
    pump();
  }
}

void EventLoop::handle_signal() {
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (signal_handler_ &&
        signal_handler_(static_cast<int>(info.ssi_signo), static_cast<int>(info.ssi_code)))
      continue;
    if (shutting_down_) {
      running_ = false;  // a second signal: stop now
      return;
    }
    stop_signal_ = static_cast<int>(info.ssi_signo);
    shutdown();
  }
}

void EventLoop::abort_remaining() {
  // The grace period is over: reset what the application still holds, so the peers learn at
  // once instead of timing out against an interface that is about to vanish. (Connections
  // the application already closed finish or die with the interface.)
  for (const auto& c : stack_.connections()) {
    if (!c.detached && c.status.state != State::Closed && c.status.state != State::TimeWait)
      (void)stack_.abort(c.id, now_);
  }
  pump();
}

bool EventLoop::connections_finished() const {
  for (const auto& c : stack_.connections()) {
    if (c.status.state != State::Closed && c.status.state != State::TimeWait) return false;
  }
  return true;
}

}  // namespace synack::os
