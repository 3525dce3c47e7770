// SPDX-License-Identifier: MIT
#include "synack/pcap.hpp"

#include <pcap/pcap.h>

#include <algorithm>

namespace synack::capture {

namespace {

constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr std::uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q
constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;     // IEEE 802.1ad (outer tag)
constexpr std::uint16_t kEtherTypeQinQOld = 0x9100;  // pre-standard double tagging
constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kVlanTag = 4;
constexpr int kMaxVlanTags = 4;
constexpr std::size_t kSllHeader = 16;  // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
constexpr std::size_t kSll2Header =
    20;  // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html
constexpr std::size_t kNullHeader = 4;
// A snap-length-cut frame is padded back to its wire length, but never beyond this.
constexpr std::size_t kMaxPaddedPacket = 256 * 1024;

std::uint16_t load_be16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[at]) << 8) |
                                    std::to_integer<unsigned>(b[at + 1]));
}

std::uint32_t load_be32(std::span<const std::byte> b, std::size_t at) {
  return (std::uint32_t{load_be16(b, at)} << 16) | load_be16(b, at + 2);
}

unsigned ip_version(std::span<const std::byte> ip) {
  return ip.empty() ? 0u : std::to_integer<unsigned>(ip[0]) >> 4;
}

// An IP payload whose version nibble must be `want` (0: either 4 or 6).
LinkPayload ip_payload(std::span<const std::byte> frame, std::size_t header, unsigned want) {
  LinkPayload out;
  out.link_header = header;
  if (frame.size() <= header) return out;  // Malformed: nothing after the link header
  auto ip = frame.subspan(header);
  unsigned v = ip_version(ip);
  if ((want == 0 && v != 4 && v != 6) || (want != 0 && v != want)) return out;
  out.kind = LinkPayload::Kind::Ip;
  out.ip = ip;
  return out;
}

LinkPayload by_ethertype(std::span<const std::byte> frame, std::size_t header,
                         std::uint16_t ethertype) {
  if (ethertype == kEtherTypeIpv4) return ip_payload(frame, header, 4);
  if (ethertype == kEtherTypeIpv6) return ip_payload(frame, header, 6);
  LinkPayload out;
  out.kind = LinkPayload::Kind::NotIp;
  out.link_header = header;
  return out;
}

LinkPayload strip_ethernet(std::span<const std::byte> frame) {
  if (frame.size() < kEthernetHeader) return {};
  std::size_t type_at = 12;
  std::uint16_t ethertype = load_be16(frame, type_at);
  // 802.1Q / 802.1ad tags sit between the source address and the real EtherType.
  for (int tags = 0;
       ethertype == kEtherTypeVlan || ethertype == kEtherTypeQinQ || ethertype == kEtherTypeQinQOld;
       ++tags) {
    if (tags == kMaxVlanTags || frame.size() < type_at + kVlanTag + 2) return {};
    type_at += kVlanTag;
    ethertype = load_be16(frame, type_at);
  }
  return by_ethertype(frame, type_at + 2, ethertype);
}

// DLT_NULL / DLT_LOOP: a 4-byte address family. Its byte order is the capturing host's for
// DLT_NULL and network order for DLT_LOOP; accept either. AF_INET6 differs between systems
// (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
LinkPayload strip_null(std::span<const std::byte> frame) {
  if (frame.size() < kNullHeader) return {};
  std::uint32_t be = load_be32(frame, 0);
  std::uint32_t le = ((be & 0xFF) << 24) | ((be & 0xFF00) << 8) | ((be >> 8) & 0xFF00) | (be >> 24);
  std::uint32_t family = be < 256 ? be : le;
  if (family == 2) return ip_payload(frame, kNullHeader, 4);
  if (family == 10 || family == 24 || family == 28 || family == 30)
    return ip_payload(frame, kNullHeader, 6);
  LinkPayload out;
  out.kind = LinkPayload::Kind::NotIp;
  out.link_header = kNullHeader;
  return out;
}

}  // namespace

std::string link_type_name(int dlt) {
  const char* name = pcap_datalink_val_to_name(dlt);
  const char* description = pcap_datalink_val_to_description(dlt);
  std::string out = name ? name : "DLT " + std::to_string(dlt);
  if (description) out += std::string(" (") + description + ")";
  return out;
}

bool link_type_supported(int dlt) {
  switch (dlt) {
    case link_type::kNull:
    case link_type::kEthernet:
    case link_type::kRawBsd12:
    case link_type::kRawBsd14:
    case link_type::kRaw:
    case link_type::kLoop:
    case link_type::kLinuxSll:
    case link_type::kIpv4:
    case link_type::kIpv6:
    case link_type::kLinuxSll2:
      return true;
    default:
      return false;
  }
}

LinkPayload strip_link_header(int dlt, std::span<const std::byte> frame) {
  switch (dlt) {
    case link_type::kEthernet:
      return strip_ethernet(frame);
    case link_type::kRawBsd12:
    case link_type::kRawBsd14:
    case link_type::kRaw:
      return ip_payload(frame, 0, 0);
    case link_type::kIpv4:
      return ip_payload(frame, 0, 4);
    case link_type::kIpv6:
      return ip_payload(frame, 0, 6);
    case link_type::kLinuxSll:
      // packet type(2) ARPHRD type(2) address length(2) address(8) protocol(2)
      if (frame.size() < kSllHeader) return {};
      return by_ethertype(frame, kSllHeader, load_be16(frame, 14));
    case link_type::kLinuxSll2:
      // protocol(2) reserved(2) interface index(4) ARPHRD type(2) packet type(1)
      // address length(1) address(8)
      if (frame.size() < kSll2Header) return {};
      return by_ethertype(frame, kSll2Header, load_be16(frame, 0));
    case link_type::kNull:
    case link_type::kLoop:
      return strip_null(frame);
    default: {
      LinkPayload out;
      out.kind = LinkPayload::Kind::NotIp;
      return out;
    }
  }
}

std::unique_ptr<PcapReader> PcapReader::open(const std::string& path, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Microsecond timestamps whatever the file holds (pcapng and nanosecond pcap are scaled).
  pcap_t* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (handle == nullptr) {
    if (error) *error = errbuf;
    return nullptr;
  }
  int dlt = pcap_datalink(handle);
  if (!link_type_supported(dlt)) {
    if (error)
      *error = "link type " + link_type_name(dlt) +
               " is not supported (Ethernet, raw IP, Linux cooked v1/v2 and BSD loopback are)";
    pcap_close(handle);
    return nullptr;
  }
  return std::unique_ptr<PcapReader>(new PcapReader(handle, dlt));
}

PcapReader::~PcapReader() { pcap_close(handle_); }

std::optional<CapturedIpPacket> PcapReader::next() {
  for (;;) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(handle_, &header, &data);
    if (rc == PCAP_ERROR_BREAK) return std::nullopt;  // end of file
    if (rc != 1) {
      error_ = pcap_geterr(handle_);
      return std::nullopt;
    }
    ++stats_.frames;
    auto frame = std::as_bytes(std::span<const u_char>(data, header->caplen));
    LinkPayload payload = strip_link_header(dlt_, frame);
    if (payload.kind == LinkPayload::Kind::NotIp) {
      ++stats_.not_ip;
      continue;
    }
    if (payload.kind == LinkPayload::Kind::Malformed) {
      ++stats_.malformed;
      continue;
    }
    ++stats_.ip_packets;
    CapturedIpPacket out;
    out.frame_number = stats_.frames;
    out.unix_us = static_cast<std::int64_t>(header->ts.tv_sec) * 1'000'000 +
                  static_cast<std::int64_t>(header->ts.tv_usec);
    out.ip = payload.ip;
    if (header->len > header->caplen) {
      // Cut by the snap length: pad back to the wire length so the IP and TCP headers'
      // lengths still hold; only the payload's bytes are missing, and decode needs its length.
      ++stats_.truncated;
      std::size_t wire = std::min<std::size_t>(header->len - payload.link_header, kMaxPaddedPacket);
      padded_.assign(payload.ip.begin(), payload.ip.end());
      if (padded_.size() < wire) padded_.resize(wire, std::byte{0});
      out.ip = padded_;
      out.truncated = true;
    }
    return out;
  }
}

}  // namespace synack::capture
