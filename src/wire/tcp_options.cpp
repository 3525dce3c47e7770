// SPDX-License-Identifier: MIT
// TCP options: parse (RFC 9293 §3.2) and emit in a fixed, Linux-like layout.
#include <algorithm>

#include "wire/byte_order.hpp"
#include "wire/tcp_header.hpp"

namespace synack::wire {

namespace {

using detail::load_u16;
using detail::load_u32;
using detail::load_u8;

// Option lengths, counting the kind and length bytes.
constexpr std::size_t kMssLength = 4;            // RFC 9293 §3.2
constexpr std::size_t kWindowScaleLength = 3;    // RFC 7323 §2.2
constexpr std::size_t kSackPermittedLength = 2;  // RFC 2018 §2
constexpr std::size_t kTimestampsLength = 10;    // RFC 7323 §3.2
constexpr std::size_t kSackBlockLength = 8;      // RFC 2018 §3: two 32-bit edges per block
constexpr std::size_t kSackHeaderLength = 2;     // RFC 2018 §3: kind, length

// Writes options into `out`, or only counts bytes when `out` is empty, so that
// emitted_size() and emit_tcp_options() share one layout and cannot disagree.
class OptionWriter {
 public:
  explicit OptionWriter(std::span<std::byte> out) : out_(out) {}
  void u8(std::uint8_t v) {
    if (!out_.empty()) detail::store_u8(out_, size_, v);
    size_ += 1;
  }
  void u16(std::uint16_t v) {
    if (!out_.empty()) detail::store_u16(out_, size_, v);
    size_ += 2;
  }
  void u32(std::uint32_t v) {
    if (!out_.empty()) detail::store_u32(out_, size_, v);
    size_ += 4;
  }
  std::size_t size() const { return size_; }

 private:
  std::span<std::byte> out_;
  std::size_t size_ = 0;
};

// Bytes of everything but the SACK blocks, in the layout of write_options.
std::size_t size_before_sack(const TcpOptions& o) {
  std::size_t n = 0;
  if (o.mss) n += 4;                             // MSS
  if (o.timestamps || o.sack_permitted) n += 4;  // SACK_PERM,2 or NOP,NOP [+ TS kind..]
  if (o.timestamps) n += kTimestampsLength - 2;  // rest of the timestamps option
  if (o.window_scale) n += 4;                    // NOP, WS
  return n;
}

std::size_t sack_blocks_that_fit(const TcpOptions& o) {
  const std::size_t wanted = std::min<std::size_t>(o.sack_count, kMaxSackBlocks);
  const std::size_t used = size_before_sack(o);
  // NOP,NOP,kind,length then 8 bytes per block.
  const std::size_t overhead = 2 + kSackHeaderLength;
  if (wanted == 0 || used + overhead + kSackBlockLength > kTcpMaxOptions) return 0;
  return std::min(wanted, (kTcpMaxOptions - used - overhead) / kSackBlockLength);
}

std::size_t write_options(const TcpOptions& o, OptionWriter& w) {
  using namespace tcp_option;
  // RFC 9293 §3.2 / §3.7.1: Maximum Segment Size, kind 2, length 4.
  if (o.mss) {
    w.u8(kMss);
    w.u8(kMssLength);
    w.u16(*o.mss);
  }
  // RFC 2018 §2 SACK-permitted and RFC 7323 §3.2 timestamps. Like Linux, SACK-permitted
  // takes the place of the two NOPs that would align the timestamps.
  if (o.timestamps) {
    if (o.sack_permitted) {
      w.u8(kSackPermitted);
      w.u8(kSackPermittedLength);
    } else {
      w.u8(kNop);
      w.u8(kNop);
    }
    w.u8(kTimestamps);
    w.u8(kTimestampsLength);
    w.u32(o.timestamps->value);
    w.u32(o.timestamps->echo);
  } else if (o.sack_permitted) {
    w.u8(kNop);
    w.u8(kNop);
    w.u8(kSackPermitted);
    w.u8(kSackPermittedLength);
  }
  // RFC 7323 §2.2 window scale, kind 3, length 3, behind one NOP.
  if (o.window_scale) {
    w.u8(kNop);
    w.u8(kWindowScale);
    w.u8(kWindowScaleLength);
    w.u8(*o.window_scale);
  }
  // RFC 2018 §3 SACK blocks. RFC 7323 §3.2 requires timestamps in every segment once
  // negotiated, so when space runs out it is SACK blocks that are left off (the first
  // ones, which RFC 2018 §4 says carry the most recent information, are kept).
  const std::size_t blocks = sack_blocks_that_fit(o);
  if (blocks > 0) {
    w.u8(kNop);
    w.u8(kNop);
    w.u8(kSack);
    w.u8(static_cast<std::uint8_t>(kSackHeaderLength + blocks * kSackBlockLength));
    for (std::size_t i = 0; i < blocks; ++i) {
      w.u32(o.sack[i].left);
      w.u32(o.sack[i].right);
    }
  }
  // RFC 9293 §3.1 "Options": the header ends on a 32-bit boundary; pad with End of Option
  // List (the layout above is already aligned, so this is a safety net).
  while (w.size() % 4 != 0) w.u8(kEndOfList);
  return w.size();
}

}  // namespace

std::size_t TcpOptions::emitted_size() const {
  OptionWriter counter{std::span<std::byte>{}};
  return write_options(*this, counter);
}

std::size_t TcpOptions::emitted_sack_blocks() const { return sack_blocks_that_fit(*this); }

std::size_t emit_tcp_options(const TcpOptions& options, std::span<std::byte> out) {
  if (out.empty()) return options.emitted_size();
  OptionWriter writer{out};
  return write_options(options, writer);
}

Expected<TcpOptions, ParseError> parse_tcp_options(std::span<const std::byte> bytes) {
  using namespace tcp_option;
  TcpOptions o;
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::uint8_t kind = load_u8(bytes, i);
    // RFC 9293 §3.2: End of Option List ends the options; what follows is padding.
    if (kind == kEndOfList) break;
    // RFC 9293 §3.2: No-Operation is a single byte, used for alignment.
    if (kind == kNop) {
      ++i;
      continue;
    }
    // RFC 9293 §3.2: every other option is kind, length (counting both), data.
    if (i + 1 >= bytes.size()) return Unexpected{ParseError::TcpOptionPastHeader};
    const std::size_t length = load_u8(bytes, i + 1);
    // RFC 9293 §3.2: "MUST be prepared to handle an illegal option length (e.g., zero)".
    // Lengths 0 and 1 cannot cover their own kind and length bytes (and would loop).
    if (length < 2) return Unexpected{ParseError::TcpOptionLengthTooSmall};
    if (length > bytes.size() - i) return Unexpected{ParseError::TcpOptionPastHeader};
    const std::span<const std::byte> option = bytes.subspan(i, length);
    // When an option appears twice, the last one wins (as in Linux).
    switch (kind) {
      case kMss:  // RFC 9293 §3.2: length 4
        if (length != kMssLength) return Unexpected{ParseError::TcpOptionBadLength};
        o.mss = load_u16(option, 2);
        break;
      case kWindowScale:  // RFC 7323 §2.2: length 3. The shift is kept as sent; the
                          // connection clamps it to 14 (§2.3).
        if (length != kWindowScaleLength) return Unexpected{ParseError::TcpOptionBadLength};
        o.window_scale = load_u8(option, 2);
        break;
      case kSackPermitted:  // RFC 2018 §2: length 2
        if (length != kSackPermittedLength) return Unexpected{ParseError::TcpOptionBadLength};
        o.sack_permitted = true;
        break;
      case kSack: {  // RFC 2018 §3: length 2 + 8n; n <= 4 since options are at most 40 bytes
        const std::size_t body = length - kSackHeaderLength;
        const std::size_t blocks = body / kSackBlockLength;
        if (body % kSackBlockLength != 0 || blocks == 0 || blocks > kMaxSackBlocks) {
          return Unexpected{ParseError::TcpOptionBadLength};
        }
        o.sack = {};
        o.sack_count = static_cast<std::uint8_t>(blocks);
        for (std::size_t b = 0; b < blocks; ++b) {
          const std::size_t at = kSackHeaderLength + b * kSackBlockLength;
          o.sack[b] = SackBlock{load_u32(option, at), load_u32(option, at + 4)};
        }
        break;
      }
      case kTimestamps:  // RFC 7323 §3.2: length 10
        if (length != kTimestampsLength) return Unexpected{ParseError::TcpOptionBadLength};
        o.timestamps = Timestamps{load_u32(option, 2), load_u32(option, 6)};
        break;
      default:
        // RFC 9293 §3.2: "MUST ignore without error any TCP option it does not implement,
        // assuming that the option has a length field": unknown kinds are skipped by length.
        break;
    }
    i += length;
  }
  return o;
}

}  // namespace synack::wire
