// SPDX-License-Identifier: MIT
#include "tcp/isn.hpp"

#include <cstring>

namespace synack::tcp {
namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// SipHash-2-4 (Aumasson & Bernstein), the keyed PRF RFC 6528 §3 asks for as F().
std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const std::uint8_t* data,
                        std::size_t length) {
  SipState s{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
             key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
  std::size_t full = length / 8 * 8;
  for (std::size_t i = 0; i < full; i += 8) {
    std::uint64_t m = load_le64(data + i);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(length & 0xff) << 56;
  for (std::size_t i = 0; i < length - full; ++i)
    last |= static_cast<std::uint64_t>(data[full + i]) << (8 * i);
  s.v3 ^= last;
  s.round();
  s.round();
  s.v0 ^= last;
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t IsnGenerator::hash_tuple(const wire::Endpoint& local, const wire::Endpoint& remote,
                                       std::uint32_t salt) const {
  std::uint8_t buf[16 + 16 + 2 + 2 + 4];
  std::memcpy(buf, local.addr.bytes.data(), 16);
  std::memcpy(buf + 16, remote.addr.bytes.data(), 16);
  buf[32] = static_cast<std::uint8_t>(local.port >> 8);
  buf[33] = static_cast<std::uint8_t>(local.port);
  buf[34] = static_cast<std::uint8_t>(remote.port >> 8);
  buf[35] = static_cast<std::uint8_t>(remote.port);
  std::memcpy(buf + 36, &salt, 4);
  return siphash24(key_, buf, sizeof buf);
}

SeqNum IsnGenerator::generate(const wire::Endpoint& local, const wire::Endpoint& remote,
                              Instant now) const {
  // RFC 6528 §3: M is a timer that ticks every 4 microseconds.
  auto m = static_cast<std::uint32_t>(to_us(now) / 4);
  auto f = static_cast<std::uint32_t>(hash_tuple(local, remote, 0));
  return SeqNum(m + f);
}

}  // namespace synack::tcp
