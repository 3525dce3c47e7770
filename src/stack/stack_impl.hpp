// SPDX-License-Identifier: MIT
// The stack's private state and its implementation: Stack (include/synack/stack.hpp) holds a
// unique_ptr to this and forwards each call. Not part of the API.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "synack/stack.hpp"
#include "tcp/connection.hpp"
#include "tcp/isn.hpp"
#include "tcp/syn_cookie.hpp"
#include "wire/ip_address.hpp"
#include "wire/ip_header.hpp"
#include "wire/tcp_header.hpp"

namespace synack {

struct Stack::Impl {
  // The public calls, as documented in include/synack/stack.hpp.
  Impl(StackConfig config, std::vector<wire::IpAddress> addresses, RandomSource* random);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void receive_packet(std::span<const std::byte> packet, Instant now, ReceiveFlags flags);
  void receive_packet(std::span<const std::byte> packet, std::span<const std::byte> gathered,
                      Instant now, ReceiveFlags flags);
  void on_timer(Instant now);
  std::optional<Instant> next_deadline() const;
  bool pop_packet(std::vector<std::byte>& out, std::uint16_t* gso_size);
  void begin_batch() {
    if (!config_.tcp.batch_output) return;
    if (++batches_ == 0) ++batches_;  // 0 means "no batch"
    batch_ = batches_;
  }
  void end_batch(Instant now);
  void set_packet_writer(PacketWriter* writer) { writer_ = writer; }
  Expected<ListenerId, Error> listen(wire::Endpoint local, Instant now, std::size_t backlog,
                                     const SocketOptions& options);
  Expected<ConnectionId, Error> accept(ListenerId listener);
  Expected<void, Error> close_listener(ListenerId listener, Instant now);
  Expected<ConnectionId, Error> connect(wire::Endpoint remote, Instant now,
                                        std::optional<wire::Endpoint> local,
                                        const SocketOptions& options);
  Expected<std::size_t, Error> send(ConnectionId id, std::span<const std::byte> data, Instant now);
  Expected<std::size_t, Error> receive(ConnectionId id, std::span<std::byte> out, Instant now);
  Expected<std::size_t, Error> receive_with(ConnectionId id, const BufferReader& reader,
                                            Instant now);
  Expected<std::size_t, Error> send_with(ConnectionId id, const BufferWriter& writer, Instant now);
  Expected<std::size_t, Error> send_last(ConnectionId id, std::span<const std::byte> data,
                                         Instant now);
  Expected<void, Error> shutdown_write(ConnectionId id, Instant now);
  Expected<void, Error> close(ConnectionId id, Instant now);
  Expected<void, Error> abort(ConnectionId id, Instant now);
  Expected<void, Error> set_no_delay(ConnectionId id, bool on);
  Expected<void, Error> set_direct_reader(ConnectionId id, const BufferReader* reader);
  Expected<void, Error> set_keepalive(ConnectionId id, bool on, Duration idle, Duration interval,
                                      std::uint8_t probes, Instant now);
  Expected<void, Error> set_user_timeout(ConnectionId id, std::uint8_t data_retries,
                                         Duration user_timeout);
  Expected<void, Error> set_congestion(ConnectionId id, CongestionAlgorithm algorithm);
  std::optional<ConnectRequest> poll_connect_request();
  Expected<ConnectionId, Error> accept_request(std::uint64_t request, Instant now);
  Expected<void, Error> refuse_request(std::uint64_t request, Refusal how, Instant now);
  std::size_t pending_requests() const;
  std::optional<Datagram> poll_datagram();
  Expected<void, Error> send_datagram(const wire::Endpoint& local, const wire::Endpoint& remote,
                                      std::span<const std::byte> payload, Instant now);
  std::optional<EchoRequest> poll_echo_request();
  Expected<void, Error> send_echo_reply(const EchoRequest& request, std::span<const std::byte> data,
                                        Instant now);
  void queue_echo_request(const wire::IpHeader& ip, std::uint32_t rest,
                          std::span<const std::byte> data, Instant now);
  Expected<void, Error> send_port_unreachable(const wire::Endpoint& local,
                                              const wire::Endpoint& remote,
                                              std::span<const std::byte> payload, Instant now);
  std::optional<State> state(ConnectionId id) const;
  std::optional<std::uint32_t> send_space(ConnectionId id) const;
  std::optional<ConnectionStatus> status(ConnectionId id) const;
  std::optional<Error> connection_error(ConnectionId id) const;
  std::vector<ConnectionInfo> connections() const;
  std::optional<SocketEvent> poll_event();
  void set_trace(TraceSink* trace);
  // Stack::set_stray_handler's call, with the packet made whole.
  bool offer_stray(std::span<const std::byte> packet, std::span<const std::byte> payload);

  struct Slot;
  struct Listener;
  struct TupleKey {
    wire::Endpoint local;
    wire::Endpoint remote;
    bool operator==(const TupleKey&) const = default;
  };
  struct TupleHash {
    std::size_t operator()(const TupleKey& k) const;
  };
  class Sink;
  struct PendingRequest {
    TupleKey tuple;
    wire::IpHeader ip;
    wire::TcpHeader tcp;
    std::vector<std::byte> quote;     // the SYN's first bytes, for an ICMP error
    std::optional<SeqNum> isn_floor;  // reopening a TIME-WAIT connection
  };

  // `packet` is the whole IP packet (quoted by ICMP errors about it).
  void handle_tcp(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                  std::span<const std::byte> payload, std::span<const std::byte> packet,
                  Instant now);
  void handle_udp(const wire::IpHeader& ip, std::span<const std::byte> body, bool checksum_verified,
                  Instant now);
  void queue_connect_request(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                             std::span<const std::byte> packet, std::optional<SeqNum> isn_floor,
                             Instant now);
  void handle_icmp(const wire::IpHeader& ip, std::span<const std::byte> body,
                   std::span<const std::byte> packet, Instant now);
  // ICMP (src/stack/icmp.hpp): an error received (`packet`, whole), handed to the connection
  // it quotes or, quoting none here, offered to the stray handler; an error sent about
  // `packet` (rate-limited); any ICMP packet onto the transmit queue.
  void deliver_icmp_error(bool v6, std::uint8_t type, std::uint8_t code,
                          std::span<const std::byte> quote, std::span<const std::byte> packet,
                          Instant now);
  void send_protocol_unreachable(const wire::IpHeader& ip, std::span<const std::byte> packet,
                                 Instant now);
  bool icmp_error_allowed(Instant now);
  // Bumps `counter` and traces the drop under that counter's name (DropEvent::counter is
  // always a name `synack stats` lists).
  void count_drop(std::uint64_t Counters::*counter, Instant now, ConnectionId id = 0);
  std::vector<std::byte> take_buffer();
  void send_reset_for(const wire::IpHeader& ip, const wire::TcpHeader& tcp, const tcp::Segment& seg,
                      Instant now);
  void transmit(const wire::Endpoint& local, const wire::Endpoint& remote, const tcp::Segment& seg,
                ConnectionId id, Instant now);
  void after_call(std::uint32_t index, Instant now);
  // Hands `seg` to the connection in slot `index`, then after_call().
  void deliver_segment(std::uint32_t index, const tcp::Segment& seg, Instant now);
  void free_slot(std::uint32_t index);
  // The live connection `id` names, as the application sees it: nullptr once it was freed or
  // the application closed it (detached); find_any() also finds a detached one.
  Slot* find(ConnectionId id);
  const Slot* find(ConnectionId id) const;
  Slot* find_any(ConnectionId id);
  bool is_our_address(const wire::IpAddress& a) const;
  std::optional<std::uint16_t> pick_ephemeral_port(const wire::IpAddress& local,
                                                   const wire::Endpoint& remote);
  // isn_floor: the ISN may not be below it (a connection reopened from TIME-WAIT). cookie:
  // a passive connection rebuilt from a valid SYN cookie (born in SYN-RECEIVED). options:
  // the application's sizes (its listener's, for a passive one).
  Expected<ConnectionId, Error> create_connection(
      wire::Endpoint local, wire::Endpoint remote, Instant now, bool passive,
      std::uint32_t* index_out, std::optional<SeqNum> isn_floor = std::nullopt,
      const tcp::Connection::CookieState* cookie = nullptr, const SocketOptions& options = {});
  // config_.tcp with the application's sizes applied, for a connection from `local`.
  tcp::SharedTcpConfig tcp_config(const SocketOptions& options, const wire::IpAddress& local) const;
  // RFC 4987 §3.6 (codec: src/tcp/syn_cookie.hpp): answer a SYN to `listener` statelessly; and
  // try an ACK to it as the return of such a SYN,ACK — true when the ACK was taken (a
  // connection made, or dropped for a full accept queue), false when it carries no valid
  // cookie (the caller answers it as any ACK at a listener).
  void send_syn_cookie(Listener& listener, const wire::Endpoint& local,
                       const wire::Endpoint& remote, const tcp::Segment& syn, Instant now);
  bool accept_syn_cookie(Listener& listener, const wire::Endpoint& local,
                         const wire::Endpoint& remote, const tcp::Segment& ack, Instant now);
  // Issue 11 §4 (StackConfig::memory_budget): null without a budget; under pressure once
  // less than an eighth of it, or less than one connection's two buffers, is free. A SYN
  // refused for it is answered like one to a closed port (RFC 9293 §3.10.7.1: RST) and
  // counted as tcp_memory_refused.
  MemoryBudget* budget() const { return config_.memory_budget.get(); }
  void refresh_gauges() {
    if (const MemoryBudget* b = budget()) {
      counters_.memory_budget_bytes = b->limit();
      counters_.memory_used_bytes = b->used();
      counters_.memory_peak_bytes = b->peak();
    }
  }
  bool memory_pressure() const;
  void refuse_for_memory(const wire::IpHeader& ip, const wire::TcpHeader& tcp,
                         const tcp::Segment& syn, Instant now);
  void push_event(std::uint64_t handle, std::uint8_t bits, bool listener);
  void schedule(std::uint32_t index);

  StackConfig config_;
  tcp::SharedTcpConfig default_tcp_{config_.tcp};  // shared by connections without options
  std::vector<wire::IpAddress> addresses_;
  std::unique_ptr<RandomSource> owned_random_;
  RandomSource* random_;
  tcp::IsnGenerator isn_;
  tcp::SynCookies cookies_;  // keys derived from isn_'s secret (see the constructor)
  Counters counters_;
  TraceSink* trace_ = nullptr;
  Stack::StrayHandler stray_handler_;

  // A deque: it grows without copying the slots or reserving twice what is used (a vector
  // doubles), and a reference to a slot stays valid while others are added.
  std::deque<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_ = 0;
  std::size_t time_wait_ = 0;  // of live_, those in TIME-WAIT (Slot::time_wait)
  std::unordered_map<TupleKey, std::uint32_t, TupleHash> by_tuple_;
  std::unordered_map<ListenerId, std::unique_ptr<Listener>> listeners_;
  std::uint64_t next_listener_ = 1;

  // Timers: a min-heap of (deadline, slot, version); stale entries are skipped.
  struct TimerEntry {
    Instant at;
    std::uint32_t index;
    std::uint32_t version;
    bool operator>(const TimerEntry& o) const { return at > o.at; }
  };
  mutable std::vector<TimerEntry> timer_heap_;

  // RFC 4443 §2.4 (f) / RFC 1812 §4.3.2.8: ICMP errors we send are rate-limited by a token
  // bucket (refilled one token per millisecond, as Linux's icmp_msgs_per_sec = 1000).
  std::uint32_t icmp_tokens_ = 50;
  tcp::PerSecondLimit invalid_acks_;  // StackConfig::invalid_acks_per_second
  std::optional<Instant> icmp_refilled_;

  // Interception: pending connect requests (bounded by max_connect_requests) and received
  // datagrams (bounded by max_datagrams / max_datagram_bytes).
  std::unordered_map<std::uint64_t, PendingRequest> requests_;
  std::unordered_map<TupleKey, std::uint64_t, TupleHash> request_by_tuple_;
  std::deque<std::uint64_t> new_requests_;
  std::uint64_t next_request_ = 1;
  // Connections made by accept_request() still in SYN-RECEIVED (Slot::intercept_half_open),
  // bounded with the requests by max_connect_requests.
  std::size_t intercept_half_open_ = 0;
  void mark_intercept_half_open(std::uint32_t index);
  std::deque<Datagram> datagrams_;
  std::deque<EchoRequest> echo_requests_;
  std::size_t datagram_bytes_ = 0;

  struct TxPacket {
    std::vector<std::byte> bytes;
    std::uint16_t gso_size = 0;
  };
  void queue_tx(std::vector<std::byte> packet, std::uint16_t gso_size = 0) {
    tx_queue_.push_back(TxPacket{std::move(packet), gso_size});
  }
  std::deque<TxPacket> tx_queue_;
  std::vector<std::vector<std::byte>> spare_buffers_;
  // Stack::set_packet_writer(): TCP packets go to it as they are built while tx_queue_ is
  // empty; header_scratch_ holds their headers meanwhile.
  PacketWriter* writer_ = nullptr;
  std::vector<std::byte> header_scratch_;
  // A batch (begin_batch/end_batch, TcpConfig::batch_output): the connections holding output
  // until its end, each once (Connection::flush_held), so at most one entry per connection.
  std::uint32_t batch_ = 0;    // the batch being gathered; 0: none
  std::uint32_t batches_ = 0;  // batches begun (wrapping, skipping 0)
  std::vector<ConnectionId> held_;
  // Gather input that cannot stay apart (not TCP, a SYN, a checksum to verify) is joined here.
  std::vector<std::byte> gather_scratch_;
  std::deque<SocketEvent> events_;
  std::unordered_map<std::uint64_t, std::size_t> event_index_;  // handle -> absolute position
  std::size_t events_base_ = 0;  // absolute position of events_.front()
};

}  // namespace synack
