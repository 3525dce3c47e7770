// SPDX-License-Identifier: MIT
#include "synack/pcap.hpp"

#include <pcap/pcap.h>

#include <algorithm>

namespace synack::capture {

namespace {
constexpr int kSnapLength = 65535;
}  // namespace

std::unique_ptr<PcapWriter> PcapWriter::open(const std::string& path, std::string* error,
                                             std::int64_t unix_us_at_zero) {
  // DLT_RAW is written to the file as LINKTYPE_RAW (101): no link header, IPv4 or IPv6 by the
  // version nibble.
  pcap_t* handle = pcap_open_dead(DLT_RAW, kSnapLength);
  if (handle == nullptr) {
    if (error != nullptr) *error = "pcap_open_dead failed";
    return nullptr;
  }
  pcap_dumper_t* dumper = pcap_dump_open(handle, path.c_str());
  if (dumper == nullptr) {
    if (error != nullptr) *error = pcap_geterr(handle);
    pcap_close(handle);
    return nullptr;
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(handle, dumper, unix_us_at_zero));
}

PcapWriter::~PcapWriter() {
  pcap_dump_close(dumper_);  // flushes
  pcap_close(handle_);
}

void PcapWriter::write(std::span<const std::byte> ip_packet, Instant at) {
  const std::int64_t unix_us = unix_us_at_zero_ + to_us(at);
  // Floor division so an instant before the epoch still gets 0 <= tv_usec < 1e6.
  std::int64_t seconds = unix_us / 1'000'000;
  std::int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    seconds -= 1;
  }
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(seconds);
  header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(micros);
  header.len = static_cast<bpf_u_int32>(ip_packet.size());
  header.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(ip_packet.size(), kSnapLength));
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header,
            reinterpret_cast<const u_char*>(ip_packet.data()));
  ++packets_written_;
}

void PcapWriter::flush() { pcap_dump_flush(dumper_); }

}  // namespace synack::capture
