// SPDX-License-Identifier: MIT
// pcap captures, written and read through libpcap (public API of libsynack-link, synack::link).
//
// PcapWriter writes raw IP packets (LINKTYPE_RAW: each record starts at the IPv4 or IPv6 header),
// readable by Wireshark, tshark and tcpdump. PcapReader reads IP packets out of a pcap or pcapng
// capture, for `synack decode`. It knows the link layers a TCP capture usually comes in: Ethernet
// (with 802.1Q / 802.1ad VLAN tags), raw IP, Linux cooked capture v1 and v2 (what `tcpdump -i
// any` writes), and BSD loopback (DLT_NULL / DLT_LOOP). Frames that carry no IP are counted and
// skipped; malformed frames are counted and skipped; nothing in a capture makes it crash.
//
// Errors are values: open() returns nullptr with a message; nothing here throws (beyond
// std::bad_alloc). Functions whose comment names no error cannot fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "synack/time.hpp"

// libpcap's handles, declared here so users of this header need not include <pcap.h>.
struct pcap;
struct pcap_dumper;

namespace synack::capture {

// Unix time (µs) that Instant 0 is written as by default: 2026-01-01T00:00:00Z. Simulated time
// starts at 0, and a capture dated 1970 looks like a bug in Wireshark; a fixed date keeps
// captures of the same scenario byte-identical. A real-time driver passes its own offset.
inline constexpr std::int64_t kPcapDefaultEpochUs = 1'767'225'600'000'000;

class PcapWriter {
 public:
  // Creates (truncates) `path` and writes the pcap file header (microsecond timestamps,
  // snaplen 65535, LINKTYPE_RAW). A record for a packet at Instant `t` carries the Unix time
  // `unix_us_at_zero + to_us(t)`. Returns nullptr and fills *error (if non-null) with libpcap's
  // message when the file cannot be created.
  static std::unique_ptr<PcapWriter> open(const std::string& path, std::string* error,
                                          std::int64_t unix_us_at_zero = kPcapDefaultEpochUs);

  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter();  // flushes and closes

  // Appends one record. Packets longer than the snaplen are truncated in the file (the record
  // keeps the original length). Records are buffered; call flush() to make them visible.
  // Errors: none reported — libpcap's pcap_dump has no status, so a record the file system
  // refuses (disk full) is lost without a word; packets_written() counts records handed over.
  void write(std::span<const std::byte> ip_packet, Instant at);
  // Pushes buffered records to the file. Errors: none reported (as write()).
  void flush();

  std::uint64_t packets_written() const { return packets_written_; }

 private:
  PcapWriter(pcap* handle, pcap_dumper* dumper, std::int64_t unix_us_at_zero)
      : handle_(handle), dumper_(dumper), unix_us_at_zero_(unix_us_at_zero) {}

  pcap* handle_;
  pcap_dumper* dumper_;
  std::int64_t unix_us_at_zero_;
  std::uint64_t packets_written_ = 0;
};

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

// "EN10MB (Ethernet)", "LINUX_SLL2 (Linux cooked v2)", ... for messages; "DLT n" for a number
// libpcap does not know. Cannot fail.
std::string link_type_name(int dlt);
// Whether strip_link_header() and PcapReader understand link type `dlt` (the list above).
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
// Errors: none thrown; a frame it cannot use comes back as Kind::NotIp or Kind::Malformed.
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
  // Opens a pcap or pcapng file. Errors: returns nullptr and fills *error (if non-null) with
  // libpcap's message when the file cannot be opened or is not a capture, or with the link
  // type's name when it is not one listed above.
  static std::unique_ptr<PcapReader> open(const std::string& path, std::string* error);

  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;
  ~PcapReader();

  // The next IP packet, skipping (and counting) frames that hold none; nullopt at the end of the
  // file. Errors: nullopt too when the file is cut short or unreadable — then error() is
  // non-empty and says why. The span stays valid until the next call.
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
