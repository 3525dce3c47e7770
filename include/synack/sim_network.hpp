// SPDX-License-Identifier: MIT
// A deterministic discrete-event network that joins NetworkHost objects in virtual time.
//
// Packets a host emits are routed by destination IP address to the host that owns it, pass
// through a per-direction link (FIFO queue at a bit rate, propagation delay, jitter) and seeded
// faults (loss, duplication, reordering, corruption), and are handed to the receiver at their
// arrival instant. Time jumps from event to event; nothing sleeps, nothing reads a clock.
//
// Determinism: every random choice for a packet is drawn from a generator keyed by (seed,
// packet index), so the same seed and the same host behaviour give the same fates, times and
// bytes, whatever the drop filter or the queue decided about other packets. Ties are broken
// without pointers: at equal times packet arrivals come first, in the order they were sent;
// then host timers, lowest HostId first.
//
// Public API of libsynack-link (synack::link); see examples/sim_network.cpp. A function whose
// comment names no error cannot fail (beyond std::bad_alloc). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "synack/address.hpp"
#include "synack/host.hpp"
#include "synack/pcap.hpp"
#include "synack/time.hpp"

namespace synack::sim {

using HostId = std::size_t;

// One direction of a link. Faults are independent per packet; probabilities are in [0, 1].
struct LinkParams {
  Duration delay{1ms};         // propagation delay
  Duration jitter{0};          // extra delay, uniform in [0, jitter]; may reorder (like netem)
  double loss = 0;             // probability the packet is dropped on the wire
  double duplicate = 0;        // probability a second copy is delivered too
  double reorder = 0;          // probability the packet is held back by reorder_extra_delay
  double corrupt = 0;          // probability one random bit of the packet is flipped
  std::uint64_t rate_bps = 0;  // serialization rate in bit/s; 0 = unlimited (no queue)
  std::size_t queue_bytes = 1 << 20;  // FIFO limit when rate_bps > 0; tail drop beyond it
  Duration reorder_extra_delay{10ms};
};

// What a drop filter sees: a routed packet, as the sending host emitted it.
struct PacketInfo {
  std::uint64_t index = 0;  // 0-based count of packets sent through the network so far
  Instant time{};           // send time
  HostId from = 0;
  HostId to = 0;
  std::span<const std::byte> bytes{};  // valid during the call only
};

enum class Fate : std::uint8_t {
  Delivered,     // will arrive intact at arrives_at
  Lost,          // random loss
  ScriptedDrop,  // the drop filter returned true
  QueueDrop,     // the link's queue was full (tail drop)
  Duplicated,    // the extra copy of a duplicated packet (the original has its own event)
  Corrupted,     // will arrive at arrives_at with one bit flipped
  Unroutable,    // no host owns the destination address (or it is not IPv4/IPv6)
};
const char* to_string(Fate fate);  // "delivered", "lost", ...; cannot fail

// Reported once per copy put on the wire, at send time (so arrives_at is a prediction that
// always comes true: nothing cancels a packet in flight).
struct PacketEvent {
  std::uint64_t index = 0;  // the PacketInfo index; a duplicate shares its original's index
  Instant sent_at{};
  std::optional<Instant> arrives_at{};  // nullopt when the packet is dropped
  HostId from = 0;
  std::optional<HostId> to{};          // nullopt when Unroutable
  std::span<const std::byte> bytes{};  // as the host sent them (uncorrupted); valid during the call
  Fate fate = Fate::Delivered;
  bool reordered = false;                      // held back by reorder_extra_delay
  std::optional<std::size_t> corrupted_bit{};  // bit index flipped (Corrupted only)
};

struct SimCounters {
  std::uint64_t packets_sent = 0;  // packets taken from hosts
  std::uint64_t delivered = 0;     // copies handed to a receiving host (incl. dups, corrupted)
  std::uint64_t lost = 0;
  std::uint64_t scripted_drops = 0;
  std::uint64_t duplicated = 0;  // extra copies created
  std::uint64_t corrupted = 0;
  std::uint64_t reordered = 0;
  std::uint64_t queue_drops = 0;
  std::uint64_t unroutable = 0;
  std::uint64_t timer_calls = 0;       // on_timer invocations
  std::uint64_t timer_stalls = 0;      // on_timer left the deadline <= now too often (see step())
  std::uint64_t event_limit_hits = 0;  // run_* calls cut short by the per-run event limit
  std::uint64_t livelocks = 0;         // the clock stood still while packets kept flowing
};

class SimNetwork {
 public:
  explicit SimNetwork(std::uint64_t seed);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Joins `host` (which must outlive the network) owning `addresses`. HostIds count from 0.
  // Errors: throws std::invalid_argument (and adds nothing) if an address already belongs to
  // another host — a mistake in the program's set-up, not a condition to handle.
  HostId add_host(NetworkHost& host, std::vector<wire::IpAddress> addresses, std::string name);
  // Errors: throws std::out_of_range for an id add_host() did not return.
  const std::string& host_name(HostId id) const { return hosts_.at(id).name; }
  std::size_t host_count() const { return hosts_.size(); }
  // The host owning `address`; nullopt (not an error) when none does.
  std::optional<HostId> host_for(const wire::IpAddress& address) const;

  // Link parameters, per direction. set_link overrides the default for from -> to only.
  // Changes apply to packets sent afterwards. Cannot fail: ids are not checked (a link between
  // ids no host has is never used), probabilities outside [0, 1] act as 0 or 1; link() returns
  // the default for a pair never set.
  void set_default_link(const LinkParams& params) { default_link_ = params; }
  void set_link(HostId from, HostId to, const LinkParams& params);
  const LinkParams& link(HostId from, HostId to) const;

  // Scripted drops: called for every routed packet before any other fate; true drops it.
  // An empty function removes the filter. Cannot fail.
  void set_drop_filter(std::function<bool(const PacketInfo&)> filter) {
    drop_filter_ = std::move(filter);
  }
  // Called for every copy of every packet put on the wire (see PacketEvent). Cannot fail.
  void set_observer(std::function<void(const PacketEvent&)> observer) {
    observer_ = std::move(observer);
  }

  // Writes every packet as a host sent it, before any fault (so a capture never shows a
  // corrupted checksum), stamped with its send time; replaces a previous capture. Errors:
  // false, and *error (if non-null) filled with libpcap's message, when the file cannot be
  // created (the previous capture, if any, goes on). Records are flushed at the end of every
  // run_* call and by stop_capture(), which cannot fail.
  bool capture_to(const std::string& path, std::string* error = nullptr);
  void stop_capture();

  Instant now() const { return now_; }

  // Processes the earliest event, advancing virtual time to it (never backwards): either
  // delivers one packet to its host or runs one host's on_timer, then moves every packet that
  // host produced onto the network. A host whose deadline is still <= now after
  // kMaxTimerCallsPerInstant calls at the same instant is counted in timer_stalls and not
  // called again before an exponentially growing back-off, so a buggy host cannot spin forever.
  // Returns false (doing nothing) when there is no packet in flight and no deadline, or after
  // a livelock (see below). Errors: none; a host's exception passes through.
  bool step();
  // Runs every event due at or before `t`, then sets now() to max(now(), t). Errors: none (the
  // event limit and livelocks are counted, not returned; see counters()).
  void run_until(Instant t);
  // Runs events until done() holds or the next event lies past `limit` (now() then becomes
  // `limit`). Returns whether done() became true; done() is checked before the first event.
  bool run_until(const std::function<bool()>& done, Instant limit);
  void run_for(Duration d) { run_until(now_ + d); }
  // Each run_* call processes at most this many events (default 50 million), then stops and
  // counts event_limit_hits: the guard against hosts that ping-pong over zero-delay links.
  void set_max_events_per_run(std::uint64_t limit) { max_events_per_run_ = limit; }
  // Livelock: more than this many packets delivered without the virtual clock advancing (two
  // hosts answering each other at once, for ever). The network then stops running events —
  // every run_* returns at once — and livelocked() says when it happened.
  void set_max_packets_per_instant(std::uint64_t limit) { max_packets_per_instant_ = limit; }
  std::optional<Instant> livelocked() const { return livelocked_at_; }

  // Collects packets hosts produced outside step() (the application called connect() or send()
  // directly) and sends them at now(). run_* and step() do not look for such packets on their
  // own, so call this after poking a host from outside.
  void flush_outputs();
  void poke() { flush_outputs(); }

  // Earliest pending event (arrival or effective host deadline); nullopt when idle.
  std::optional<Instant> next_event_time() const;
  std::size_t packets_in_flight() const { return in_flight_.size(); }
  const SimCounters& counters() const { return counters_; }

  static constexpr int kMaxTimerCallsPerInstant = 16;
  // Packets handed to one host as one batch at most (deliver_next()).
  static constexpr std::size_t kMaxBatch = 64;

 private:
  struct Host {
    NetworkHost* host = nullptr;
    std::string name{};
    std::vector<wire::IpAddress> addresses{};
    // Stall guard (see step()).
    std::optional<Instant> not_before{};
    Instant last_timer_instant{};
    int timer_calls_at_instant = 0;
    Duration stall_backoff{0};
  };
  struct LinkState {
    // Serialization (only with rate_bps > 0): (time the last bit leaves, size) of each packet
    // not yet fully transmitted, and their total size.
    std::deque<std::pair<Instant, std::size_t>> queue;
    std::size_t queued_bytes = 0;
    Instant busy_until{};
    // Remainder of bits * 1e6 / rate not yet turned into whole microseconds, carried over so a
    // stream of packets takes exactly total_bits / rate (rounded down) while the link is busy.
    std::uint64_t carry = 0;
  };
  struct Arrival {
    Instant at;
    std::uint64_t sequence;
    HostId to;
    std::vector<std::byte> bytes;
  };

  void send(HostId from, std::span<const std::byte> packet);
  void drain(HostId id);
  void schedule(Instant at, HostId to, std::vector<std::byte> bytes);
  void deliver_next();
  void run_timer(HostId id);
  std::optional<Instant> effective_deadline(const Host& host) const;
  void report(const PacketEvent& event) const;
  void flush_capture();

  std::uint64_t seed_;
  Instant now_{};
  std::vector<Host> hosts_;
  std::map<wire::IpAddress, HostId> routes_;
  LinkParams default_link_;
  std::map<std::pair<HostId, HostId>, LinkParams> links_;
  std::map<std::pair<HostId, HostId>, LinkState> link_states_;
  std::vector<Arrival> in_flight_;  // a min-heap on (at, sequence)
  std::uint64_t next_sequence_ = 0;
  std::uint64_t next_index_ = 0;
  std::function<bool(const PacketInfo&)> drop_filter_;
  std::function<void(const PacketEvent&)> observer_;
  std::unique_ptr<capture::PcapWriter> capture_;
  std::vector<std::byte> scratch_;  // reused by drain()
  SimCounters counters_;
  std::uint64_t max_events_per_run_ = 50'000'000;
  std::uint64_t max_packets_per_instant_ = 100'000;
  Instant delivery_instant_{};
  std::uint64_t deliveries_at_instant_ = 0;
  std::optional<Instant> livelocked_at_;
};

}  // namespace synack::sim
