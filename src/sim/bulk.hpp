// SPDX-License-Identifier: MIT
// Bulk transfer between two synack stacks on the simulated network: `synack sim bulk`, the
// chaos tests and `synack soak` all run this. Every byte is checked at the receiver against
// the sender's generator, so loss, reordering, duplication or corruption that slipped through
// is caught exactly, not by a hash collision's chance.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "synack/config.hpp"
#include "synack/sim_network.hpp"
#include "synack/state.hpp"
#include "synack/trace.hpp"

namespace synack::sim {

struct BulkOptions {
  std::uint64_t bytes = 1 << 20;    // from client to server
  std::uint64_t reverse_bytes = 0;  // from server to client, at the same time
  std::uint64_t seed = 1;
  sim::LinkParams link;                         // both directions, unless reverse_link is set
  std::optional<sim::LinkParams> reverse_link;  // server -> client
  CongestionAlgorithm congestion = CongestionAlgorithm::Cubic;
  LossDetection loss_detection = LossDetection::Rack;  // TcpConfig::loss_detection
  bool tail_loss_probe = TcpConfig{}.tail_loss_probe;  // TcpConfig::tail_loss_probe, its default
  std::optional<bool> recovery_probe;  // TcpConfig::recovery_probe; unset: the profile's
  unsigned loss_probe_segments = 0;    // TcpConfig::loss_probe_segments; 0: the profile's
  unsigned loss_probes = 0;            // TcpConfig::loss_probes_per_episode; 0: the profile's
  std::optional<bool> dsack;           // TcpConfig::dsack (RFC 2883); unset: the profile's
  bool frto = false;                   // TcpConfig::frto (RFC 5682)
  // Each end's TCP choices start from this profile (synack::profiles: "rfc" or "linux");
  // the options here then set what they name (frto only turns it on).
  std::string profile[2] = {"rfc", "rfc"};
  // Segmentation offload: each stack sends bursts of up to this many bytes
  // (TcpConfig::gso_max_bytes), which its device cuts into MSS-sized packets (sim/offload_host).
  std::uint32_t gso_max_bytes = 0;
  // Receive coalescing: what reaches a stack in one batch is coalesced first, as Linux's GRO.
  bool coalesce = false;
  std::uint32_t send_buffer = 256 * 1024;
  std::uint32_t receive_buffer = 256 * 1024;
  std::uint16_t mss = 1460;
  bool sack = true;
  bool timestamps = true;
  bool window_scale = true;
  // The receiving application reads at most this many bytes per wake-up and pauses for
  // `read_pause` between reads when set (0 = reads everything at once): slow readers make
  // zero windows.
  std::uint32_t read_chunk = 0;
  Duration read_pause{0};
  Duration limit = 3600s;  // virtual time before the run counts as hung
  // Watchdog in real time: a run that takes longer than this (0 = no limit) is stopped and
  // reported, so that a soak never hangs on one seed.
  std::chrono::milliseconds wall_limit{0};
  // Time budget from the path (sim/path_model.hpp): a run whose transfer takes longer than
  // budget_factor x the model's time + budget_slack fails as too slow. 0: no budget.
  double budget_factor = 0;
  Duration budget_slack = 60s;
  std::string pcap;
  TraceSink* trace = nullptr;  // transitions, segments and drops of both stacks
};

struct BulkResult {
  std::uint64_t delivered = 0;          // bytes the server read, in order
  std::uint64_t reverse_delivered = 0;  // bytes the client read
  bool intact = false;                  // every byte matched and all arrived exactly once
  bool hung = false;                    // the limit passed before both ends reached CLOSED
  bool livelock = false;                // the virtual clock stood still while packets flowed
  bool watchdog = false;                // stopped by the real-time watchdog
  bool too_slow = false;                // delivered, but beyond the time budget
  Duration model_time{0};               // what the path model predicts for the transfer
  Duration budget{0};                   // the budget it was held to (0: none)
  const char* model_bound = "";         // what bounds the model: loss, window, rate, reader
  double wall_seconds = 0;              // real time the run took
  std::string failure;                  // what went wrong, if anything
  std::uint64_t retransmissions = 0;
  std::uint64_t fast_retransmits = 0;
  std::uint64_t rto_expirations = 0;
  std::uint64_t undos = 0;  // loss responses undone as spurious (tcp_undos)
  std::uint64_t sack_recovered_bytes = 0;
  std::uint64_t corrupted_dropped = 0;  // segments the receivers' checksum caught
  std::uint64_t packets = 0;
  std::uint64_t bursts_cut = 0;          // bursts the devices cut into packets (gso_max_bytes)
  std::uint64_t segments_coalesced = 0;  // segments the devices joined onto others (coalesce)
  Duration transfer_time{0};             // first SYN to the last byte read
  Duration total_time{0};                // until both ends are CLOSED
  double goodput_bps = 0;
  std::uint64_t hash = 0;  // FNV-1a of the forward stream
  State final_state[2] = {State::Closed, State::Closed};
};

BulkResult run_bulk(const BulkOptions& options);

// The JSON object `synack sim bulk --json` prints.
std::string bulk_json(const BulkOptions& options, const BulkResult& result);

}  // namespace synack::sim
