// SPDX-License-Identifier: MIT
#include "cli/run_lanes.hpp"

#include <sys/epoll.h>

#include <future>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

#include "cli/run_helpers.hpp"
#include "synack/event_loop.hpp"

namespace synack::cli {
namespace {

// Packets that may wait in a lane's inbox (segments passed round the ring, datagrams for
// lane 0), by count and by bytes (a TSO segment or a datagram may be 64 KiB); beyond either
// they are dropped (Inbox::dropped, queue_I_inbox_dropped) and TCP retransmits. A lane takes
// its inbox within one loop round, so a full one means a flood of segments for no connection.
constexpr std::size_t kInboxPackets = 1024;
constexpr std::size_t kInboxBytes = 4 << 20;
// How often a draining lane looks whether its relay has finished (as cmd_run.cpp's lane 0).
constexpr Duration kDrainCheck = 10ms;
// How long the control socket's request waits for each other lane's answer.
constexpr auto kAskTimeout = std::chrono::milliseconds(500);

}  // namespace

struct RunLanes::Lane {
  NetEnvironment* env = nullptr;
  relay::Relay* relay = nullptr;
  std::unique_ptr<NetEnvironment> owned_env;  // lanes 1..N-1
  std::unique_ptr<relay::Relay> owned_relay;
  std::unique_ptr<os::Inbox> inbox;
  // While a segment passed round the ring is being received: the lane it first reached
  // (this lane's thread only).
  std::optional<std::size_t> stray_origin;
  std::atomic<std::uint64_t> strays_passed{0};  // segments (and ICMP errors) passed on
  std::atomic<std::uint64_t> udp_to_first{0};   // datagrams this lane gave lane 0
  std::atomic<bool> drained{false};
  // Its loop has returned (stopped, or an epoll failure): it drains nothing more and passes
  // nothing on; the ring skips it.
  std::atomic<bool> exited{false};
  std::function<void()> drain_check;  // while draining: looks, then looks again later
  relay::Relay::DrainLoss loss;       // abort_drain's, written by the lane's thread before it ends
  std::thread thread;
};

RunLanes::~RunLanes() {
  stop();
  // Lane 0 is the caller's and outlives us: take our hooks out of it.
  if (!lanes_.empty() && lanes_[0]->env) {
    auto& env = *lanes_[0]->env;
    env.stack().set_stray_handler(nullptr);
    if (lanes_[0]->inbox) env.loop().remove_fd(lanes_[0]->inbox->fd());
  }
}

Expected<std::unique_ptr<RunLanes>, std::string> RunLanes::create(
    const NetOptions& options, NetEnvironment& first, relay::Relay& first_relay,
    std::vector<std::unique_ptr<os::TunDevice>> queues, relay::RelayConfig config) {
  std::unique_ptr<RunLanes> lanes(new RunLanes());
  auto zero = std::make_unique<Lane>();
  zero->env = &first;
  zero->relay = &first_relay;
  lanes->lanes_.push_back(std::move(zero));
  // Forwards (listeners, and the connections and flows they open) are lane 0's alone.
  config.forwards.clear();
  NetOptions lane_options = options;
  // No signals (lane 0's loop takes them), and no captures or traces: one file per stack
  // would be needed (cmd_run.cpp refuses --pcap and --trace with --queues).
  lane_options.pcap.clear();
  lane_options.trace.clear();
  for (auto& queue : queues) {
    auto lane = std::make_unique<Lane>();
    const std::size_t index = lanes->lanes_.size();
    std::string error;
    lane->owned_env = NetEnvironment::adopt(lane_options, std::move(queue), true, &error,
                                            /*loop_signals=*/false);
    if (!lane->owned_env) return Unexpected{"queue " + std::to_string(index) + ": " + error};
    lane->env = lane->owned_env.get();
    auto relay = relay::Relay::create(lane->env->stack(), lane->env->loop(), config);
    if (!relay) return Unexpected{"queue " + std::to_string(index) + ": " + relay.error()};
    lane->owned_relay = std::move(*relay);
    lane->relay = lane->owned_relay.get();
    lanes->lanes_.push_back(std::move(lane));
  }
  for (std::size_t i = 0; i < lanes->lanes_.size(); ++i) {
    if (auto r = lanes->wire_lane(i); !r) return Unexpected{r.error()};
  }
  return lanes;
}

Expected<void, std::string> RunLanes::wire_lane(std::size_t index) {
  Lane& lane = *lanes_[index];
  auto inbox = os::Inbox::create(kInboxPackets, kInboxBytes);
  if (!inbox) return Unexpected{inbox.error()};
  lane.inbox = std::move(*inbox);
  auto& loop = lane.env->loop();
  if (auto r = loop.add_fd(lane.inbox->fd(), EPOLLIN,
                           [&lane](std::uint32_t) {
                             for (auto& item : lane.inbox->take()) item();
                           });
      !r) {
    return Unexpected{std::string("epoll_ctl (queue inbox): ") +
                      std::system_category().message(r.error())};
  }
  lane.env->stack().set_stray_handler([this, index](std::span<const std::byte> packet) {
    const std::size_t origin = lanes_[index]->stray_origin.value_or(index);
    std::size_t next = (index + 1) % lanes_.size();
    while (next != origin && lanes_[next]->exited) next = (next + 1) % lanes_.size();
    // Every other lane has been asked: this one answers (RFC 9293 §3.10.7.1).
    if (next == origin) return false;
    Lane& to = *lanes_[next];
    const bool posted = to.inbox->post_bounded(
        [&to, origin, copy = std::vector<std::byte>(packet.begin(), packet.end())] {
          to.stray_origin = origin;
          // Its checksum was checked (or vouched for by the kernel) by the lane it reached.
          to.env->stack().receive_packet(copy, to.env->loop().now(), ReceiveFlags{true});
          to.stray_origin.reset();
        },
        packet.size());
    if (posted) ++lanes_[index]->strays_passed;
    return true;  // taken, even when the inbox was full (dropped and counted: TCP retransmits)
  });
  if (index == 0) return {};
  lane.env->loop().on_socket_event(
      [&lane](const SocketEvent& ev) { lane.relay->on_socket_event(ev); });
  lane.env->loop().set_packet_filter([this, &lane](std::span<const std::byte> packet, bool ok) {
    auto port = relay::udp_source_port(packet);
    if (!port || !forward_ports_.contains(relay::ForwardProtocol::Udp, *port)) return false;
    Lane& first = *lanes_[0];
    if (first.inbox->post_bounded(
            [&first, ok, copy = std::vector<std::byte>(packet.begin(), packet.end())] {
              first.env->stack().receive_packet(copy, first.env->loop().now(), ReceiveFlags{ok});
            },
            packet.size()))
      ++lane.udp_to_first;
    return true;  // a datagram dropped for a full inbox is counted there
  });
  return {};
}

Expected<void, std::string> RunLanes::start() {
  for (std::size_t i = 1; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    try {
      lane.thread = std::thread([&lane] {
        lane.env->loop().run();
        lane.exited = true;
      });
    } catch (const std::system_error& e) {
      stop();
      return Unexpected{std::string("starting queue ") + std::to_string(i) +
                        "'s thread: " + e.what()};
    }
  }
  return {};
}

void RunLanes::note_forwards(
    const std::vector<std::pair<std::uint64_t, relay::PortForward>>& forwards) {
  for (const auto& [id, forward] : forwards)
    forward_ports_.add(forward.protocol, forward.guest_port);
}

void RunLanes::begin_drain() {
  for (std::size_t i = 1; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    lane.inbox->post([&lane] {
      lane.relay->begin_drain();
      lane.drain_check = [&lane] {
        if (lane.relay->drained()) {
          lane.drained = true;
          return;
        }
        lane.env->loop().call_at(lane.env->loop().now() + kDrainCheck, lane.drain_check);
      };
      lane.drain_check();
    });
  }
}

bool RunLanes::drained() const {
  for (std::size_t i = 1; i < lanes_.size(); ++i)
    if (!lanes_[i]->drained && !lanes_[i]->exited) return false;
  return true;
}

void RunLanes::post_stop(bool abort) {
  for (std::size_t i = 1; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    // A lane whose thread never started (a failed set-up) has nothing to stop.
    if (!lane.thread.joinable()) continue;
    lane.inbox->post([&lane, abort] {
      if (abort) {
        lane.loss = lane.relay->abort_drain();
      } else {
        lane.relay->shutdown();
      }
      lane.env->loop().stop();
    });
  }
  for (std::size_t i = 1; i < lanes_.size(); ++i)
    if (lanes_[i]->thread.joinable()) lanes_[i]->thread.join();
  stopped_ = true;
}

relay::Relay::DrainLoss RunLanes::abort_drain() {
  relay::Relay::DrainLoss total;
  if (stopped_) return total;
  post_stop(true);
  for (std::size_t i = 1; i < lanes_.size(); ++i) {
    total.connections += lanes_[i]->loss.connections;
    total.bytes += lanes_[i]->loss.bytes;
  }
  return total;
}

void RunLanes::stop() {
  if (stopped_) return;
  post_stop(false);
}

template <class T>
std::vector<T> RunLanes::ask_others(std::function<T(const Stack&)> question) const {
  std::vector<std::future<T>> answers;
  for (std::size_t i = 1; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    if (lane.exited || !lane.thread.joinable()) continue;
    // Shared with the closure: a late answer lands in a promise nobody waits for any more.
    auto promise = std::make_shared<std::promise<T>>();
    answers.push_back(promise->get_future());
    lane.inbox->post(
        [&lane, promise, question] { promise->set_value(question(lane.env->stack())); });
  }
  std::vector<T> got;
  const auto deadline = std::chrono::steady_clock::now() + kAskTimeout;
  for (auto& answer : answers)
    if (answer.wait_until(deadline) == std::future_status::ready) got.push_back(answer.get());
  return got;
}

std::vector<ConnectionInfo> RunLanes::connections() const {
  auto all = lanes_[0]->env->stack().connections();
  for (auto& part : ask_others<std::vector<ConnectionInfo>>(
           [](const Stack& stack) { return stack.connections(); }))
    all.insert(all.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  return all;
}

Counters RunLanes::counters() const {
  Counters sum = lanes_[0]->env->stack().counters();
  for (const auto& part : ask_others<Counters>([](const Stack& stack) { return stack.counters(); }))
    sum += part;
  return sum;
}

std::string RunLanes::lane_stats(const NetEnvironment& env, const relay::Relay& relay) {
  std::ostringstream out;
  env.print_stats(out);
  print_relay_stats(relay.stats(), out);
  return out.str();
}

void RunLanes::print_stats(const std::string& first_stats, std::ostream& out) const {
  // Sum by name, in the order lane 0 prints them (then any only other lanes print).
  std::vector<std::string> order;
  std::map<std::string, std::uint64_t> sums;
  std::vector<std::map<std::string, std::uint64_t>> per_lane(lanes_.size());
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    std::istringstream in(i == 0 ? first_stats : lane_stats(*lanes_[i]->env, *lanes_[i]->relay));
    std::string name;
    std::uint64_t value = 0;
    while (in >> name >> value) {
      if (!sums.count(name)) order.push_back(name);
      sums[name] += value;
      per_lane[i][name] = value;
    }
  }
  for (const auto& name : order) out << name << " " << sums[name] << "\n";
  out << "run_queues " << lanes_.size() << "\n";
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const Lane& lane = *lanes_[i];
    const std::string q = "queue_" + std::to_string(i) + "_";
    out << q << "relay_tcp_connects " << per_lane[i]["relay_tcp_connects"] << "\n"
        << q << "tun_packets_read " << per_lane[i]["tun_packets_read"] << "\n"
        << q << "strays_passed " << lane.strays_passed << "\n"
        << q << "udp_to_queue_0 " << lane.udp_to_first << "\n"
        << q << "inbox_dropped " << lane.inbox->dropped() << "\n";
  }
}

}  // namespace synack::cli
