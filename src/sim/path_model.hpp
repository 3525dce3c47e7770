// SPDX-License-Identifier: MIT
// How long a bulk transfer should take on a simulated path, from the path alone: the
// Padhye-Firoiu-Towsley-Kurose model of TCP throughput under loss (with its timeout term), bounded
// by the window, the link rate and the receiving application's reading speed. The chaos soak gives
// every seed a time budget that is a multiple of this, so a seed that delivers everything but far
// too slowly fails — a budget from the path, not from what synack happens to achieve.
#pragma once

#include <cstdint>

#include "synack/sim_network.hpp"
#include "synack/time.hpp"

namespace synack::sim {

struct PathModelInput {
  std::uint64_t bytes = 0;
  LinkParams forward;   // the direction the data goes
  LinkParams backward;  // the direction its ACKs go
  std::uint32_t mss = 1460;
  std::uint32_t window = 65535;  // min(send buffer, receive buffer, 64 KiB without scaling)
  // A reader that takes read_chunk bytes every read_pause (0: reads everything at once).
  std::uint32_t read_chunk = 0;
  Duration read_pause{0};
};

struct PathModel {
  double rtt_s = 0;            // base round trip: delays, mean jitter, serialization
  double loss_event_rate = 0;  // p of the PFTK model
  double bytes_per_s = 0;      // the bound that binds
  const char* bound = "";      // "loss", "window", "rate" or "reader"
  Duration transfer{0};        // setup + slow start + bytes at bytes_per_s
};

PathModel model_transfer(const PathModelInput& in);

}  // namespace synack::sim
