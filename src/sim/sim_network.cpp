// SPDX-License-Identifier: MIT
#include "synack/sim_network.hpp"

#include <algorithm>
#include <stdexcept>

#include "synack/random.hpp"

namespace synack::sim {
using namespace synack::capture;

namespace {

// IPv4 (RFC 791): version nibble 4, destination at bytes 16..19 of a header of >= 20 bytes.
// IPv6 (RFC 8200): version nibble 6, destination at bytes 24..39 of the 40-byte header.
// Routing reads only these bytes, not a full parse: a packet is routed the same way whether or
// not its checksums are right, and the receiver's parser decides what to do with it.
constexpr std::size_t kIpv4DestinationOffset = 16;
constexpr std::size_t kIpv4MinHeaderSize = 20;
constexpr std::size_t kIpv6DestinationOffset = 24;
constexpr std::size_t kIpv6HeaderSize = 40;

std::optional<wire::IpAddress> destination_address(std::span<const std::byte> packet) {
  if (packet.empty()) return std::nullopt;
  const auto version = std::to_integer<unsigned>(packet[0]) >> 4;
  wire::IpAddress address;
  if (version == 4 && packet.size() >= kIpv4MinHeaderSize) {
    address.family = wire::IpAddress::Family::V4;
    for (std::size_t i = 0; i < 4; ++i) {
      address.bytes[i] = std::to_integer<std::uint8_t>(packet[kIpv4DestinationOffset + i]);
    }
    return address;
  }
  if (version == 6 && packet.size() >= kIpv6HeaderSize) {
    address.family = wire::IpAddress::Family::V6;
    for (std::size_t i = 0; i < 16; ++i) {
      address.bytes[i] = std::to_integer<std::uint8_t>(packet[kIpv6DestinationOffset + i]);
    }
    return address;
  }
  return std::nullopt;
}

// The SplitMix64 finalizer: turns (seed, packet index) into an unrelated generator state, so
// neighbouring packets do not share draws.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) from the top 53 bits; portable, unlike std::uniform_real_distribution.
double unit_interval(std::uint64_t draw) { return static_cast<double>(draw >> 11) * 0x1.0p-53; }

Duration uniform_up_to(Duration max, std::uint64_t draw) {
  if (max <= Duration::zero()) return Duration::zero();
  const auto span = static_cast<std::uint64_t>(max.count()) + 1;
  return Duration{static_cast<Duration::rep>(draw % span)};
}

// Min-heap order on (arrival time, send sequence) for std::push_heap / std::pop_heap.
template <typename Arrival>
bool later(const Arrival& a, const Arrival& b) {
  if (a.at != b.at) return a.at > b.at;
  return a.sequence > b.sequence;
}

constexpr Duration kMaxStallBackoff = 1s;

}  // namespace

const char* to_string(Fate fate) {
  switch (fate) {
    case Fate::Delivered:
      return "delivered";
    case Fate::Lost:
      return "lost";
    case Fate::ScriptedDrop:
      return "scripted-drop";
    case Fate::QueueDrop:
      return "queue-drop";
    case Fate::Duplicated:
      return "duplicated";
    case Fate::Corrupted:
      return "corrupted";
    case Fate::Unroutable:
      return "unroutable";
  }
  return "?";
}

SimNetwork::SimNetwork(std::uint64_t seed) : seed_(seed) {}

SimNetwork::~SimNetwork() = default;

HostId SimNetwork::add_host(NetworkHost& host, std::vector<wire::IpAddress> addresses,
                            std::string name) {
  for (const auto& address : addresses) {
    if (routes_.contains(address)) {
      throw std::invalid_argument("SimNetwork::add_host: an address of " + name +
                                  " already belongs to " + hosts_[routes_.at(address)].name);
    }
  }
  const HostId id = hosts_.size();
  for (const auto& address : addresses) routes_.emplace(address, id);
  hosts_.push_back(Host{.host = &host, .name = std::move(name), .addresses = std::move(addresses)});
  return id;
}

std::optional<HostId> SimNetwork::host_for(const wire::IpAddress& address) const {
  auto it = routes_.find(address);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

void SimNetwork::set_link(HostId from, HostId to, const LinkParams& params) {
  links_[{from, to}] = params;
}

const LinkParams& SimNetwork::link(HostId from, HostId to) const {
  auto it = links_.find({from, to});
  return it == links_.end() ? default_link_ : it->second;
}

bool SimNetwork::capture_to(const std::string& path, std::string* error) {
  auto writer = PcapWriter::open(path, error);
  if (!writer) return false;
  capture_ = std::move(writer);
  return true;
}

void SimNetwork::stop_capture() { capture_.reset(); }

void SimNetwork::flush_capture() {
  if (capture_) capture_->flush();
}

void SimNetwork::report(const PacketEvent& event) const {
  if (observer_) observer_(event);
}

void SimNetwork::send(HostId from, std::span<const std::byte> packet) {
  const std::uint64_t index = next_index_++;
  ++counters_.packets_sent;
  if (capture_) capture_->write(packet, now_);

  PacketEvent event{.index = index, .sent_at = now_, .from = from, .bytes = packet};

  const auto destination = destination_address(packet);
  const auto to = destination ? host_for(*destination) : std::nullopt;
  if (!to) {
    ++counters_.unroutable;
    event.fate = Fate::Unroutable;
    report(event);
    return;
  }
  event.to = *to;

  if (drop_filter_ &&
      drop_filter_(
          PacketInfo{.index = index, .time = now_, .from = from, .to = *to, .bytes = packet})) {
    ++counters_.scripted_drops;
    event.fate = Fate::ScriptedDrop;
    report(event);
    return;
  }

  const LinkParams& params = link(from, *to);

  // Every packet draws the same values in the same order, whether it needs them or not, from
  // its own generator: one packet's fate never shifts another's.
  SeededRandom random(mix64(seed_ + mix64(index)));
  const double loss_draw = unit_interval(random.next_u64());
  const double duplicate_draw = unit_interval(random.next_u64());
  const double reorder_draw = unit_interval(random.next_u64());
  const double corrupt_draw = unit_interval(random.next_u64());
  const std::uint64_t jitter_draw = random.next_u64();
  const std::uint64_t duplicate_jitter_draw = random.next_u64();
  const std::uint64_t corrupt_bit_draw = random.next_u64();

  // Serialization: a FIFO transmitter at rate_bps. The packet's last bit leaves at `departure`.
  Instant departure = now_;
  if (params.rate_bps > 0) {
    LinkState& state = link_states_[{from, *to}];
    while (!state.queue.empty() && state.queue.front().first <= now_) {
      state.queued_bytes -= state.queue.front().second;
      state.queue.pop_front();
    }
    if (state.queued_bytes + packet.size() > params.queue_bytes) {
      ++counters_.queue_drops;
      event.fate = Fate::QueueDrop;
      report(event);
      return;
    }
    Instant start = now_;
    if (state.busy_until > now_) {
      start = state.busy_until;
    } else {
      state.carry = 0;  // the link went idle: no fraction of a microsecond is owed
    }
    const std::uint64_t scaled = packet.size() * 8 * 1'000'000 + state.carry;
    const auto transmit_us = scaled / params.rate_bps;
    state.carry = scaled % params.rate_bps;
    departure = start + Duration{static_cast<Duration::rep>(transmit_us)};
    state.busy_until = departure;
    state.queue.emplace_back(departure, packet.size());
    state.queued_bytes += packet.size();
  }

  if (loss_draw < params.loss) {
    ++counters_.lost;
    event.fate = Fate::Lost;
    report(event);
    return;
  }

  const Instant base_arrival = departure + params.delay;
  Instant arrival = base_arrival + uniform_up_to(params.jitter, jitter_draw);
  if (reorder_draw < params.reorder) {
    ++counters_.reordered;
    event.reordered = true;
    arrival += params.reorder_extra_delay;
  }

  std::vector<std::byte> bytes(packet.begin(), packet.end());
  event.fate = Fate::Delivered;
  if (corrupt_draw < params.corrupt && !bytes.empty()) {
    const std::size_t bit = corrupt_bit_draw % (bytes.size() * 8);
    bytes[bit / 8] ^= std::byte{static_cast<std::uint8_t>(0x80u >> (bit % 8))};
    ++counters_.corrupted;
    event.fate = Fate::Corrupted;
    event.corrupted_bit = bit;
  }
  event.arrives_at = arrival;
  report(event);
  schedule(arrival, *to, std::move(bytes));

  if (duplicate_draw < params.duplicate) {
    // The extra copy is a clean copy of what was sent, with its own jitter and no reordering.
    ++counters_.duplicated;
    const Instant copy_arrival = base_arrival + uniform_up_to(params.jitter, duplicate_jitter_draw);
    PacketEvent copy{.index = index,
                     .sent_at = now_,
                     .arrives_at = copy_arrival,
                     .from = from,
                     .to = *to,
                     .bytes = packet,
                     .fate = Fate::Duplicated};
    report(copy);
    schedule(copy_arrival, *to, std::vector<std::byte>(packet.begin(), packet.end()));
  }
}

void SimNetwork::schedule(Instant at, HostId to, std::vector<std::byte> bytes) {
  in_flight_.push_back(
      Arrival{.at = at, .sequence = next_sequence_++, .to = to, .bytes = std::move(bytes)});
  std::push_heap(in_flight_.begin(), in_flight_.end(), later<Arrival>);
}

void SimNetwork::drain(HostId id) {
  NetworkHost& host = *hosts_[id].host;
  while (host.pop_packet(scratch_)) send(id, scratch_);
}

void SimNetwork::flush_outputs() {
  for (HostId id = 0; id < hosts_.size(); ++id) drain(id);
}

std::optional<Instant> SimNetwork::effective_deadline(const Host& host) const {
  auto deadline = host.host->next_deadline();
  if (deadline && host.not_before) deadline = std::max(*deadline, *host.not_before);
  return deadline;
}

std::optional<Instant> SimNetwork::next_event_time() const {
  std::optional<Instant> next;
  if (!in_flight_.empty()) next = in_flight_.front().at;
  for (const Host& host : hosts_) {
    const auto deadline = effective_deadline(host);
    if (deadline && (!next || *deadline < *next)) next = deadline;
  }
  return next;
}

void SimNetwork::deliver_next() {
  std::pop_heap(in_flight_.begin(), in_flight_.end(), later<Arrival>);
  Arrival arrival = std::move(in_flight_.back());
  in_flight_.pop_back();
  now_ = std::max(now_, arrival.at);
  ++counters_.delivered;
  NetworkHost& host = *hosts_[arrival.to].host;
  // The packets that reach one host at one instant are one batch, as a TUN read hands them to
  // the event loop (NetworkHost::begin_batch; TcpConfig::batch_output), up to as many as one
  // read takes (os::EventLoop::Options::read_batch).
  host.begin_batch();
  host.receive_packet(arrival.bytes, now_);
  for (std::size_t n = 1;
       n < kMaxBatch && !in_flight_.empty() && in_flight_.front().at <= now_ &&
       in_flight_.front().to == arrival.to && deliveries_at_instant_ < max_packets_per_instant_;
       ++n) {
    std::pop_heap(in_flight_.begin(), in_flight_.end(), later<Arrival>);
    Arrival next = std::move(in_flight_.back());
    in_flight_.pop_back();
    ++counters_.delivered;
    ++deliveries_at_instant_;
    host.receive_packet(next.bytes, now_);
  }
  host.end_batch(now_);
  drain(arrival.to);
}

void SimNetwork::run_timer(HostId id) {
  Host& host = hosts_[id];
  if (host.last_timer_instant != now_) {
    host.last_timer_instant = now_;
    host.timer_calls_at_instant = 0;
  }
  ++host.timer_calls_at_instant;
  ++counters_.timer_calls;
  host.host->on_timer(now_);
  drain(id);

  const auto deadline = host.host->next_deadline();
  if (!deadline || *deadline > now_) {
    host.not_before.reset();
    host.stall_backoff = Duration::zero();
  } else if (host.timer_calls_at_instant >= kMaxTimerCallsPerInstant) {
    // The host keeps asking to run now but on_timer does not move its deadline: a bug in the
    // host. Count it and hold it back, doubling the wait each time, so virtual time advances.
    ++counters_.timer_stalls;
    host.stall_backoff = host.stall_backoff == Duration::zero()
                             ? Duration{1}
                             : std::min(host.stall_backoff * 2, kMaxStallBackoff);
    host.not_before = now_ + host.stall_backoff;
  }
}

bool SimNetwork::step() {
  if (livelocked_at_) return false;
  flush_outputs();
  std::optional<Instant> timer_at;
  HostId timer_host = 0;
  for (HostId id = 0; id < hosts_.size(); ++id) {
    const auto deadline = effective_deadline(hosts_[id]);
    if (deadline && (!timer_at || *deadline < *timer_at)) {
      timer_at = deadline;
      timer_host = id;
    }
  }
  // At equal times, packets already in flight are delivered before timers run.
  if (!in_flight_.empty() && (!timer_at || in_flight_.front().at <= *timer_at)) {
    // Livelock guard: packets delivered while the clock stands still.
    if (in_flight_.front().at != delivery_instant_) {
      delivery_instant_ = in_flight_.front().at;
      deliveries_at_instant_ = 0;
    }
    if (++deliveries_at_instant_ > max_packets_per_instant_) {
      livelocked_at_ = now_;
      ++counters_.livelocks;
      return false;
    }
    deliver_next();
    return true;
  }
  if (timer_at) {
    now_ = std::max(now_, *timer_at);
    run_timer(timer_host);
    return true;
  }
  return false;
}

void SimNetwork::run_until(Instant t) {
  flush_outputs();
  std::uint64_t events = 0;
  bool cut_short = false;
  for (;;) {
    const auto next = next_event_time();
    if (livelocked_at_) {
      cut_short = true;
      break;
    }
    if (!next || *next > t) break;
    if (events++ >= max_events_per_run_) {
      ++counters_.event_limit_hits;
      cut_short = true;
      break;
    }
    step();
  }
  // When cut short, events due before t remain; jumping to t would run them late.
  if (!cut_short) now_ = std::max(now_, t);
  flush_capture();
}

bool SimNetwork::run_until(const std::function<bool()>& done, Instant limit) {
  flush_outputs();
  std::uint64_t events = 0;
  bool result = false;
  for (;;) {
    if (done()) {
      result = true;
      break;
    }
    if (livelocked_at_) break;
    const auto next = next_event_time();
    if (!next || *next > limit) {
      now_ = std::max(now_, limit);
      result = done();
      break;
    }
    if (events++ >= max_events_per_run_) {
      ++counters_.event_limit_hits;
      break;
    }
    step();
  }
  flush_capture();
  return result;
}

}  // namespace synack::sim
