// SPDX-License-Identifier: MIT
#include "sim/chaos.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "synack/random.hpp"

namespace synack::sim {
namespace {

double uniform(SeededRandom& r, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(r.next_u64() >> 11) / static_cast<double>(1ULL << 53);
}

std::uint64_t pick(SeededRandom& r, std::uint64_t lo, std::uint64_t hi) {
  return lo + r.next_u64() % (hi - lo + 1);
}

}  // namespace

BulkOptions chaos_options(std::uint64_t seed) {
  // Hash the seed first: SplitMix64 streams from neighbouring raw seeds overlap (seed n's
  // second draw would be seed n+1's first).
  SeededRandom r(SeededRandom(seed ^ 0x5eed5eed5eed5eedULL).next_u64());
  BulkOptions o;
  o.seed = seed;
  // Faults: each present with probability 1/2; loss up to 20 % each way.
  o.link.loss = r.next_u64() % 2 ? uniform(r, 0, 0.20) : 0;
  o.link.reorder = r.next_u64() % 2 ? uniform(r, 0, 0.20) : 0;
  o.link.duplicate = r.next_u64() % 2 ? uniform(r, 0, 0.10) : 0;
  o.link.corrupt = r.next_u64() % 2 ? uniform(r, 0, 0.10) : 0;
  o.link.delay = std::chrono::microseconds(pick(r, 100, 50'000));
  o.link.jitter =
      r.next_u64() % 4 == 0 ? std::chrono::microseconds(pick(r, 0, 5'000)) : Duration{0};
  if (r.next_u64() % 3 == 0) {
    o.link.rate_bps = pick(r, 1'000'000, 1'000'000'000);
    o.link.queue_bytes = pick(r, 16 * 1024, 512 * 1024);
  }
  // Buffers from tiny (a few segments: windows close all the time) to large.
  static constexpr std::uint32_t kBuffers[] = {2048, 4096, 8192, 65536, 262144};
  o.send_buffer = kBuffers[r.next_u64() % 5];
  o.receive_buffer = kBuffers[r.next_u64() % 5];
  o.mss = static_cast<std::uint16_t>(r.next_u64() % 4 == 0 ? pick(r, 200, 1460) : 1460);
  // A slow reader makes zero windows and window probes.
  if (r.next_u64() % 3 == 0) {
    o.read_chunk = static_cast<std::uint32_t>(pick(r, 1, 4096));
    o.read_pause = std::chrono::microseconds(pick(r, 1'000, 100'000));
  }
  o.sack = r.next_u64() % 4 != 0;
  o.timestamps = r.next_u64() % 4 != 0;
  o.window_scale = r.next_u64() % 4 != 0;
  o.congestion = r.next_u64() % 2 ? CongestionAlgorithm::Cubic : CongestionAlgorithm::NewReno;
  // Most transfers are small (many seeds, many handshakes and closes); one in eight moves up to
  // 4 MiB each way, long enough for congestion control and recovery to matter.
  const std::uint64_t most = r.next_u64() % 8 == 0 ? 4 << 20 : 256 * 1024;
  o.bytes = pick(r, 0, most);
  o.reverse_bytes = r.next_u64() % 2 ? pick(r, 0, most) : 0;
  if (o.read_chunk > 0) {
    // A slow reader bounds the transfer at read_chunk per read_pause: keep what it must read
    // within two minutes of reading (3 bytes every 50 ms would take a day for 4 MiB).
    const double per_second = o.read_chunk / std::chrono::duration<double>(o.read_pause).count();
    const auto cap = static_cast<std::uint64_t>(per_second * 120);
    o.bytes = std::min(o.bytes, cap);
    o.reverse_bytes = std::min(o.reverse_bytes, cap);
  }
  // One in eight: one direction much worse than the other (up to 30 % loss one way).
  if (r.next_u64() % 8 == 0) {
    LinkParams worse = o.link;
    worse.loss = uniform(r, 0.20, 0.30);
    if (r.next_u64() % 2) {
      o.reverse_link = worse;  // server -> client
    } else {
      o.reverse_link = o.link;
      o.link = worse;  // client -> server (set_default_link; the reverse keeps the milder one)
    }
  }
  // Drawn last, so that the dimensions above keep each seed's values from before these
  // existed. TCP choices users make: BBR next to CUBIC and NewReno, RFC 6675 loss detection
  // instead of RACK, D-SACK, F-RTO, no tail loss probe, Linux's profile at either end; and the
  // packet shapes of a real device: bursts cut by segmentation offload, receive coalescing.
  if (r.next_u64() % 4 == 0) o.congestion = CongestionAlgorithm::Bbr;
  if (r.next_u64() % 8 == 0) o.loss_detection = LossDetection::DupThresh;
  o.dsack = r.next_u64() % 2 == 0;  // on or off at both ends, whatever their profiles
  o.frto = r.next_u64() % 4 == 0;
  if (r.next_u64() % 8 == 0) o.tail_loss_probe = false;
  for (auto& profile : o.profile) profile = r.next_u64() % 4 == 0 ? "linux" : "rfc";
  if (r.next_u64() % 4 == 0) o.gso_max_bytes = 65000;
  o.coalesce = r.next_u64() % 4 == 0;
  o.limit = 6 * 3600s;
  // Every seed has a time budget from its path (sim/path_model.hpp) and a real-time watchdog.
  o.budget_factor = kChaosBudgetFactor;
  o.wall_limit = std::chrono::seconds(60);
  return o;
}

std::string describe_chaos(const BulkOptions& o) {
  char buf[800];
  std::snprintf(
      buf, sizeof buf,
      "seed %llu: %llu+%llu bytes, loss %.3f reorder %.3f dup %.3f corrupt %.3f, "
      "delay %lld us jitter %lld us, rate %llu bit/s, sndbuf %u rcvbuf %u mss %u, read %u every "
      "%lld us, sack %d ts %d ws %d %s%s, %s dsack %d frto %d tlp %d, profiles %s/%s, gso %u gro "
      "%d",
      static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(o.bytes),
      static_cast<unsigned long long>(o.reverse_bytes), o.link.loss, o.link.reorder,
      o.link.duplicate, o.link.corrupt, static_cast<long long>(o.link.delay.count()),
      static_cast<long long>(o.link.jitter.count()),
      static_cast<unsigned long long>(o.link.rate_bps), o.send_buffer, o.receive_buffer, o.mss,
      o.read_chunk, static_cast<long long>(o.read_pause.count()), o.sack, o.timestamps,
      o.window_scale, congestion_name(o.congestion).data(),
      o.reverse_link ? (", reverse loss " + std::to_string(o.reverse_link->loss)).c_str() : "",
      o.loss_detection == LossDetection::Rack ? "rack" : "dupthresh",
      static_cast<int>(o.dsack.value_or(true)), o.frto, o.tail_loss_probe, o.profile[0].c_str(),
      o.profile[1].c_str(), o.gso_max_bytes, o.coalesce);
  return buf;
}

}  // namespace synack::sim
