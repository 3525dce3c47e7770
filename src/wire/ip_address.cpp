// SPDX-License-Identifier: MIT
// IpAddress text forms, written by hand: the core links no libc networking (no inet_pton).
#include "wire/ip_address.hpp"

#include <cstddef>

namespace synack::wire {

namespace {

constexpr std::size_t kV6Groups = 8;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted quad: exactly four decimal parts 0..255. A leading zero ("01") is rejected, as
// glibc's inet_pton does, because other parsers read it as octal.
std::optional<std::array<std::uint8_t, 4>> parse_dotted_quad(std::string_view text) {
  std::array<std::uint8_t, 4> out{};
  std::size_t part = 0;
  std::size_t i = 0;
  while (true) {
    if (i >= text.size() || !is_digit(text[i])) return std::nullopt;
    unsigned value = 0;
    std::size_t digits = 0;
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++digits;
      ++i;
      if (digits > 3) return std::nullopt;
    }
    if (value > 255) return std::nullopt;
    if (digits > 1 && text[start] == '0') return std::nullopt;
    out[part++] = static_cast<std::uint8_t>(value);
    if (part == 4) break;
    if (i >= text.size() || text[i] != '.') return std::nullopt;
    ++i;
  }
  if (i != text.size()) return std::nullopt;
  return out;
}

// Parses colon-separated hex groups ("1:ab:ffff"); an empty string is zero groups. When
// `allow_trailing_v4`, the last piece may be a dotted quad worth two groups (RFC 4291 §2.2
// form 3, e.g. "::ffff:192.0.2.1"). Returns the number of groups written.
std::optional<std::size_t> parse_groups(std::string_view text, bool allow_trailing_v4,
                                        std::array<std::uint16_t, kV6Groups>& out) {
  std::size_t count = 0;
  if (text.empty()) return count;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = text.find(':', start);
    const std::string_view piece = text.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    const bool last = colon == std::string_view::npos;
    if (piece.empty()) return std::nullopt;
    if (last && allow_trailing_v4 && piece.find('.') != std::string_view::npos) {
      const auto quad = parse_dotted_quad(piece);
      if (!quad || count + 2 > kV6Groups) return std::nullopt;
      out[count++] = static_cast<std::uint16_t>(((*quad)[0] << 8) | (*quad)[1]);
      out[count++] = static_cast<std::uint16_t>(((*quad)[2] << 8) | (*quad)[3]);
      return count;
    }
    if (piece.size() > 4 || count == kV6Groups) return std::nullopt;
    unsigned value = 0;
    for (char c : piece) {
      const int h = hex_value(c);
      if (h < 0) return std::nullopt;
      value = (value << 4) | static_cast<unsigned>(h);
    }
    out[count++] = static_cast<std::uint16_t>(value);
    if (last) return count;
    start = colon + 1;
  }
}

// RFC 4291 §2.2 text forms, with at most one "::" standing for one or more zero groups.
// Zone identifiers ("fe80::1%eth0") are not addresses and are rejected.
std::optional<IpAddress> parse_v6(std::string_view text) {
  std::array<std::uint16_t, kV6Groups> head{};
  std::array<std::uint16_t, kV6Groups> tail{};
  std::size_t head_count = 0;
  std::size_t tail_count = 0;
  const std::size_t gap = text.find("::");
  if (gap == std::string_view::npos) {
    const auto n = parse_groups(text, true, head);
    if (!n || *n != kV6Groups) return std::nullopt;
    head_count = *n;
  } else {
    if (text.find("::", gap + 1) != std::string_view::npos) return std::nullopt;
    const auto h = parse_groups(text.substr(0, gap), false, head);
    const auto t = parse_groups(text.substr(gap + 2), true, tail);
    if (!h || !t) return std::nullopt;
    head_count = *h;
    tail_count = *t;
    // "::" replaces at least one group.
    if (head_count + tail_count > kV6Groups - 1) return std::nullopt;
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < head_count; ++i) {
    bytes[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    bytes[2 * i + 1] = static_cast<std::uint8_t>(head[i] & 0xff);
  }
  for (std::size_t i = 0; i < tail_count; ++i) {
    const std::size_t g = kV6Groups - tail_count + i;
    bytes[2 * g] = static_cast<std::uint8_t>(tail[i] >> 8);
    bytes[2 * g + 1] = static_cast<std::uint8_t>(tail[i] & 0xff);
  }
  return IpAddress::v6(bytes);
}

void append_decimal(std::string& out, unsigned v) {
  char digits[10];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(digits[--n]);
}

void append_dotted(std::string& out, std::uint8_t a, std::uint8_t b, std::uint8_t c,
                   std::uint8_t d) {
  append_decimal(out, a);
  out.push_back('.');
  append_decimal(out, b);
  out.push_back('.');
  append_decimal(out, c);
  out.push_back('.');
  append_decimal(out, d);
}

// RFC 5952 §4.1: no leading zeros; §4.3: lowercase.
void append_hex_group(std::string& out, std::uint16_t v) {
  constexpr char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (v >> shift) & 0xf;
    if (nibble != 0 || started || shift == 0) {
      out.push_back(kHex[nibble]);
      started = true;
    }
  }
}

}  // namespace

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress addr;
  addr.family = Family::V4;
  addr.bytes[0] = a;
  addr.bytes[1] = b;
  addr.bytes[2] = c;
  addr.bytes[3] = d;
  return addr;
}

IpAddress IpAddress::v4_from_u32(std::uint32_t host_order) {
  return v4(static_cast<std::uint8_t>(host_order >> 24),
            static_cast<std::uint8_t>((host_order >> 16) & 0xff),
            static_cast<std::uint8_t>((host_order >> 8) & 0xff),
            static_cast<std::uint8_t>(host_order & 0xff));
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& b) {
  IpAddress addr;
  addr.family = Family::V6;
  addr.bytes = b;
  return addr;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return parse_v6(text);
  const auto quad = parse_dotted_quad(text);
  if (!quad) return std::nullopt;
  return v4((*quad)[0], (*quad)[1], (*quad)[2], (*quad)[3]);
}

std::uint32_t IpAddress::v4_u32() const {
  return (static_cast<std::uint32_t>(bytes[0]) << 24) |
         (static_cast<std::uint32_t>(bytes[1]) << 16) |
         (static_cast<std::uint32_t>(bytes[2]) << 8) | static_cast<std::uint32_t>(bytes[3]);
}

std::string IpAddress::to_string() const {
  std::string out;
  if (is_v4()) {
    append_dotted(out, bytes[0], bytes[1], bytes[2], bytes[3]);
    return out;
  }
  // RFC 5952 §5: IPv4-mapped addresses print their last 32 bits as a dotted quad.
  bool mapped = bytes[10] == 0xff && bytes[11] == 0xff;
  for (std::size_t i = 0; i < 10 && mapped; ++i) mapped = bytes[i] == 0;
  if (mapped) {
    out = "::ffff:";
    append_dotted(out, bytes[12], bytes[13], bytes[14], bytes[15]);
    return out;
  }
  std::array<std::uint16_t, kV6Groups> groups{};
  for (std::size_t i = 0; i < kV6Groups; ++i) {
    groups[i] = static_cast<std::uint16_t>((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  }
  // RFC 5952 §4.2.1-4.2.3: "::" replaces the longest run of zero groups, the first one on a
  // tie, and never a single zero group.
  std::size_t best_start = kV6Groups;
  std::size_t best_length = 1;
  for (std::size_t i = 0; i < kV6Groups;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < kV6Groups && groups[j] == 0) ++j;
    if (j - i > best_length) {
      best_start = i;
      best_length = j - i;
    }
    i = j;
  }
  for (std::size_t i = 0; i < kV6Groups; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_length - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out.push_back(':');
    append_hex_group(out, groups[i]);
  }
  return out;
}

std::size_t IpAddress::hash() const {
  // FNV-1a over family and address bytes. Not keyed: a table exposed to remote peers
  // should mix in a secret of its own.
  std::uint64_t h = 14695981039346656037ull;
  h = (h ^ static_cast<std::uint8_t>(family)) * 1099511628211ull;
  const std::size_t n = is_v4() ? 4 : bytes.size();
  for (std::size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}

std::string Endpoint::to_string() const {
  std::string out;
  if (addr.is_v4()) {
    out = addr.to_string();
  } else {
    // Appended piecewise: GCC 12's -Wrestrict misfires on "[" + std::string at -O3.
    out.push_back('[');
    out += addr.to_string();
    out.push_back(']');
  }
  out.push_back(':');
  append_decimal(out, port);
  return out;
}

}  // namespace synack::wire
