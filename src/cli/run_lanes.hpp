// SPDX-License-Identifier: MIT
// `synack run --queues N`: the namespace's TUN has N queues, and each queue has a stack, an
// event loop and a relay of its own. The first lane is the caller's (cmd_run.cpp runs its loop
// on the main thread, with CMD's exit, signals, the control socket, port forwards and -T);
// lanes 1..N-1 run on threads of their own. The lanes share nothing but their inboxes and the
// forward ports; relay/steering.hpp says how a packet that reached the wrong lane finds its
// own. Each lane has 1/N of --max-memory.
#pragma once

#include <atomic>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/net_options.hpp"
#include "os/inbox.hpp"
#include "relay/relay.hpp"
#include "relay/steering.hpp"
#include "synack/expected.hpp"
#include "synack/tun_device.hpp"

namespace synack::cli {

class RunLanes {
 public:
  // `first` and `first_relay` are lane 0 (the caller's, outliving this); `queues` the TUN's
  // other queues, one lane each; `config` the relay's (forwards go to lane 0 only). Sets up
  // every lane and wires lane 0 in. Errors: a message from the lane that could not be made.
  static Expected<std::unique_ptr<RunLanes>, std::string> create(
      const NetOptions& options, NetEnvironment& first, relay::Relay& first_relay,
      std::vector<std::unique_ptr<os::TunDevice>> queues, relay::RelayConfig config);
  ~RunLanes();  // stop() if not done
  RunLanes(const RunLanes&) = delete;
  RunLanes& operator=(const RunLanes&) = delete;

  // Starts lanes 1..N-1. Errors: a message when a thread cannot be started.
  Expected<void, std::string> start();
  // The forwards lane 0 has now (at start, and after each change at run time).
  void note_forwards(const std::vector<std::pair<std::uint64_t, relay::PortForward>>& forwards);

  // CMD has exited: every other lane drains as lane 0 does (Relay::begin_drain).
  void begin_drain();
  // Every other lane has drained (its Relay::drained()).
  bool drained() const;
  // The drain timeout (or a signal): the other lanes reset what they hold and stop; their
  // losses, summed.
  relay::Relay::DrainLoss abort_drain();
  // The other lanes shut their relays down and stop; waits for their threads. Idempotent.
  void stop();

  // After stop(): every lane's --stats counters summed (lane 0's included, as `first_stats`
  // gives them; memory_peak_bytes is then the sum of the lanes' peaks, and a segment passed
  // round the ring counts as received at each lane that looked at it), then each lane's share
  // of the traffic: run_queues, queue_I_relay_tcp_connects, queue_I_tun_packets_read, and
  // the segments and datagrams passed between lanes.
  void print_stats(const std::string& first_stats, std::ostream& out) const;
  // One lane's counters as `synack run --stats` prints them.
  static std::string lane_stats(const NetEnvironment& env, const relay::Relay& relay);

  std::size_t size() const { return lanes_.size(); }

  // For the control socket (`synack ss`, `synack stats`), on lane 0's thread while the lanes
  // run: every lane's connections, and their counters summed. Each other lane answers through
  // its inbox, on its own thread, within 500 ms; one that has exited or does not answer in
  // time is left out.
  std::vector<ConnectionInfo> connections() const;
  Counters counters() const;

 private:
  struct Lane;
  RunLanes() = default;
  // `question` asked of lanes 1..N-1 on their threads; the answers that came in time.
  template <class T>
  std::vector<T> ask_others(std::function<T(const Stack&)> question) const;
  Expected<void, std::string> wire_lane(std::size_t index);
  void post_stop(bool abort);

  std::vector<std::unique_ptr<Lane>> lanes_;  // [0] is the caller's
  relay::ForwardPorts forward_ports_;
  bool stopped_ = false;
};

}  // namespace synack::cli
