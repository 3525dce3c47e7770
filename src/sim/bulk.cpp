// SPDX-License-Identifier: MIT
#include "sim/bulk.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/path_model.hpp"
#include "sim/sim_pair.hpp"
#include "synack/profiles.hpp"

namespace synack::sim {
using namespace synack::observe;
namespace {

// A byte stream from a seed: the sender writes it, the receiver regenerates and compares.
class StreamGenerator {
 public:
  explicit StreamGenerator(std::uint64_t seed) : state_(seed) {}
  void fill(std::span<std::byte> out) {
    for (auto& b : out) {
      if (used_ == 8) {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        word_ = z ^ (z >> 31);
        used_ = 0;
      }
      b = static_cast<std::byte>(word_ >> (8 * used_++));
    }
  }

 private:
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  int used_ = 8;
};

// One direction of the transfer, as its two applications see it.
struct Flow {
  std::uint64_t total = 0;
  StreamGenerator tx;
  StreamGenerator rx;
  std::uint64_t written = 0;
  std::vector<std::byte> pending;  // generated, not yet accepted by send()
  std::size_t pending_offset = 0;
  std::uint64_t read = 0;
  bool eof = false;
  bool mismatch = false;
  std::uint64_t hash = 14695981039346656037ULL;
  explicit Flow(std::uint64_t seed, std::uint64_t bytes) : total(bytes), tx(seed), rx(seed) {}
};

}  // namespace

// The path model's time for the slower of the two directions (they run at once), and the
// budget a run is held to.
static void set_budget(const BulkOptions& o, BulkResult& r) {
  const LinkParams& back = o.reverse_link ? *o.reverse_link : o.link;
  std::uint32_t window = std::min(o.send_buffer, o.receive_buffer);
  if (!o.window_scale) window = std::min<std::uint32_t>(window, 65535);
  auto model = [&](std::uint64_t bytes, const LinkParams& fwd, const LinkParams& bwd,
                   bool slow_reader) {
    PathModelInput in;
    in.bytes = bytes;
    in.forward = fwd;
    in.backward = bwd;
    in.mss = o.mss;
    in.window = window;
    if (slow_reader) {
      in.read_chunk = o.read_chunk;
      in.read_pause = o.read_pause;
    }
    return model_transfer(in);
  };
  // The slow reader is the server's for the forward flow and the client's for the reverse one
  // (run_bulk's pump paces both the same way).
  PathModel forward = model(o.bytes, o.link, back, true);
  PathModel reverse = model(o.reverse_bytes, back, o.link, true);
  const PathModel& slower =
      o.reverse_bytes > 0 && reverse.transfer > forward.transfer ? reverse : forward;
  r.model_time = slower.transfer;
  r.model_bound = slower.bound;
  if (o.budget_factor <= 0) return;
  r.budget = std::chrono::duration_cast<Duration>(o.budget_factor * r.model_time) + o.budget_slack;
}

// A run that delivered everything later than its budget, or was stopped at it.
static void judge_budget(const BulkOptions& o, BulkResult& r, bool stopped_at_budget) {
  if (r.budget.count() == 0) return;
  if ((r.intact && r.transfer_time > r.budget) || stopped_at_budget) {
    r.too_slow = true;
    char buf[300];
    std::snprintf(
        buf, sizeof buf,
        "too slow: %s %.1f s against a budget of %.1f s (%.0fx the path model's %.2f s, "
        "bound by %s, + %.0f s); delivered %llu+%llu of %llu+%llu bytes",
        stopped_at_budget ? "stopped after" : "took",
        std::chrono::duration<double>(stopped_at_budget ? r.budget : r.transfer_time).count(),
        std::chrono::duration<double>(r.budget).count(), o.budget_factor,
        std::chrono::duration<double>(r.model_time).count(), r.model_bound,
        std::chrono::duration<double>(o.budget_slack).count(),
        static_cast<unsigned long long>(r.delivered),
        static_cast<unsigned long long>(r.reverse_delivered),
        static_cast<unsigned long long>(o.bytes), static_cast<unsigned long long>(o.reverse_bytes));
    r.failure = buf;
  }
}

BulkResult run_bulk(const BulkOptions& o) {
  SimOptions sim;
  sim.seed = o.seed;
  sim.link = o.link;
  sim.reverse_link = o.reverse_link;
  sim.record_ladder = false;
  if (!o.pcap.empty()) sim.pcap = o.pcap;
  sim.extra_trace = o.trace;
  for (int side = 0; side < 2; ++side) {
    StackConfig* c = side == 0 ? &sim.client_config : &sim.server_config;
    if (auto base = profiles::by_name(o.profile[side])) *c = *base;
    sim.offload[side] =
        OffloadOptions{.segmentation = o.gso_max_bytes > 0, .coalescing = o.coalesce};
    c->tcp.gso_max_bytes = o.gso_max_bytes;
    c->tcp.send_buffer = o.send_buffer;
    c->tcp.receive_buffer = o.receive_buffer;
    c->tcp.mss = o.mss;
    c->tcp.sack = o.sack;
    c->tcp.timestamps = o.timestamps;
    c->tcp.window_scale = o.window_scale;
    c->tcp.congestion = o.congestion;
    c->tcp.loss_detection = o.loss_detection;
    c->tcp.tail_loss_probe = o.tail_loss_probe;
    if (o.recovery_probe) c->tcp.recovery_probe = *o.recovery_probe;
    if (o.loss_probe_segments)
      c->tcp.loss_probe_segments = static_cast<std::uint8_t>(o.loss_probe_segments);
    if (o.loss_probes) c->tcp.loss_probes_per_episode = static_cast<std::uint8_t>(o.loss_probes);
    if (o.dsack) c->tcp.dsack = *o.dsack;
    c->tcp.frto = c->tcp.frto || o.frto;
  }
  SimPair pair(sim);
  BulkResult result;

  wire::Endpoint server_ep{pair.address(SimPair::kServer), 5001};
  ListenerId listener = *pair.server().listen(server_ep, pair.now());
  auto client = pair.client().connect(server_ep, pair.now());
  if (!client) {
    result.failure = "connect failed";
    return result;
  }
  ConnectionId ids[2] = {*client, 0};
  // flows[0]: client -> server; flows[1]: server -> client.
  Flow flows[2] = {Flow(o.seed * 7919 + 1, o.bytes), Flow(o.seed * 7919 + 2, o.reverse_bytes)};
  bool shut[2] = {false, false};
  bool closed_app[2] = {false, false};
  Instant next_read[2] = {};
  Instant last_byte{};
  std::vector<std::byte> buf(64 * 1024);
  std::vector<std::byte> expect(64 * 1024);

  // Runs both applications: write what fits, read what is there, close when done.
  auto pump = [&]() {
    Instant now = pair.now();
    if (!ids[1]) {
      if (auto a = pair.server().accept(listener)) ids[1] = *a;
    }
    for (int side = 0; side < 2; ++side) {
      ConnectionId id = ids[side];
      if (!id || closed_app[side]) continue;
      Stack& stack = pair.stack(side);
      Flow& out = flows[side];
      Flow& in = flows[1 - side];
      // Write.
      while (!shut[side] && (out.written < out.total || out.pending_offset < out.pending.size())) {
        if (out.pending_offset == out.pending.size()) {
          std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(64 * 1024, out.total - out.written));
          out.pending.resize(n);
          out.tx.fill(out.pending);
          out.pending_offset = 0;
          out.written += n;
        }
        auto r = stack.send(id, std::span(out.pending).subspan(out.pending_offset), now);
        if (!r || *r == 0) break;
        out.pending_offset += *r;
      }
      if (!shut[side] && out.written == out.total && out.pending_offset == out.pending.size()) {
        auto st = stack.state(id);
        if (st == State::Established || st == State::CloseWait) {
          (void)stack.shutdown_write(id, now);
          shut[side] = true;
        }
      }
      // Read.
      if (now >= next_read[side]) {
        std::uint32_t budget = o.read_chunk ? o.read_chunk : 0xffffffffu;
        while (budget > 0 && !in.eof) {
          std::size_t want = std::min<std::size_t>(buf.size(), budget);
          auto r = stack.receive(id, std::span(buf).first(want), now);
          if (!r) break;
          if (*r == 0) {
            in.eof = true;
            break;
          }
          budget -= static_cast<std::uint32_t>(*r);
          in.rx.fill(std::span(expect).first(*r));
          if (std::memcmp(buf.data(), expect.data(), *r) != 0) in.mismatch = true;
          for (std::size_t i = 0; i < *r; ++i)
            in.hash = (in.hash ^ static_cast<std::uint8_t>(buf[i])) * 1099511628211ULL;
          in.read += *r;
          last_byte = now;
        }
        if (o.read_pause > Duration{0} && o.read_chunk) next_read[side] = now + o.read_pause;
      }
      if (in.eof && shut[side]) {
        (void)stack.close(id, now);
        closed_app[side] = true;
      }
      // A connection that closed gracefully keeps its received data readable (the reader
      // may be slow); only a failed one is given up at once.
      auto st = stack.state(id);
      if (!closed_app[side] && (!st || *st == State::Closed)) {
        auto err = stack.connection_error(id);
        if (err || !st) {
          if (err && result.failure.empty())
            result.failure =
                std::string(side == 0 ? "client" : "server") + ": " + std::string(to_string(*err));
          (void)stack.close(id, now);
          closed_app[side] = true;
        } else if (in.eof) {
          (void)stack.close(id, now);
          closed_app[side] = true;
        }
      }
    }
    pair.flush();
    return closed_app[0] && closed_app[1] && pair.client().connection_count() == 0 &&
           pair.server().connection_count() == 0;
  };

  // Slow readers need a wake-up even when no packet arrives: step in small slices. A run
  // where nothing is in flight, no timer is pending and the applications made no progress
  // over a slice can never finish: it is hung, and stops at once rather than at the limit.
  // The run stops at its limit, or earlier at its time budget: past it, the seed fails anyway.
  set_budget(o, result);
  // The budget is for the transfer; closing afterwards gets TIME-WAIT (2 MSL) and a minute more.
  const Duration close_allowance = 2 * TcpConfig{}.msl + 60s;
  const bool budget_binds = result.budget.count() > 0 && result.budget + close_allowance < o.limit;
  Instant deadline = pair.now() + (budget_binds ? result.budget + close_allowance : o.limit);
  bool done = false;
  auto progress = [&] {
    return flows[0].read + flows[1].read + flows[0].written + flows[1].written +
           pair.net().counters().packets_sent;
  };
  const auto wall_start = std::chrono::steady_clock::now();
  auto wall_elapsed = [&] { return std::chrono::steady_clock::now() - wall_start; };
  while (!done && pair.now() < deadline) {
    Duration slice = o.read_pause > Duration{0} ? o.read_pause : Duration{1s};
    std::uint64_t before = progress();
    done = pair.run_until(pump, slice);
    if (!done) done = pump();
    if (auto at = pair.net().livelocked()) {
      result.livelock = true;
      result.failure = "livelock at t=" + std::to_string((*at - Instant{}).count()) +
                       " us: the virtual clock stood still while packets kept flowing";
      break;
    }
    if (!done && o.wall_limit.count() > 0 && wall_elapsed() > o.wall_limit) {
      result.watchdog = true;
      result.failure =
          "watchdog: still running after " + std::to_string(o.wall_limit.count()) +
          " ms of real time, at t=" + std::to_string((pair.now() - Instant{}).count()) + " us";
      break;
    }
    if (!done && progress() == before && !pair.net().next_event_time()) break;
  }
  result.wall_seconds = std::chrono::duration<double>(wall_elapsed()).count();
  result.hung = !done;
  result.delivered = flows[0].read;
  result.reverse_delivered = flows[1].read;
  result.hash = flows[0].hash;
  result.intact = !flows[0].mismatch && !flows[1].mismatch && flows[0].read == o.bytes &&
                  flows[1].read == o.reverse_bytes && flows[0].eof &&
                  (o.reverse_bytes == 0 || flows[1].eof);
  if (flows[0].mismatch || flows[1].mismatch) result.failure = "data mismatch";
  if (result.hung && result.failure.empty()) result.failure = "hung";
  for (int side = 0; side < 2; ++side) {
    const Counters& c = pair.stack(side).counters();
    result.retransmissions += c.tcp_retransmitted_segments;
    result.fast_retransmits += c.tcp_fast_retransmits;
    result.rto_expirations += c.tcp_rto_expirations;
    result.undos += c.tcp_undos;
    result.sack_recovered_bytes += c.tcp_sack_recovered_bytes;
    result.corrupted_dropped +=
        c.drop_parse_tcp_checksum + c.drop_malformed - c.drop_parse_tcp_checksum;
    if (const OffloadHost* device = pair.device(side)) {
      result.bursts_cut += device->bursts_cut();
      result.segments_coalesced += device->coalesced().merged;
    }
    result.final_state[side] = State::Closed;
    for (const auto& info : pair.stack(side).connections())
      result.final_state[side] = info.status.state;
  }
  result.packets = pair.net().counters().packets_sent;
  result.transfer_time = last_byte - Instant{};
  result.total_time = pair.now() - Instant{};
  // Stopped at the deadline before the last byte arrived: too slow (a run that delivered
  // everything but did not close in time stays "hung").
  const bool all_delivered = flows[0].read == o.bytes && flows[1].read == o.reverse_bytes;
  judge_budget(o, result,
               budget_binds && !done && !result.livelock && !result.watchdog &&
                   pair.now() >= deadline && !all_delivered);
  double seconds = std::chrono::duration<double>(result.transfer_time).count();
  if (seconds > 0)
    result.goodput_bps =
        static_cast<double>(result.delivered + result.reverse_delivered) * 8 / seconds;
  return result;
}

namespace {

// Seconds and Mbit/s to a fixed number of decimals, as the text output prints them.
double rounded(double value, double scale) { return std::round(value * scale) / scale; }

}  // namespace

std::string bulk_json(const BulkOptions& o, const BulkResult& r) {
  auto seconds = [](auto duration) { return std::chrono::duration<double>(duration).count(); };
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(r.hash));
  nlohmann::ordered_json j;
  j["bytes"] = o.bytes;
  j["bytes_delivered"] = r.delivered;
  j["intact"] = r.intact;
  j["hash"] = hash;
  j["retransmissions"] = r.retransmissions;
  j["fast_retransmits"] = r.fast_retransmits;
  j["rto_expirations"] = r.rto_expirations;
  j["undos"] = r.undos;
  j["sack_recovered_bytes"] = r.sack_recovered_bytes;
  j["corrupted_dropped"] = r.corrupted_dropped;
  j["packets"] = r.packets;
  j["bursts_cut"] = r.bursts_cut;
  j["segments_coalesced"] = r.segments_coalesced;
  j["virtual_seconds"] = rounded(seconds(r.transfer_time), 1e6);
  j["goodput_mbit"] = rounded(r.goodput_bps / 1e6, 1e3);
  j["final_states"] = {std::string(to_string(r.final_state[0])),
                       std::string(to_string(r.final_state[1]))};
  j["seed"] = o.seed;
  j["hung"] = r.hung;
  j["livelock"] = r.livelock;
  j["too_slow"] = r.too_slow;
  j["model_seconds"] = rounded(seconds(r.model_time), 1e3);
  j["model_bound"] = r.model_bound;
  j["budget_seconds"] = rounded(seconds(r.budget), 1e3);
  j["failure"] = r.failure;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace synack::sim
