// SPDX-License-Identifier: MIT
// RFC 6528 initial sequence numbers: ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), with M a 4-microsecond timer and F a keyed hash (SipHash-2-4 here).
#pragma once

#include <array>
#include <cstdint>

#include "synack/seqnum.hpp"
#include "synack/time.hpp"
#include "wire/ip_address.hpp"

namespace synack::tcp {

std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const std::uint8_t* data,
                        std::size_t length);

class IsnGenerator {
 public:
  explicit IsnGenerator(std::array<std::uint64_t, 2> key) : key_(key) {}
  SeqNum generate(const wire::Endpoint& local, const wire::Endpoint& remote, Instant now) const;
  // The same keyed hash, exposed for SYN cookies and timestamp offsets.
  std::uint64_t hash_tuple(const wire::Endpoint& local, const wire::Endpoint& remote,
                           std::uint32_t salt) const;

 private:
  std::array<std::uint64_t, 2> key_;
};

}  // namespace synack::tcp
