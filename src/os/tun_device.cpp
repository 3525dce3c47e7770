// SPDX-License-Identifier: MIT
// Linux TUN: /dev/net/tun, TUNSETIFF, optional virtio-net header with TSO (see
// Documentation/networking/tuntap.rst and include/uapi/linux/virtio_net.h).
#include "synack/tun_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

namespace synack::os {
namespace {

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h, which does not compile as C++: it
// has a field named `class`), read at named offsets. Multi-byte fields are little-endian on a
// TUN unless TUNSETVNETBE was used (we do not).
constexpr std::size_t kVnetHeaderSize = 10;
constexpr std::size_t kVnetFlags = 0;           // u8
constexpr std::size_t kVnetGsoType = 1;         // u8
constexpr std::size_t kVnetHdrLen = 2;          // le16
constexpr std::size_t kVnetGsoSize = 4;         // le16
constexpr std::size_t kVnetCsumStart = 6;       // le16
constexpr std::size_t kVnetCsumOffset = 8;      // le16
constexpr std::uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
constexpr std::uint8_t kVnetGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
constexpr std::uint8_t kVnetGsoEcn = 0x80;      // VIRTIO_NET_HDR_GSO_ECN
constexpr std::uint8_t kVnetGsoTcpV4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4
constexpr std::uint8_t kVnetGsoTcpV6 = 4;       // VIRTIO_NET_HDR_GSO_TCPV6

std::uint16_t load_le16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(b[at]) |
                                    (static_cast<unsigned>(b[at + 1]) << 8));
}

constexpr std::size_t kTcpChecksumField = 16;  // RFC 9293 §3.1

// Where the TCP header starts in an IP packet we built (no IPv6 extension headers), or
// nullopt for other protocols.
std::optional<std::size_t> tcp_header_offset(std::span<const std::byte> packet) {
  if (packet.empty()) return std::nullopt;
  const auto version = static_cast<unsigned>(packet[0]) >> 4;
  if (version == 4 && packet.size() >= 20) {
    if (static_cast<unsigned>(packet[9]) != 6) return std::nullopt;
    return (static_cast<std::size_t>(packet[0]) & 0x0f) * 4;
  }
  if (version == 6 && packet.size() >= 40 && static_cast<unsigned>(packet[6]) == 6) return 40;
  return std::nullopt;
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// An ifreq naming `name`, for the SIOC* ioctls.
ifreq make_ifreq(const std::string& name) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ifr;
}

// One SIOC* ioctl on `ifr`, through a throwaway socket of the calling thread's namespace (an
// interface is named there). Empty on success, else what failed and why.
std::string interface_ioctl(unsigned long request, ifreq& ifr, const std::string& what) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) sock = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno_text("socket", errno);
  int rc = ::ioctl(sock, request, &ifr);
  int err = errno;
  ::close(sock);
  return rc < 0 ? errno_text(what.c_str(), err) : std::string();
}

// Opens the device and attaches it to interface `name` with `flags`. Returns the fd or -errno;
// `actual` receives the kernel's name for it.
int open_tun(const std::string& name, short flags, std::string& actual) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  ifreq ifr = make_ifreq(name);
  ifr.ifr_flags = flags;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  actual.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  return fd;
}

// TUNSETVNETHDRSZ and TUNSETOFFLOAD on a descriptor opened with IFF_VNET_HDR. Empty on
// success, else what failed and why.
std::string set_vnet_offloads(int fd) {
  int header_size = static_cast<int>(kVnetHeaderSize);
  // TUN_F_CSUM: the kernel may hand us packets whose checksum is partial; TSO4/TSO6: and TCP
  // segments up to 64 KiB that we never split (we are the endpoint).
  unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (::ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0) return errno_text("TUNSETVNETHDRSZ", errno);
  if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0) return errno_text("TUNSETOFFLOAD", errno);
  return {};
}

}  // namespace

std::uint16_t ones_complement_sum(std::span<const std::byte> data) {
  // RFC 1071 §2 (B): the sum is byte-order independent, so add native 32-bit words into a
  // 64-bit accumulator (no carry is lost below 2^32 words) and swap once at the end.
  std::uint64_t sum = 0;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  while (n >= 32) {
    std::uint32_t w[8];
    std::memcpy(w, p, sizeof w);
    sum += static_cast<std::uint64_t>(w[0]) + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
    p += 32;
    n -= 32;
  }
  while (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    sum += w;
    p += 4;
    n -= 4;
  }
  while (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // An odd last byte is the first byte of a word padded with zero (RFC 1071 §4.1).
    std::byte pad[2] = {*p, std::byte{0}};
    std::uint16_t w;
    std::memcpy(&w, pad, 2);
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  auto folded = static_cast<std::uint16_t>(sum);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  return folded;
}

bool complete_partial_checksum(std::span<std::byte> packet, std::size_t csum_start,
                               std::size_t csum_offset) {
  if (csum_start > packet.size() || csum_offset + 2 > packet.size() - csum_start) return false;
  std::uint16_t sum = ones_complement_sum(packet.subspan(csum_start));
  auto checksum = static_cast<std::uint16_t>(~sum);
  std::size_t at = csum_start + csum_offset;
  packet[at] = static_cast<std::byte>(checksum >> 8);
  packet[at + 1] = static_cast<std::byte>(checksum & 0xff);
  return true;
}

Expected<std::unique_ptr<TunDevice>, std::string> TunDevice::open(const TunConfig& config) {
  if (config.name.empty() || config.name.size() >= IFNAMSIZ)
    return Unexpected{std::string("interface name must be 1 to 15 characters")};
  if (config.queues < 1 || config.queues > kMaxQueues)
    return Unexpected{std::string("queues: expected 1 to ") + std::to_string(kMaxQueues)};
  // Documentation/networking/tuntap.rst §3.3: every queue is a TUNSETIFF with the same name
  // and IFF_MULTI_QUEUE.
  const short multi = config.queues > 1 ? IFF_MULTI_QUEUE : 0;
  std::string actual;
  std::string note;
  int fd = -1;
  bool vnet = false;
  short flags = 0;
  if (config.offload) {
    flags = static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | multi);
    fd = open_tun(config.name, flags, actual);
    if (fd >= 0) {
      if (auto failed = set_vnet_offloads(fd); failed.empty()) {
        vnet = true;
      } else {
        note = failed;
        ::close(fd);
        fd = -1;
      }
    } else if (fd == -ENOENT || fd == -EACCES || fd == -EPERM) {
      return Unexpected{errno_text("cannot open /dev/net/tun", -fd)};
    } else {
      note = errno_text("TUNSETIFF with IFF_VNET_HDR", -fd);
    }
  }
  if (fd < 0) {
    flags = static_cast<short>(IFF_TUN | IFF_NO_PI | multi);
    fd = open_tun(config.name, flags, actual);
    if (fd < 0) {
      return Unexpected{errno_text(("cannot create TUN interface " + config.name).c_str(), -fd)};
    }
  }
  auto device = std::unique_ptr<TunDevice>(new TunDevice(fd, actual, vnet, 1500));
  device->flags_ = flags;
  device->offload_note_ = note;
  if (auto r = device->set_mtu(config.mtu); !r) return Unexpected{r.error()};
  // Where the kernel does not permit it (a user namespace's TUN: EPERM), the queue keeps the
  // kernel's length; nothing else depends on it.
  if (config.queue_length) (void)device->set_queue_length(config.queue_length);
  return device;
}

Expected<std::unique_ptr<TunDevice>, std::string> TunDevice::open_queue() const {
  if (!(flags_ & IFF_MULTI_QUEUE))
    return Unexpected{std::string("another queue: ") + name_ + " has one queue"};
  std::string actual;
  int fd = open_tun(name_, flags_, actual);
  if (fd < 0) return Unexpected{errno_text(("another queue of " + name_).c_str(), -fd)};
  // The offloads are the interface's, but each queue's file announces its own header size.
  if (vnet_hdr_) {
    if (auto failed = set_vnet_offloads(fd); !failed.empty()) {
      ::close(fd);
      return Unexpected{failed};
    }
  }
  auto device = std::unique_ptr<TunDevice>(new TunDevice(fd, actual, vnet_hdr_, mtu_));
  device->flags_ = flags_;
  return device;
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<void, std::string> TunDevice::set_queue_length(unsigned packets) {
  ifreq ifr = make_ifreq(name_);
  ifr.ifr_qlen = static_cast<int>(packets);
  auto failed = interface_ioctl(SIOCSIFTXQLEN, ifr, "SIOCSIFTXQLEN " + std::to_string(packets));
  if (!failed.empty()) return Unexpected{failed};
  return {};
}

Expected<void, std::string> TunDevice::set_mtu(unsigned mtu) {
  ifreq ifr = make_ifreq(name_);
  ifr.ifr_mtu = static_cast<int>(mtu);
  auto failed = interface_ioctl(SIOCSIFMTU, ifr, "SIOCSIFMTU " + std::to_string(mtu));
  if (!failed.empty()) return Unexpected{failed};
  mtu_ = mtu;
  return {};
}

Expected<void, std::string> TunDevice::bring_up() {
  ifreq ifr = make_ifreq(name_);
  auto failed = interface_ioctl(SIOCGIFFLAGS, ifr, "SIOCSIFFLAGS IFF_UP");
  if (failed.empty()) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    failed = interface_ioctl(SIOCSIFFLAGS, ifr, "SIOCSIFFLAGS IFF_UP");
  }
  if (!failed.empty()) return Unexpected{failed};
  return {};
}

Expected<std::span<std::byte>, int> TunDevice::read(std::vector<std::byte>& buffer) {
  if (buffer.size() < kReadBufferSize) buffer.resize(kReadBufferSize);
  ssize_t n = ::read(fd_, buffer.data(), buffer.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::span<std::byte>{};
    return Unexpected{errno};
  }
  std::span<std::byte> packet(buffer.data(), static_cast<std::size_t>(n));
  if (vnet_hdr_) {
    if (packet.size() < kVnetHeaderSize) {
      ++stats_.bad_vnet_headers;
      return std::span<std::byte>{};
    }
    const std::span<const std::byte> header = packet.first(kVnetHeaderSize);
    const auto flags = static_cast<std::uint8_t>(header[kVnetFlags]);
    const auto gso_type = static_cast<std::uint8_t>(header[kVnetGsoType]);
    const std::uint16_t csum_start = load_le16(header, kVnetCsumStart);
    const std::uint16_t csum_offset = load_le16(header, kVnetCsumOffset);
    packet = packet.subspan(kVnetHeaderSize);
    last_trusted_ = false;
    if (flags & kVnetFlagNeedsCsum) {
      // The kernel's own packet with the checksum left to the device (CHECKSUM_PARTIAL):
      // nothing to verify. Finished here only when someone will look at it.
      if (csum_start >= packet.size() || csum_offset + 2u > packet.size() - csum_start) {
        ++stats_.bad_vnet_headers;
        return std::span<std::byte>{};
      }
      last_trusted_ = true;
      if (complete_checksums_) {
        (void)complete_partial_checksum(packet, csum_start, csum_offset);
        ++stats_.checksums_completed;
      }
    } else if (flags & kVnetFlagDataValid) {
      last_trusted_ = true;
    }
    if ((gso_type & ~kVnetGsoEcn) != kVnetGsoNone) ++stats_.gso_packets_read;
  }
  ++stats_.packets_read;
  stats_.bytes_read += packet.size();
  return packet;
}

Expected<void, int> TunDevice::write(std::span<const std::byte> packet, std::uint16_t gso_size) {
  return write_gather(packet, {}, gso_size);
}

Expected<void, int> TunDevice::write_gather(std::span<const std::byte> headers,
                                            std::span<const std::byte> payload,
                                            std::uint16_t gso_size) {
  // The headers span holds at least the IP and TCP headers (a whole packet when payload is
  // empty): everything the virtio-net header is computed from.
  iovec iov[3];
  int count = 0;
  std::byte header[kVnetHeaderSize] = {};
  if (vnet_hdr_) {
    // A zeroed header: GSO_NONE, and no checksum offload unless this is a TCP packet whose
    // checksum we left for the kernel to finish.
    if (tx_checksum_offload_) {
      if (auto start = tcp_header_offset(headers)) {
        header[kVnetFlags] = std::byte{kVnetFlagNeedsCsum};
        header[kVnetCsumStart] = static_cast<std::byte>(*start & 0xff);
        header[kVnetCsumStart + 1] = static_cast<std::byte>(*start >> 8);
        header[kVnetCsumOffset] = static_cast<std::byte>(kTcpChecksumField);
        const std::size_t tcp_header =
            headers.size() > *start + 12 ? (static_cast<std::size_t>(headers[*start + 12]) >> 4) * 4
                                         : 0;
        if (gso_size && tcp_header) {
          // TSO: the kernel cuts the payload into gso_size pieces, each with these headers.
          const bool v4 = (static_cast<unsigned>(headers[0]) >> 4) == 4;
          header[kVnetGsoType] = std::byte{v4 ? kVnetGsoTcpV4 : kVnetGsoTcpV6};
          const std::size_t hdr_len = *start + tcp_header;
          header[kVnetHdrLen] = static_cast<std::byte>(hdr_len & 0xff);
          header[kVnetHdrLen + 1] = static_cast<std::byte>(hdr_len >> 8);
          header[kVnetGsoSize] = static_cast<std::byte>(gso_size & 0xff);
          header[kVnetGsoSize + 1] = static_cast<std::byte>(gso_size >> 8);
        }
      }
    }
    iov[count++] = {header, kVnetHeaderSize};
  }
  iov[count++] = {const_cast<std::byte*>(headers.data()), headers.size()};
  if (!payload.empty()) iov[count++] = {const_cast<std::byte*>(payload.data()), payload.size()};
  const ssize_t n =
      count == 1 ? ::write(fd_, headers.data(), headers.size()) : ::writev(fd_, iov, count);
  if (n < 0) return Unexpected{errno};
  ++stats_.packets_written;
  stats_.bytes_written += headers.size() + payload.size();
  return {};
}

}  // namespace synack::os
