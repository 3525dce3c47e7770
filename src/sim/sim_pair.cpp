// SPDX-License-Identifier: MIT
#include "sim/sim_pair.hpp"

#include "wire/packet.hpp"

namespace synack::sim {
using namespace synack::observe;

// Forwards a stack's transitions to the ladder (and to an extra sink, if any).
class SimPair::Recorder final : public TraceSink {
 public:
  Recorder(SimPair& pair, int side, TraceSink* extra) : pair_(pair), side_(side), extra_(extra) {}
  void on_transition(const TransitionEvent& e) override {
    if (pair_.record_) pair_.ladder_.add_state(side_, e.time, e.from, e.to, std::string(e.cause));
    if (extra_) extra_->on_transition(e);
  }
  void on_segment(const SegmentEvent& e) override {
    if (extra_) extra_->on_segment(e);
  }
  void on_drop(const DropEvent& e) override {
    if (extra_) extra_->on_drop(e);
  }

 private:
  SimPair& pair_;
  int side_;
  TraceSink* extra_;
};

SimPair::SimPair(const SimOptions& options) : net_(options.seed), record_(options.record_ladder) {
  const wire::IpAddress addrs[2] = {wire::IpAddress::v4(198, 18, 0, 1),
                                    wire::IpAddress::v4(198, 18, 0, 2)};
  StackConfig configs[2] = {options.client_config, options.server_config};
  const char* names[2] = {"client", "server"};
  for (int side = 0; side < 2; ++side) {
    StackConfig c = configs[side];
    c.random_seed = options.seed * 2 + static_cast<std::uint64_t>(side) + 1;
    stacks_[side] = std::make_unique<Stack>(c, std::vector<wire::IpAddress>{addrs[side]});
    recorders_[side] = std::make_unique<Recorder>(*this, side, options.extra_trace);
    stacks_[side]->set_trace(recorders_[side].get());
    const OffloadOptions& offload = options.offload[side];
    NetworkHost* host = stacks_[side].get();
    if (offload.segmentation || offload.coalescing) {
      devices_[side] = std::make_unique<OffloadHost>(*stacks_[side], offload);
      host = devices_[side].get();
    }
    hosts_[side] = net_.add_host(*host, {addrs[side]}, names[side]);
    ladder_.names[side] = std::string(names[side]) + " " + addrs[side].to_string();
  }
  net_.set_default_link(options.link);
  if (options.reverse_link) net_.set_link(hosts_[1], hosts_[0], *options.reverse_link);
  if (options.pcap) {
    std::string error;
    if (!net_.capture_to(*options.pcap, &error)) throw std::runtime_error(error);
  }
  if (record_) net_.set_observer([this](const sim::PacketEvent& e) { on_packet(e); });
}

SimPair::~SimPair() { net_.stop_capture(); }

wire::IpAddress SimPair::address(int side) const {
  return side == 0 ? wire::IpAddress::v4(198, 18, 0, 1) : wire::IpAddress::v4(198, 18, 0, 2);
}

void SimPair::name_ends(const std::string& left, const std::string& right) {
  ladder_.names[0] = left;
  ladder_.names[1] = right;
}

void SimPair::on_packet(const sim::PacketEvent& e) {
  auto parsed = wire::parse_tcp_packet(e.bytes);
  if (!parsed) return;
  int from = e.from == hosts_[0] ? 0 : 1;
  const auto& h = parsed->tcp;
  if (h.has(wire::tcp_flag::SYN) && !isn_[from]) isn_[from] = h.seq;
  LadderSegment s;
  s.from = from;
  s.sent = e.sent_at;
  s.arrived = e.arrives_at;
  switch (e.fate) {
    case sim::Fate::Delivered:
      s.fate = SegmentFate::Delivered;
      break;
    case sim::Fate::Duplicated:
      s.fate = SegmentFate::Duplicated;
      break;
    case sim::Fate::Corrupted:
      s.fate = SegmentFate::Corrupted;
      break;
    default:
      s.fate = SegmentFate::Lost;
      break;
  }
  s.flags = h.flags;
  s.seq = h.seq - isn_[from].value_or(h.seq);
  s.has_ack = h.has(wire::tcp_flag::ACK);
  s.ack = isn_[1 - from] ? h.ack - *isn_[1 - from] : h.ack;  // peer ISN unknown: raw
  s.length = static_cast<std::uint32_t>(parsed->payload.size());
  s.window = h.window;
  s.options = h.options;
  // Relative SACK edges, like the arrows' ack numbers.
  for (std::size_t i = 0; i < s.options.sack_count; ++i) {
    s.options.sack[i].left -= isn_[1 - from].value_or(0);
    s.options.sack[i].right -= isn_[1 - from].value_or(0);
  }
  // A segment is a retransmission when all of its sequence space was sent before.
  std::uint32_t end = s.seq + s.length + (h.has(wire::tcp_flag::SYN) ? 1 : 0) +
                      (h.has(wire::tcp_flag::FIN) ? 1 : 0);
  if (e.fate != sim::Fate::Duplicated && end != s.seq && highest_[from] &&
      static_cast<std::int32_t>(end - *highest_[from]) <= 0)
    s.retransmission = true;
  if (!highest_[from] || static_cast<std::int32_t>(end - *highest_[from]) > 0) highest_[from] = end;
  if (e.fate == sim::Fate::Duplicated) s.note = "duplicate";
  if (h.window == 0 && !h.has(wire::tcp_flag::RST)) s.note = "zero window";
  ladder_.add_segment(std::move(s));
}

bool SimPair::run_until(const std::function<bool()>& done, Duration limit) {
  net_.flush_outputs();
  return net_.run_until(done, net_.now() + limit);
}

void SimPair::run_until_idle(Duration limit) {
  net_.flush_outputs();
  Instant end = net_.now() + limit;
  while (auto t = net_.next_event_time()) {
    if (*t > end) break;
    net_.step();
  }
}

}  // namespace synack::sim
