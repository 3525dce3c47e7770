// Bulk transfer between two synack stacks on the simulated network: `synack sim bulk`, the
// chaos tests and `synack soak` all run this. Every byte is checked at the receiver against
// the sender's generator, so loss, reordering, duplication or corruption that slipped through
// is caught exactly, not by a hash collision's chance.
#pragma once

#include <cstdint>
#include <string>

#include "sim/sim_network.hpp"
#include "synack/config.hpp"
#include "synack/state.hpp"
#include "synack/trace.hpp"

namespace synack::sim {

struct BulkOptions {
  std::uint64_t bytes = 1 << 20;        // from client to server
  std::uint64_t reverse_bytes = 0;      // from server to client, at the same time
  std::uint64_t seed = 1;
  sim::LinkParams link;                // both directions
  CongestionAlgorithm congestion = CongestionAlgorithm::Cubic;
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
  std::string pcap;
  TraceSink* trace = nullptr;  // transitions, segments and drops of both stacks
};

struct BulkResult {
  std::uint64_t delivered = 0;          // bytes the server read, in order
  std::uint64_t reverse_delivered = 0;  // bytes the client read
  bool intact = false;                  // every byte matched and all arrived exactly once
  bool hung = false;                    // the limit passed before both ends reached CLOSED
  std::string failure;                  // what went wrong, if anything
  std::uint64_t retransmissions = 0;
  std::uint64_t fast_retransmits = 0;
  std::uint64_t rto_expirations = 0;
  std::uint64_t sack_recovered_bytes = 0;
  std::uint64_t corrupted_dropped = 0;  // segments the receivers' checksum caught
  std::uint64_t packets = 0;
  Duration transfer_time{0};            // first SYN to the last byte read
  Duration total_time{0};               // until both ends are CLOSED
  double goodput_bps = 0;
  std::uint64_t hash = 0;               // FNV-1a of the forward stream
  State final_state[2] = {State::Closed, State::Closed};
};

BulkResult run_bulk(const BulkOptions& options);

// The JSON object `synack sim bulk --json` prints.
std::string bulk_json(const BulkOptions& options, const BulkResult& result);

}  // namespace synack::sim
