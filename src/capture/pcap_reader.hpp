// SPDX-License-Identifier: MIT
// Reads IP packets out of a pcap or pcapng capture (through libpcap, which reads both), for
// `synack decode`. Knows the link layers a TCP capture usually comes in: Ethernet (with 802.1Q /
// 802.1ad VLAN tags), raw IP, Linux cooked capture v1 and v2 (what `tcpdump -i any` writes), and
// BSD loopback (DLT_NULL / DLT_LOOP). Frames that carry no IP are counted and skipped; malformed
// frames are counted and skipped; nothing in a capture makes it crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct pcap;

namespace synack::capture {

// Link-layer types by their DLT_ / LINKTYPE_ numbers (pcap/dlt.h;
// https://www.tcpdump.org/linktypes.html).
namespace link_type {
inline constexpr int kNull = 0;         // DLT_NULL: 4-byte address family, capturing host's order
inline constexpr int kEthernet = 1;     // DLT_EN10MB
inline constexpr int kRawBsd12 = 12;    // DLT_RAW on most systems (DLT_LOOP on OpenBSD)
inline constexpr int kRawBsd14 = 14;    // DLT_RAW on BSD/OS
inline constexpr int kRaw = 101;        // LINKTYPE_RAW as stored in files
inline constexpr int kLoop = 108;       // DLT_LOOP: 4-byte address family, network order
inline constexpr int kLinuxSll = 113;   // DLT_LINUX_SLL: Linux cooked capture v1
inline constexpr int kIpv4 = 228;       // DLT_IPV4
inline constexpr int kIpv6 = 229;       // DLT_IPV6
inline constexpr int kLinuxSll2 = 276;  // DLT_LINUX_SLL2: Linux cooked capture v2
}  // namespace link_type

// "EN10MB (Ethernet)", "LINUX_SLL2 (Linux cooked v2)", ... for messages.
std::string link_type_name(int dlt);
bool link_type_supported(int dlt);

// What one frame holds once its link header is taken off.
struct LinkPayload {
  enum class Kind : std::uint8_t {
    Ip,         // `ip` is an IPv4 or IPv6 packet (by its version nibble)
    NotIp,      // a well-formed frame of another protocol (ARP, LLDP, ...)
    Malformed,  // shorter than its link header, or an IP frame whose version nibble is wrong
  };
  Kind kind = Kind::Malformed;
  std::span<const std::byte> ip;  // points into the frame
  std::size_t link_header = 0;    // bytes taken off the front
};

// Takes the link header off one frame of link type `dlt`. Pure: tests feed it frames directly.
LinkPayload strip_link_header(int dlt, std::span<const std::byte> frame);

// One IP packet read from the capture.
struct CapturedIpPacket {
  std::uint64_t frame_number = 0;  // 1-based, counting every frame of the file (as Wireshark)
  std::int64_t unix_us = 0;        // capture timestamp, microseconds since the Unix epoch
  // The IP packet. When the capture's snap length cut the frame (caplen < len), the bytes are
  // zero-padded up to the length the frame had on the wire, so headers still parse and the
  // payload length is right; `truncated` says so.
  std::span<const std::byte> ip;
  bool truncated = false;
};

struct PcapReaderStats {
  std::uint64_t frames = 0;  // every record read
  std::uint64_t ip_packets = 0;
  std::uint64_t not_ip = 0;  // frames of other protocols
  std::uint64_t malformed =
      0;  // frames too short for their link header, or not IP where IP was due
  std::uint64_t truncated = 0;  // frames cut by the snap length (padded, still yielded)
};

class PcapReader {
 public:
  // Opens a pcap or pcapng file. Returns nullptr and fills *error when the file cannot be read
  // or its link type is not one listed above.
  static std::unique_ptr<PcapReader> open(const std::string& path, std::string* error);

  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;
  ~PcapReader();

  // The next IP packet, skipping (and counting) frames that hold none; nullopt at the end of the
  // file or when the file is cut short (then error() says why). The span stays valid until the
  // next call.
  std::optional<CapturedIpPacket> next();

  int link_type() const { return dlt_; }
  const PcapReaderStats& stats() const { return stats_; }
  // Empty, or libpcap's message when reading stopped early (e.g. "truncated dump file").
  const std::string& error() const { return error_; }

 private:
  PcapReader(pcap* handle, int dlt) : handle_(handle), dlt_(dlt) {}

  pcap* handle_;
  int dlt_;
  PcapReaderStats stats_;
  std::string error_;
  std::vector<std::byte> padded_;  // holds a truncated frame's packet, zero-padded
};

}  // namespace synack::capture
