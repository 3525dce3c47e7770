// SPDX-License-Identifier: MIT
// SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full answers a SYN without
// keeping any state; what it would have kept is folded into the ISS of its SYN,ACK (and,
// with timestamps, into the low bits of its TSval), and rebuilt from the peer's ACK.
//
// The layout follows Linux's net/ipv4/syncookies.c (written anew here, nothing copied):
//
//   cookie = H(key0; tuple) + peer ISN + (count << 24) + (MAC << 2 | mss_index) mod 2^24
//   MAC    = H(key1; tuple, count, peer ISN, mss_index), its low 22 bits
//
// where `count` is a coarse clock (64 s units here, Linux uses 60 s) kept in the top 8 bits,
// and the low 24 bits carry the MSS index (2 bits) and authenticate it with the tuple, the
// count and the peer's ISN (Linux adds the index to a hash of tuple and count; see encode()
// for why this differs). A forged ACK passes with probability 2^-22 per try, as Linux's. A cookie
// is accepted for the current and the previous count (Linux: MAX_SYNCOOKIE_AGE = 2 minutes).
// When the SYN carried timestamps, the 6 low bits of our TSval carry the peer's window scale
// (4 bits; 0xf = none), SACK-permitted (bit 4) and ECN (bit 5), as Linux's TSBITS layout.
// Without timestamps the cookie connection gets the MSS only (no window scaling, no SACK),
// again as Linux, which clears those options when it cannot echo them back.
//
// Sans-I/O: the keys come from the caller (the stack draws them from its RandomSource), time
// is an argument, and nothing here allocates.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "synack/config.hpp"
#include "synack/seqnum.hpp"
#include "synack/time.hpp"
#include "tcp/segment.hpp"
#include "wire/ip_address.hpp"

namespace synack::tcp {

// What the timestamp bits of a cookie carry (the peer's SYN options we must remember).
struct CookieOptions {
  std::optional<std::uint8_t> window_scale;  // the peer's shift (0..14); nullopt: not offered
  bool sack = false;
  bool ecn = false;
  bool operator==(const CookieOptions&) const = default;
};

class SynCookies {
 public:
  // RFC 4987 §3.6: "t" — a slowly incrementing counter; here `now` in 64 s units.
  static constexpr Duration kPeriod = 64s;
  static constexpr int kCountBits = 8;  // bits 24..31 of the cookie
  static constexpr int kHashBits = 24;  // bits 0..23: keyed hash + MSS index
  static constexpr std::uint32_t kHashMask = (1u << kHashBits) - 1;
  static constexpr int kIndexBits = 2;  // bits 0..1: the MSS index
  static constexpr std::uint32_t kIndexMask = (1u << kIndexBits) - 1;
  static constexpr int kTsBits = 6;  // low bits of TSval carrying CookieOptions
  static constexpr std::uint32_t kTsMask = (1u << kTsBits) - 1;
  static constexpr std::uint8_t kNoWscale = 0xf;
  static constexpr std::uint32_t kTsSack = 1u << 4;
  static constexpr std::uint32_t kTsEcn = 1u << 5;

  // RFC 4987 §3.6 "MSS ... encoded in 3 bits" — a small table instead, chosen, as Linux's
  // msstab / msstab (IPv6), for the MSS values seen most often. Ascending.
  static constexpr std::array<std::uint16_t, 4> kMssV4 = {536, 1300, 1440, 1460};
  static constexpr std::array<std::uint16_t, 4> kMssV6 = {1220, 1420, 1440, 8940};
  static_assert(kMssV4.size() == 1u << kIndexBits && kMssV6.size() == 1u << kIndexBits);

  // Two SipHash-2-4 keys: one for the tuple hash, one for the (tuple, count) hash.
  SynCookies(std::array<std::uint64_t, 2> key0, std::array<std::uint64_t, 2> key1)
      : key0_(key0), key1_(key1) {}

  static std::uint32_t count_at(Instant now) {
    return static_cast<std::uint32_t>(to_us(now) / to_us(kPeriod));
  }
  // The largest table entry not above `peer_mss` (the first one when all are above it).
  static std::uint8_t mss_index(std::uint16_t peer_mss, bool v6);
  static std::uint16_t mss_at(std::uint8_t index, bool v6) {
    return (v6 ? kMssV6 : kMssV4)[index & kIndexMask];
  }

  // Our ISS for a SYN from `remote` (ISN `peer_isn`) to `local` at `now`.
  SeqNum encode(const wire::Endpoint& local, const wire::Endpoint& remote, SeqNum peer_isn,
                std::uint8_t mss_index, Instant now) const;
  // The MSS index if `cookie` (the ACK's SEG.ACK - 1) is one we made for this tuple and this
  // peer ISN (the ACK's SEG.SEQ - 1) during the current or the previous period; else nullopt.
  std::optional<std::uint8_t> decode(const wire::Endpoint& local, const wire::Endpoint& remote,
                                     SeqNum peer_isn, SeqNum cookie, Instant now) const;

  // TSval for the cookie SYN,ACK: our timestamp clock `ts_clock` with its low kTsBits replaced
  // by `options`, moved back one step if that put it ahead of the clock (so that later
  // TSvals of the connection never go backwards; RFC 7323 §5.4 wants them monotonic).
  static std::uint32_t encode_tsval(std::uint32_t ts_clock, const CookieOptions& options);
  // The options from the TSecr the peer echoed (every 6-bit value means something: shifts
  // 0..14, 0xf for none; the caller refuses what it never sends, such as ECN).
  static CookieOptions decode_tsecr(std::uint32_t echo);

 private:
  std::uint32_t hash(const std::array<std::uint64_t, 2>& key, const wire::Endpoint& local,
                     const wire::Endpoint& remote, std::uint32_t count, std::uint32_t peer_isn,
                     std::uint32_t mss_index) const;

  std::array<std::uint64_t, 2> key0_;
  std::array<std::uint64_t, 2> key1_;
};

// The SYN,ACK a listener sends in cookie mode for `syn` from `remote` to `local`: SEQ = the
// cookie, ACK = SEG.SEQ + 1, the unscaled window a SYN-RECEIVED connection would offer, our MSS
// and — only when the SYN carried timestamps and we are configured for them — window scale,
// SACK-permitted and timestamps with `tsval` (see SynCookies::encode_tsval). Without
// timestamps only the MSS (RFC 4987 §3.6: options that cannot be encoded are not offered).
Segment cookie_syn_ack(const TcpConfig& config, const wire::Endpoint& local, const Segment& syn,
                       SeqNum cookie, std::uint32_t tsval);

// The options a cookie SYN,ACK offers for `syn` (what encode_tsval will carry), after
// applying our configuration: window scale only if both do it, SACK only if both do.
CookieOptions cookie_options_for(const TcpConfig& config, const Segment& syn);

// Our window-scale shift for a receive buffer (RFC 7323 §2.3): the smallest that lets the
// whole buffer be advertised, at most 14. The one rule Connection and cookies share.
std::uint8_t window_shift_for(std::uint32_t buffer);

}  // namespace synack::tcp
