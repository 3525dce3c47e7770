// SPDX-License-Identifier: MIT
// What a network device with offloads does between a stack and the wire, for the simulator:
// segmentation (TSO/GSO: a burst the stack hands over with a gso_size leaves as packets of
// gso_size payload bytes, as the TUN cuts synack's bursts in `synack run`) and receive
// coalescing (GRO: in-order TCP segments of one flow that arrive in one batch reach the stack
// as one packet, as Linux's NAPI hands them up, and as a TUN read hands synack the kernel's
// TSO bursts). Both follow Linux's rules (tcp_gso_segment, tcp_gro_receive), so that the chaos
// soak exercises a stack against the packet shapes a real link gives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "synack/host.hpp"
#include "synack/stack.hpp"

namespace synack::sim {

using Packet = std::vector<std::byte>;

// Cuts one TCP packet carrying several segments' payload into pieces of gso_size payload
// bytes, each with the burst's headers: sequence number moved on, IPv4 identification counted
// up, CWR kept on the first piece only, PSH and FIN on the last only (Linux's
// tcp_gso_segment), checksums computed. A packet that is not a TCP packet with more than
// gso_size payload bytes, or gso_size 0, comes back whole.
std::vector<Packet> segment_burst(std::span<const std::byte> packet, std::uint16_t gso_size);

struct CoalesceCounters {
  std::uint64_t merged = 0;  // segments joined onto an earlier one
  std::uint64_t out = 0;     // packets handed on
};

// Coalesces one batch of packets (those arriving together) as Linux's GRO does
// (tcp_gro_receive, inet_gro_receive): a TCP segment with payload joins the flow's held packet
// when it continues its sequence, carries the same ACK number, flags (apart from PSH and FIN)
// and option bytes, the same IPv4 TTL, TOS and DF, is not longer than the held packet's first
// segment and keeps the packet within 64 KiB; CWR is never joined. A held packet is handed on
// once a segment shorter than its first, or one with PSH, FIN, RST, SYN or URG, has joined it,
// or when the next segment of its flow cannot join; the rest at the batch's end. What does not
// parse or fails its checksum is handed on unmerged, after everything held before it, so that
// no flow's order changes. The merged packet keeps its first segment's header (window
// included) with the PSH and FIN of those joined.
std::vector<Packet> coalesce_batch(std::vector<Packet> batch, CoalesceCounters* counters = nullptr);

struct OffloadOptions {
  bool segmentation = false;  // cut the stack's bursts (StackConfig's tcp.gso_max_bytes)
  bool coalescing = false;    // coalesce what arrives in one batch before the stack sees it
};

// A Stack behind a device with these offloads, as a host of the SimNetwork. Without either
// offload it passes everything straight through.
class OffloadHost final : public NetworkHost {
 public:
  OffloadHost(Stack& stack, OffloadOptions options) : stack_(stack), options_(options) {}

  void receive_packet(std::span<const std::byte> packet, Instant now) override;
  void on_timer(Instant now) override { stack_.on_timer(now); }
  std::optional<Instant> next_deadline() const override { return stack_.next_deadline(); }
  bool pop_packet(std::vector<std::byte>& out) override;
  void begin_batch() override;
  void end_batch(Instant now) override;

  std::uint64_t bursts_cut() const { return bursts_cut_; }
  const CoalesceCounters& coalesced() const { return coalesced_; }

 private:
  Stack& stack_;
  OffloadOptions options_;
  bool in_batch_ = false;
  std::vector<Packet> batch_;  // received in this batch, not yet coalesced
  std::deque<Packet> pieces_;  // the rest of a burst being cut
  std::vector<std::byte> burst_;
  std::uint64_t bursts_cut_ = 0;
  CoalesceCounters coalesced_;
};

}  // namespace synack::sim
