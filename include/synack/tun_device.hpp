// SPDX-License-Identifier: MIT
// A Linux TUN interface (IFF_TUN | IFF_NO_PI): IP packets in and out through one file
// descriptor, IPv4 and IPv6. With offloads (IFF_VNET_HDR + TUNSETOFFLOAD), the kernel hands
// over TCP segments of up to 64 KiB (TSO) whose checksum it left for us to finish; read()
// completes that checksum so what it returns is an ordinary, fully checksummed IP packet.
// Public API of libsynack-link (synack::link). Errors are values (Expected); a function whose
// comment names no error cannot fail.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "synack/expected.hpp"

namespace synack::os {

struct TunConfig {
  std::string name = "synack0";  // at most 15 characters (IFNAMSIZ - 1)
  unsigned mtu = 65520;          // 68..65520 (IPv6 needs 1280)
  bool offload = true;           // try IFF_VNET_HDR + TSO; falls back to plain when refused
  // Packets the kernel may queue toward us (the interface's txqueuelen; 0 leaves the kernel's
  // 500). 500 dropped 3.6 % of a namespace's packets when 1,024 clients opened connections
  // at once through `synack run` (SYNs lost: 1 s waits); 4,096 dropped none. What it queues
  // belongs to the senders' sockets, so their buffers bound it too. Left at the kernel's
  // length where changing it is not permitted (a rootless `synack run`).
  unsigned queue_length = 4096;
  // IFF_MULTI_QUEUE with this many queues (1..16): open() makes the interface and its first
  // queue, open_queue() each further one. The kernel gives each flow the queue that last
  // wrote a packet of it (its flow table, entries idle for 3 s forgotten), otherwise one by
  // the flow's symmetric hash: so a flow the namespace starts stays on one queue, and one we
  // start may move after 3 s of silence (`synack run --queues`, relay/steering.hpp).
  unsigned queues = 1;
};

struct TunStats {
  std::uint64_t packets_read = 0;
  std::uint64_t packets_written = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t checksums_completed = 0;  // VIRTIO_NET_HDR_F_NEEDS_CSUM packets fixed up
  std::uint64_t gso_packets_read = 0;     // TSO super-segments received
  std::uint64_t bad_vnet_headers = 0;     // packets dropped: unusable virtio_net_hdr
};

class TunDevice {
 public:
  // Opens /dev/net/tun (non-blocking, close-on-exec) and creates the interface in the calling
  // process's network namespace. Does not configure addresses or bring the link up. Errors:
  // "interface name must be 1 to 15 characters"; or a message naming the failing step and
  // errno's text (e.g. no /dev/net/tun, no CAP_NET_ADMIN, name in use, MTU out of range).
  static Expected<std::unique_ptr<TunDevice>, std::string> open(const TunConfig& config);
  // Another queue of a multi-queue interface made by open() (TunConfig::queues > 1), in the
  // same namespace; the same properties. Errors: a message with errno's text (EINVAL for an
  // interface opened with one queue, ENOENT... once it has moved).
  Expected<std::unique_ptr<TunDevice>, std::string> open_queue() const;
  // Takes over a descriptor opened by open() in another process (passed over a Unix socket
  // by `synack run`'s namespace child), with the properties it was opened with. Cannot fail;
  // a descriptor that is not a TUN fails at the first read() or write().
  static std::unique_ptr<TunDevice> adopt(int fd, std::string name, bool vnet_hdr, unsigned mtu) {
    return std::unique_ptr<TunDevice>(new TunDevice(fd, std::move(name), vnet_hdr, mtu));
  }
  // Gives up the descriptor (returned; the caller closes it) so the destructor leaves it open.
  // Cannot fail; -1 when given up already.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  ~TunDevice();  // closing the descriptor removes the (non-persistent) interface
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }  // after an `ip link set name`
  bool offload() const { return vnet_hdr_; }
  unsigned mtu() const { return mtu_; }
  // Why offloads are off although they were asked for (empty when on, or not asked for).
  const std::string& offload_note() const { return offload_note_; }

  // SIOCSIFMTU / SIOCSIFFLAGS(IFF_UP) through a socket of the calling process's namespace, so
  // only before the device moves to another one. Errors: a message with errno's text (EPERM
  // without CAP_NET_ADMIN, EINVAL for an MTU out of range, ENODEV once the device has moved).
  Expected<void, std::string> set_mtu(unsigned mtu);
  // The interface's transmit queue, in packets (SIOCSIFTXQLEN; TunConfig::queue_length).
  Expected<void, std::string> set_queue_length(unsigned packets);
  Expected<void, std::string> bring_up();

  // Reads one packet into `buffer` (resized as needed) and returns the IP packet inside it.
  // Empty span: nothing to read (EAGAIN) or a packet dropped as unusable (see stats). Errors:
  // errno of a failed read.
  Expected<std::span<std::byte>, int> read(std::vector<std::byte>& buffer);
  // Writes one IP packet. gso_size (offload on, TCP with a partial checksum): the packet
  // carries several packets' payload that the kernel cuts into gso_size-byte pieces (TSO).
  // Errors: errno (EAGAIN when the kernel pushes back).
  Expected<void, int> write(std::span<const std::byte> packet, std::uint16_t gso_size = 0);
  // The same packet in two pieces, written with one writev() so that the payload is never
  // copied in user space: `headers` (the IP and TCP headers, at least) then `payload`.
  // Errors: as write().
  Expected<void, int> write_gather(std::span<const std::byte> headers,
                                   std::span<const std::byte> payload, std::uint16_t gso_size);
  // A write error that means "not now" — the kernel pushed back (EAGAIN, or ENOBUFS from a
  // full queue) — rather than a packet that cannot be written: the caller keeps the packet
  // and writes it again once the descriptor is writable.
  static bool pushed_back(int error) {
    return error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS;
  }

  // Checksum offload, with virtio-net headers only. Receive: a packet whose checksum the
  // kernel left partial (it made the packet; it never crossed a wire) is reported by
  // last_checksum_trusted(), and completed only when complete_checksums is on (captures
  // want real checksums). Transmit: with tx_checksum_offload, TCP packets are written with
  // VIRTIO_NET_HDR_F_NEEDS_CSUM — they carry only the pseudo-header sum (wire::TcpChecksum).
  void set_complete_checksums(bool on) { complete_checksums_ = on; }
  void set_tx_checksum_offload(bool on) { tx_checksum_offload_ = on && vnet_hdr_; }
  bool last_checksum_trusted() const { return last_trusted_; }

  const TunStats& stats() const { return stats_; }

  // Buffer size read() needs: virtio header plus the largest IP packet.
  static constexpr std::size_t kReadBufferSize = 16 + 65536;
  // TunConfig::queues' bound (the kernel allows 256; one stack and thread each here).
  static constexpr unsigned kMaxQueues = 16;

 private:
  TunDevice(int fd, std::string name, bool vnet_hdr, unsigned mtu)
      : fd_(fd), name_(std::move(name)), vnet_hdr_(vnet_hdr), mtu_(mtu) {}

  int fd_ = -1;
  std::string name_;
  short flags_ = 0;  // TUNSETIFF's, for open_queue()
  bool vnet_hdr_ = false;
  unsigned mtu_ = 1500;
  std::string offload_note_;
  bool complete_checksums_ = true;
  bool tx_checksum_offload_ = false;
  bool last_trusted_ = false;
  TunStats stats_;
};

// Finishes a partial checksum the way the kernel's skb_checksum_help does: the field at
// csum_start + csum_offset holds the pseudo-header sum; the one's-complement sum from
// csum_start to the end of `packet` is folded, complemented and stored there. False when the
// offsets do not fit inside `packet` (then `packet` is left as it was).
bool complete_partial_checksum(std::span<std::byte> packet, std::size_t csum_start,
                               std::size_t csum_offset);

// RFC 1071 one's-complement sum of `data` (not complemented), folded to 16 bits, in network
// byte order as a host integer. Word-at-a-time; the link layer's fast path. Cannot fail.
std::uint16_t ones_complement_sum(std::span<const std::byte> data);

}  // namespace synack::os
