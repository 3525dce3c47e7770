// SPDX-License-Identifier: MIT
// The public API: a TCP/IP stack with many connections, driven by packets and time.
//
//   Stack stack(config, {IpAddress::v4(198,18,0,1)});
//   auto listener = stack.listen({addr, 80}, now);
//   ... feed packets: stack.receive_packet(bytes, now); stack.on_timer(now);
//   ... drain:        while (stack.pop_packet(buf)) write(buf);
//   ... events:       while (auto ev = stack.poll_event()) { ... }
//
// Sans-I/O: nothing here opens a file, reads a clock or sleeps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "synack/address.hpp"

#include "synack/buffer_access.hpp"
#include "synack/config.hpp"
#include "synack/counters.hpp"
#include "synack/error.hpp"
#include "synack/expected.hpp"
#include "synack/host.hpp"
#include "synack/packet_writer.hpp"
#include "synack/random.hpp"
#include "synack/state.hpp"
#include "synack/status.hpp"
#include "synack/time.hpp"
#include "synack/trace.hpp"

namespace synack {

using ListenerId = std::uint64_t;

// What the link knows about a packet. checksum_verified: the transport checksum needs no
// check (the link verified it, or the packet was made by the local kernel and never
// crossed a wire — a TUN's VIRTIO_NET_HDR_F_NEEDS_CSUM / DATA_VALID); its checksum field
// may hold a partial sum.
struct ReceiveFlags {
  bool checksum_verified = false;
};

// Event bits per handle (see tcp::event): Connected, Readable, Writable, PeerClosed, Reset,
// Closed. A listener reports Readable when accept() has a connection for it.
struct SocketEvent {
  std::uint64_t handle = 0;
  std::uint8_t events = 0;
  bool is_listener = false;
};

// --- user-mode networking (`synack run`): interception ---
// With StackConfig::intercept, the stack answers for every address, not only its own: a SYN
// to any destination no listener claims becomes a ConnectRequest, left unanswered until the
// application decides (accept_request: SYN,ACK; refuse_request: RST, or ICMP unreachable),
// and UDP datagrams to any destination are queued for the application to relay. Events for
// both arrive as listener events on the two handles below.
inline constexpr std::uint64_t kConnectRequestsHandle = 1ULL << 63;
inline constexpr std::uint64_t kDatagramsHandle = (1ULL << 63) | (1ULL << 62);
// With StackConfig::intercept_echo: echo requests to other addresses (poll_echo_request).
inline constexpr std::uint64_t kEchoRequestsHandle = (1ULL << 63) | (1ULL << 61);

struct ConnectRequest {
  std::uint64_t id = 0;
  wire::Endpoint local;   // the destination the peer asked for
  wire::Endpoint remote;  // the peer
};

// How a connect request is turned down.
enum class Refusal : std::uint8_t {
  Reset,            // RST: the peer sees "connection refused"
  HostUnreachable,  // ICMP host unreachable / ICMPv6 address unreachable
  NetUnreachable,   // ICMP net unreachable / ICMPv6 no route
  Prohibited,       // ICMP communication administratively prohibited (v4 code 13, v6 code 1)
};

struct Datagram {
  wire::Endpoint local;   // the destination the peer sent to
  wire::Endpoint remote;  // the peer
  std::vector<std::byte> payload;
};

// An ICMP echo request (RFC 792) / ICMPv6 echo request (RFC 4443 §4.1) to an address not ours.
struct EchoRequest {
  wire::IpAddress local;   // the address the peer pinged
  wire::IpAddress remote;  // the peer
  std::uint16_t identifier = 0;
  std::uint16_t sequence = 0;
  std::vector<std::byte> data;
};

// Per-socket sizes an application chooses before connect() or listen(), as Linux's
// SO_SNDBUF, SO_RCVBUF and TCP_MAXSEG; a connection accepted from a listener has the
// listener's. 0 keeps the stack's TcpConfig value.
struct SocketOptions {
  // Bytes send() may queue (TcpConfig::send_buffer); 1024 .. 1 GiB.
  std::uint32_t send_buffer = 0;
  // Bytes of receive buffer (TcpConfig::receive_buffer), 1024 .. 1 GiB: the window offered,
  // and the window scale, which is chosen for this size instead of
  // TcpConfig::window_scale_buffer (as Linux chooses it for a buffer fixed by SO_RCVBUF).
  std::uint32_t receive_buffer = 0;
  // MSS clamp (TCP_MAXSEG), 88 (Linux's TCP_MIN_MSS) .. 65535: the MSS our SYN or SYN,ACK
  // announces, and so the largest segment we send, is at most this.
  std::uint16_t max_segment = 0;
};

struct ConnectionInfo {
  ConnectionId id = 0;
  wire::Endpoint local;
  wire::Endpoint remote;
  ConnectionStatus status;
  bool detached = false;  // the application closed it; the stack finishes the close
};

class Stack final : public NetworkHost {
 public:
  // `random` supplies ISN keys and ephemeral-port choices; when null, a SeededRandom from
  // config.random_seed is used (deterministic, for simulations).
  Stack(StackConfig config, std::vector<wire::IpAddress> addresses, RandomSource* random = nullptr);
  ~Stack() override;
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // --- NetworkHost ---
  void receive_packet(std::span<const std::byte> packet, Instant now) override {
    receive_packet(packet, now, ReceiveFlags{});
  }
  using ReceiveFlags = synack::ReceiveFlags;
  void receive_packet(std::span<const std::byte> packet, Instant now, ReceiveFlags flags);
  // Gather input, the counterpart of PacketWriter: one packet given as its headers and its
  // payload apart (as write_packet() hands them), so that a link between two stacks in one
  // process moves a segment's payload from one send buffer straight into the other's receive
  // buffer. The payload is read during the call only. Kept apart for a TCP segment without
  // SYN whose TCP header ends `headers` and whose checksum flags.checksum_verified vouches
  // for; anything else is joined into one buffer first and handled as the one-span call does.
  void receive_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                      Instant now, ReceiveFlags flags);
  void on_timer(Instant now) override;
  std::optional<Instant> next_deadline() const override;
  bool pop_packet(std::vector<std::byte>& out) override { return pop_packet(out, nullptr); }
  // The same, and *gso_size gets the segmentation size for a TCP packet carrying several
  // packets' payload (TcpConfig::gso_max_bytes), else 0.
  bool pop_packet(std::vector<std::byte>& out, std::uint16_t* gso_size);
  // A batch: the packets an application reads together in one burst (from a TUN, say),
  // received between begin_batch() and end_batch(). With TcpConfig::batch_output (on by
  // default), a connection holds what those packets, and send() calls made during the batch,
  // would make it send until end_batch(), which sends it: one ACK for a burst of data, one
  // burst of the data a burst of ACKs releases (the details: TcpConfig::batch_output). Without
  // batch_output both calls do nothing. Every begin_batch() needs its
  // end_batch(); a batch held open holds those connections' output.
  void begin_batch() override;
  void end_batch(Instant now) override;
  // Gather output (synack/packet_writer.hpp): TCP packets go to `writer` as they are built,
  // their payload read from the send buffer, while no packet waits for pop_packet(); what the
  // writer refuses, and every other packet (ICMP, ...), is queued for pop_packet() as
  // before. nullptr (the default) queues everything. The writer must outlive its use.
  void set_packet_writer(PacketWriter* writer);

  // --- sockets ---
  // Passive OPEN on `local` (address may be unspecified: any of ours). backlog 0 = default.
  // Errors: AddressInUse if a listener holds that address and port; InvalidArgument for
  // port 0, an address that is not ours, or options out of range. Connections accepted from
  // it have `options`.
  Expected<ListenerId, Error> listen(wire::Endpoint local, Instant now, std::size_t backlog = 0,
                                     SocketOptions options = {});
  // A connection that completed the handshake. Errors: WouldBlock when none is waiting;
  // NoSuchConnection for an unknown listener.
  Expected<ConnectionId, Error> accept(ListenerId listener);
  // Stops listening; connections not yet accepted are reset. Errors: NoSuchConnection for an
  // unknown listener.
  Expected<void, Error> close_listener(ListenerId listener, Instant now);

  // Active OPEN to `remote`, from `local_address` (default: our first address of the same
  // family) and an ephemeral port. Errors: NoPortsAvailable, TooManyConnections (also when
  // the memory budget is under pressure: tcp_memory_refused), InvalidArgument (no address of
  // that family, options out of range), AddressInUse (explicit port taken).
  Expected<ConnectionId, Error> connect(wire::Endpoint remote, Instant now,
                                        std::optional<wire::Endpoint> local = std::nullopt,
                                        SocketOptions options = {});

  // Queues data; returns how much was taken (all or part). Errors: NoSuchConnection for a bad
  // id or one already closed by the application; WouldBlock when the send buffer is full;
  // ShutDown after shutdown_write() or once the connection is closing; the connection's error
  // (ConnectionReset, ConnectionRefused, TimedOut, ...) or NotConnected once it is CLOSED.
  Expected<std::size_t, Error> send(ConnectionId id, std::span<const std::byte> data, Instant now);
  // Copies in-order received data out; 0 means end of stream (the peer's FIN). Errors:
  // NoSuchConnection as for send(); WouldBlock when nothing is there yet (also before the
  // handshake completes); the connection's error, or NotConnected, once it is CLOSED.
  Expected<std::size_t, Error> receive(ConnectionId id, std::span<std::byte> out, Instant now);
  // receive() without the copy: `reader` gets the in-order bytes where they lie in the
  // receive buffer (synack/buffer_access.hpp) and returns how many it consumed. Returns the
  // bytes consumed; 0 means end of stream. Errors: those of receive(), and WouldBlock when
  // data was there but the reader took none.
  Expected<std::size_t, Error> receive_with(ConnectionId id, const BufferReader& reader,
                                            Instant now);
  // send() without the copy: `writer` fills free space of the send buffer in place and
  // returns how many bytes it wrote; setting `last` shuts the sending side down after them
  // (the FIN on their last segment, as send_last) once ESTABLISHED. Returns the bytes
  // queued, 0 when the writer wrote none or the buffer is full. Errors: those of send()
  // except WouldBlock.
  Expected<std::size_t, Error> send_with(ConnectionId id, const BufferWriter& writer, Instant now);
  // send() then, if all of `data` was taken, shutdown_write() — the FIN on the last data
  // segment (as FreeBSD's MSG_EOF). Returns how much was taken; a short count means no FIN.
  // Errors: those of send().
  Expected<std::size_t, Error> send_last(ConnectionId id, std::span<const std::byte> data,
                                         Instant now);
  // Half-close: our FIN after the queued data; receiving continues. Errors: NoSuchConnection
  // as for send(); ShutDown if already shut down or closing; the connection's error, or
  // NotConnected, once it is CLOSED.
  Expected<void, Error> shutdown_write(ConnectionId id, Instant now);
  // Full close: FIN after the queued data, then the stack finishes the close on its own and
  // frees the connection; the id becomes invalid. Unread received data (now or later)
  // turns it into an abort (RST), as RFC 2525 §2.17 recommends and Linux does. Errors:
  // NoSuchConnection for a bad id or one already closed (a connection that failed is still
  // closed without error: close() is how the application frees it).
  Expected<void, Error> close(ConnectionId id, Instant now);
  // RST and forget. Errors: NoSuchConnection for a bad id or one already closed.
  Expected<void, Error> abort(ConnectionId id, Instant now);
  // Nagle off (on = true) or on. Errors: NoSuchConnection for a bad id or one already closed.
  Expected<void, Error> set_no_delay(ConnectionId id, bool on);
  // Direct delivery (a relay's fast path): in-order data arriving while the receive buffer is
  // empty is offered to `reader` during input(), where it lies in the packet, before anything
  // is copied into the buffer; what the reader consumes is delivered (acknowledged, the window
  // stays open) and no Readable event is raised for it; the rest is buffered as usual, in
  // order after it, and raises Readable. The reader must not call into the Stack, and must
  // stay valid until set_direct_reader(id, nullptr) or the connection is closed or aborted.
  // nullptr turns it off. Errors: NoSuchConnection for a bad id or one already closed.
  Expected<void, Error> set_direct_reader(ConnectionId id, const BufferReader* reader);
  // Per-connection keep-alive (RFC 9293 §3.8.4) and R2 (§3.8.3). Errors: NoSuchConnection for
  // a bad id or one already closed; set_keepalive: InvalidArgument for an idle time or
  // interval not above zero, or no probes (whether turning it on or off).
  Expected<void, Error> set_keepalive(ConnectionId id, bool on, Duration idle, Duration interval,
                                      std::uint8_t probes, Instant now);
  Expected<void, Error> set_user_timeout(ConnectionId id, std::uint8_t data_retries,
                                         Duration user_timeout);
  // Switches the congestion control (RFC 5681 NewReno, RFC 9438 CUBIC). Errors:
  // NoSuchConnection for a bad id or one already closed.
  Expected<void, Error> set_congestion(ConnectionId id, CongestionAlgorithm algorithm);

  // --- interception (StackConfig::intercept) ---
  // The next connect request not yet handed out; nullopt when none.
  std::optional<ConnectRequest> poll_connect_request();
  // Answers the request's SYN (the connection enters SYN-RECEIVED and reports Connected once
  // the handshake completes). Errors: NoSuchConnection for an unknown request;
  // TooManyConnections.
  Expected<ConnectionId, Error> accept_request(std::uint64_t request, Instant now);
  // Turns the request down and forgets it. Errors: NoSuchConnection.
  Expected<void, Error> refuse_request(std::uint64_t request, Refusal how, Instant now);
  std::size_t pending_requests() const;
  // The next queued datagram; nullopt when none.
  std::optional<Datagram> poll_datagram();
  // Sends a UDP datagram from `local` (any address while intercepting) to `remote`.
  // Errors: InvalidArgument (mixed families, a martian destination, over 65507 bytes).
  Expected<void, Error> send_datagram(const wire::Endpoint& local, const wire::Endpoint& remote,
                                      std::span<const std::byte> payload, Instant now);
  // The next queued echo request (StackConfig::intercept_echo); nullopt when none.
  std::optional<EchoRequest> poll_echo_request();
  // Answers `request` as its destination would: an echo reply from request.local with the
  // request's identifier and sequence number and `data` (RFC 792 "Echo or Echo Reply
  // Message", RFC 4443 §4.2). Errors: InvalidArgument (mixed families, a martian peer, data
  // over 65507 bytes).
  Expected<void, Error> send_echo_reply(const EchoRequest& request, std::span<const std::byte> data,
                                        Instant now);
  // Tells `remote` that the datagram it sent to `local` (a Datagram from poll_datagram, its
  // payload or the first part of it) was refused where it was relayed to: an ICMP port
  // unreachable (RFC 792, code 3) or ICMPv6 port unreachable (RFC 4443 §3.1, code 4) from
  // `local`'s address, quoting the datagram rebuilt from these values (the quote's TTL and IP
  // identification are the stack's; addresses, ports and payload are the datagram's, which
  // is what the receiver matches its socket by). Rate-limited with the stack's other ICMP
  // errors (counted in icmp_rate_limited; still a success). Errors: InvalidArgument (mixed
  // families, a martian destination).
  Expected<void, Error> send_port_unreachable(const wire::Endpoint& local,
                                              const wire::Endpoint& remote,
                                              std::span<const std::byte> payload, Instant now);

  // Queries: nullopt for a bad id or one already closed by the application (no errors).
  std::optional<State> state(ConnectionId id) const;
  // Bytes send() would take now (0 when full or not sending); nullopt for a bad id.
  std::optional<std::uint32_t> send_space(ConnectionId id) const;
  std::optional<ConnectionStatus> status(ConnectionId id) const;
  std::optional<Error> connection_error(ConnectionId id) const;
  std::vector<ConnectionInfo> connections() const;
  std::size_t connection_count() const;

  // Events since the last poll, one per handle with the bits merged.
  std::optional<SocketEvent> poll_event();

  // The memory_budget_* gauges are read from the budget at each call.
  const Counters& counters() const;
  Counters& counters();
  // StackConfig::memory_budget (null: none), for code that charges its own buffers to it.
  MemoryBudget* memory_budget() const;
  void set_trace(TraceSink* trace);
  // A TCP segment that matches no connection, connect request or listener of this stack is
  // first offered to `handler` (the whole IP packet, valid during the call): true means it
  // took the segment (counted in tcp_stray_handed_off) and the stack does nothing more;
  // false, or no handler, and RFC 9293 §3.10.7.1 applies (RST unless it is an RST). An ICMP
  // error that quotes no connection of this stack is offered the same way (counted in
  // icmp_stray_handed_off; declined, it is ignored). For several stacks behind one
  // multi-queue TUN (`synack run --queues`), where a flow may reach a queue other than its
  // stack's. The handler must not call back into this stack.
  using StrayHandler = std::function<bool(std::span<const std::byte> packet)>;
  void set_stray_handler(StrayHandler handler);
  const std::vector<wire::IpAddress>& addresses() const;
  const StackConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synack
