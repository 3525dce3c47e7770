// SPDX-License-Identifier: MIT
// pcap capture of raw IP packets (LINKTYPE_RAW: each record starts at the IPv4 or IPv6 header),
// readable by Wireshark, tshark and tcpdump. Written through libpcap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

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
  void write(std::span<const std::byte> ip_packet, Instant at);
  // Pushes buffered records to the file.
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

}  // namespace synack::capture
