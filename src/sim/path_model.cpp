// SPDX-License-Identifier: MIT
// The PFTK throughput model (Padhye, Firoiu, Towsley, Kurose, "Modeling TCP Throughput: A Simple
// Model and its Empirical Validation", SIGCOMM 1998, eq. 31), with the window, link-rate and
// reader bounds a simulated path adds.
#include "sim/path_model.hpp"

#include <algorithm>
#include <cmath>

namespace synack::sim {

namespace {
double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

PathModel model_transfer(const PathModelInput& in) {
  PathModel m;
  const double mss = std::max<std::uint32_t>(in.mss, 1);
  const double packet_bits = (mss + 40) * 8;
  // Round trip: both delays, mean jitter both ways, a data packet's serialization.
  double rtt = seconds(in.forward.delay + in.backward.delay) +
               (seconds(in.forward.jitter) + seconds(in.backward.jitter)) / 2;
  if (in.forward.rate_bps > 0) rtt += packet_bits / static_cast<double>(in.forward.rate_bps);
  rtt = std::max(rtt, 1e-4);
  m.rtt_s = rtt;
  // Loss events: lost or corrupted data segments, and reordering deep enough to look like loss
  // (a held-back packet is passed by the following ones and triggers a fast retransmit).
  const double wmax = std::max(1.0, static_cast<double>(in.window) / mss);
  double p = in.forward.loss + in.forward.corrupt + in.forward.reorder;
  // With fewer than four segments in flight no three duplicate ACKs can arrive (RFC 5681
  // §3.2): a lost ACK then costs a timeout as surely as lost data does.
  if (wmax < 4) p = 1 - (1 - p) * (1 - in.backward.loss - in.backward.corrupt);
  p = std::min(0.9, p);
  m.loss_event_rate = p;
  constexpr double b = 2;  // segments acknowledged per ACK (delayed ACKs)
  // T0: the retransmission timeout, by RFC 6298 about SRTT + 4 RTTVAR, never below 200 ms.
  const double t0 = std::max(0.2, 4 * rtt);
  double packets_per_s = wmax / rtt;
  m.bound = "window";
  if (p > 0) {
    const double loss_rate =
        1 / (rtt * std::sqrt(2 * b * p / 3) +
             t0 * std::min(1.0, 3 * std::sqrt(3 * b * p / 8)) * p * (1 + 32 * p * p));
    if (loss_rate < packets_per_s) {
      packets_per_s = loss_rate;
      m.bound = "loss";
    }
  }
  double rate = packets_per_s * mss;
  if (in.forward.rate_bps > 0) {
    const double link = static_cast<double>(in.forward.rate_bps) / packet_bits * mss;
    if (link < rate) {
      rate = link;
      m.bound = "rate";
    }
  }
  if (in.read_chunk > 0 && in.read_pause > Duration{0}) {
    const double reader = in.read_chunk / seconds(in.read_pause);
    if (reader < rate) {
      rate = reader;
      m.bound = "reader";
    }
  }
  m.bytes_per_s = rate;
  // Handshake and first request, then slow start from 10 segments to the window.
  const double slow_start = rtt * std::log2(std::max(1.0, wmax / 10));
  const double total = 2 * rtt + slow_start + static_cast<double>(in.bytes) / rate;
  m.transfer = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(total));
  return m;
}

}  // namespace synack::sim
