// SPDX-License-Identifier: MIT
// SYN cookies, RFC 4987 §3.6; the layout follows Linux (see syn_cookie.hpp).
#include "tcp/syn_cookie.hpp"

#include <algorithm>
#include <cstring>

#include "tcp/isn.hpp"

namespace synack::tcp {

std::uint8_t window_shift_for(std::uint32_t buffer) {
  std::uint8_t s = 0;
  while (s < 14 && (buffer >> s) > 0xffff) ++s;
  return s;
}

std::uint8_t SynCookies::mss_index(std::uint16_t peer_mss, bool v6) {
  const auto& table = v6 ? kMssV6 : kMssV4;
  // Linux walks msstab from the top and takes the first entry <= the peer's MSS; a peer
  // announcing less than the smallest entry gets the smallest (we will not send more than
  // it announced: the connection's MSS is min(table entry, ...), and below 536 / 1220 is not
  // a valid MSS for a host that takes part in the Internet, RFC 9293 §3.7.1).
  for (std::size_t i = table.size(); i-- > 1;)
    if (peer_mss >= table[i]) return static_cast<std::uint8_t>(i);
  return 0;
}

std::uint32_t SynCookies::hash(const std::array<std::uint64_t, 2>& key, const wire::Endpoint& local,
                               const wire::Endpoint& remote, std::uint32_t count,
                               std::uint32_t peer_isn, std::uint32_t mss_index) const {
  // The 4-tuple (both addresses in full, so IPv4 and IPv6 share the code), the family, the
  // count, the peer's ISN and the MSS index, under a secret key: RFC 4987 §3.6 "a
  // cryptographic hash of ... the client and server IP addresses and port numbers ... and a
  // secret" — SipHash-2-4, as Linux.
  std::uint8_t buf[16 + 16 + 2 + 2 + 1 + 4 + 4 + 1];
  std::memcpy(buf, local.addr.bytes.data(), 16);
  std::memcpy(buf + 16, remote.addr.bytes.data(), 16);
  buf[32] = static_cast<std::uint8_t>(local.port >> 8);
  buf[33] = static_cast<std::uint8_t>(local.port);
  buf[34] = static_cast<std::uint8_t>(remote.port >> 8);
  buf[35] = static_cast<std::uint8_t>(remote.port);
  buf[36] = local.addr.is_v4() ? 4 : 6;
  for (int i = 0; i < 4; ++i) buf[37 + i] = static_cast<std::uint8_t>(count >> (8 * i));
  for (int i = 0; i < 4; ++i) buf[41 + i] = static_cast<std::uint8_t>(peer_isn >> (8 * i));
  buf[45] = static_cast<std::uint8_t>(mss_index);
  return static_cast<std::uint32_t>(siphash24(key, buf, sizeof buf));
}

SeqNum SynCookies::encode(const wire::Endpoint& local, const wire::Endpoint& remote,
                          SeqNum peer_isn, std::uint8_t mss_index, Instant now) const {
  const std::uint32_t count = count_at(now);
  mss_index &= kIndexMask;
  // RFC 4987 §3.6: the top bits are t (the counter), the rest the encoded MSS and a keyed
  // hash; Linux's layout, with the 24 low bits here a MAC over (tuple, count, peer ISN, MSS
  // index) above the index — Linux adds the index to a hash of (tuple, count) instead, so a
  // cookie ACK with SEG.SEQ or SEG.ACK moved by one decodes to a neighbouring index there;
  // here it fails. Adding a secret per-tuple hash and the peer's ISN (Linux) keeps the ISS
  // unpredictable and hides the counter.
  const std::uint32_t mac = hash(key1_, local, remote, count, peer_isn.raw(), mss_index);
  const std::uint32_t low = ((mac << kIndexBits) | mss_index) & kHashMask;
  return SeqNum(hash(key0_, local, remote, 0, 0, 0) + peer_isn.raw() + (count << kHashBits) + low);
}

std::optional<std::uint8_t> SynCookies::decode(const wire::Endpoint& local,
                                               const wire::Endpoint& remote, SeqNum peer_isn,
                                               SeqNum cookie, Instant now) const {
  const std::uint32_t count_now = count_at(now);
  const std::uint32_t rest = cookie.raw() - hash(key0_, local, remote, 0, 0, 0) - peer_isn.raw();
  // The count is only known modulo 2^8: its age is the difference, taken modulo 2^8.
  const std::uint32_t age = (count_now - (rest >> kHashBits)) & ((1u << kCountBits) - 1);
  if (age > 1) return std::nullopt;  // stale (or forged): current and previous period only
  const std::uint32_t count = count_now - age;
  const std::uint32_t index = rest & kIndexMask;
  const std::uint32_t mac = hash(key1_, local, remote, count, peer_isn.raw(), index);
  if ((((mac << kIndexBits) ^ rest) & kHashMask & ~kIndexMask) != 0)
    return std::nullopt;  // the MAC does not match: not our cookie for this tuple and ISN
  return static_cast<std::uint8_t>(index);
}

std::uint32_t SynCookies::encode_tsval(std::uint32_t ts_clock, const CookieOptions& options) {
  std::uint32_t bits = options.window_scale ? (*options.window_scale & 0xf) : kNoWscale;
  if (options.sack) bits |= kTsSack;
  if (options.ecn) bits |= kTsEcn;
  std::uint32_t ts = (ts_clock & ~kTsMask) | bits;
  // Never ahead of the clock: the connection's own TSvals continue from the clock.
  if (static_cast<std::int32_t>(ts - ts_clock) > 0) ts -= kTsMask + 1;
  return ts;
}

CookieOptions SynCookies::decode_tsecr(std::uint32_t echo) {
  CookieOptions o;
  std::uint32_t ws = echo & 0xf;
  if (ws != kNoWscale) o.window_scale = static_cast<std::uint8_t>(ws);  // 0..14 (RFC 7323 §2.3)
  o.sack = (echo & kTsSack) != 0;
  o.ecn = (echo & kTsEcn) != 0;
  return o;
}

CookieOptions cookie_options_for(const TcpConfig& config, const Segment& syn) {
  CookieOptions o;
  // RFC 7323 §2.2 and §2.3: scaling only when both offer it; a shift above 14 is taken as 14.
  if (config.window_scale && syn.options.window_scale)
    o.window_scale = std::min<std::uint8_t>(*syn.options.window_scale, 14);
  o.sack = config.sack && syn.options.sack_permitted;  // RFC 2018 §2
  o.ecn = false;  // synack does not negotiate ECN (RFC 3168); the bit stays for the layout
  return o;
}

Segment cookie_syn_ack(const TcpConfig& config, const wire::Endpoint& local, const Segment& syn,
                       SeqNum cookie, std::uint32_t tsval) {
  Segment s;
  s.seq = cookie;
  s.ack = syn.seq + 1;
  s.flags = SYN | ACK;
  // RFC 7323 §2.2: the window in a SYN,ACK is never scaled; the same as a SYN-RECEIVED
  // connection offers (Connection::send_syn).
  s.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(config.receive_buffer, 0xffff));
  // RFC 9293 §3.7.1 (MUST-14): the MSS option in every SYN; 20 less over IPv6 (MUST-67).
  s.options.mss = local.addr.is_v4() ? config.mss : static_cast<std::uint16_t>(config.mss - 20);
  // RFC 4987 §3.6: the other options survive only through the timestamp (Linux clears them
  // when the SYN had no timestamps, so that the connection agrees with what was offered).
  if (config.timestamps && syn.options.timestamps) {
    CookieOptions o = cookie_options_for(config, syn);
    if (o.window_scale) s.options.window_scale = window_shift_for(config.receive_buffer);
    s.options.sack_permitted = o.sack;
    s.options.timestamps = wire::Timestamps{tsval, syn.options.timestamps->value};
  }
  return s;
}

}  // namespace synack::tcp
