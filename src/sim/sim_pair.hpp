// SPDX-License-Identifier: MIT
// Two synack stacks — a client and a server — on the simulated network, with everything
// that happens recorded into a observe::Ladder. The scenarios, `synack demo`, `synack sim bulk` and
// the soak tests drive this.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "observe/ladder.hpp"
#include "sim/offload_host.hpp"
#include "synack/sim_network.hpp"
#include "synack/stack.hpp"

namespace synack::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  sim::LinkParams link;                         // both directions, unless reverse_link is set
  std::optional<sim::LinkParams> reverse_link;  // server -> client
  std::optional<std::string> pcap;
  StackConfig client_config;
  StackConfig server_config;
  bool record_ladder = true;
  // The device each stack sits behind (client, server): segmentation of its bursts (with
  // its config's tcp.gso_max_bytes), coalescing of what it receives in one batch.
  OffloadOptions offload[2];
  TraceSink* extra_trace = nullptr;  // e.g. a JSON-lines writer
};

class SimPair {
 public:
  static constexpr int kClient = 0;
  static constexpr int kServer = 1;

  explicit SimPair(const SimOptions& options);
  ~SimPair();

  Stack& client() { return *stacks_[0]; }
  Stack& server() { return *stacks_[1]; }
  Stack& stack(int side) { return *stacks_[side]; }
  sim::SimNetwork& net() { return net_; }
  Instant now() const { return net_.now(); }
  observe::Ladder& ladder() { return ladder_; }
  wire::IpAddress address(int side) const;
  // The offload device in front of a stack; null when it has none (SimOptions::offload).
  const OffloadHost* device(int side) const { return devices_[side].get(); }

  // After calling into a stack directly, put what it produced on the wire.
  void flush() { net_.flush_outputs(); }
  // Runs until done() or `limit` of virtual time passes; returns done().
  bool run_until(const std::function<bool()>& done, Duration limit);
  void run_for(Duration d) { net_.run_for(d); }
  // Runs until nothing is in flight and no timer is pending, or `limit` passes.
  void run_until_idle(Duration limit);

  // Names the ends on the ladder by the first connection seen on each stack.
  void name_ends(const std::string& left, const std::string& right);

 private:
  class Recorder;
  void on_packet(const sim::PacketEvent& e);

  sim::SimNetwork net_;
  std::unique_ptr<Stack> stacks_[2];
  std::unique_ptr<Recorder> recorders_[2];
  std::unique_ptr<OffloadHost> devices_[2];  // only where an offload is on
  sim::HostId hosts_[2] = {0, 0};
  observe::Ladder ladder_;
  bool record_;
  std::optional<std::uint32_t> isn_[2];      // first SYN's seq from each side, for relative numbers
  std::optional<std::uint32_t> highest_[2];  // highest relative sequence end sent by each side
};

}  // namespace synack::sim
