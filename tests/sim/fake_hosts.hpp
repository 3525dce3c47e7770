// SPDX-License-Identifier: MIT
// Tiny NetworkHost fakes for the link tests, built from raw IPv4 bytes so these tests do not
// depend on the TCP stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "synack/host.hpp"
#include "synack/time.hpp"
#include "wire/ip_address.hpp"

namespace synack::sim::testing {

inline wire::IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  wire::IpAddress address;
  address.family = wire::IpAddress::Family::V4;
  address.bytes[0] = a;
  address.bytes[1] = b;
  address.bytes[2] = c;
  address.bytes[3] = d;
  return address;
}

inline std::uint16_t ipv4_header_checksum(std::span<const std::byte> header) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < header.size(); i += 2) {
    sum += (std::to_integer<std::uint32_t>(header[i]) << 8) |
           std::to_integer<std::uint32_t>(header[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// An IPv4/UDP packet (UDP checksum 0 = none, legal for IPv4) whose payload starts with a
// 4-byte big-endian `tag`, padded with zeros to `payload_size` (at least 4).
inline std::vector<std::byte> make_packet(const wire::IpAddress& src, const wire::IpAddress& dst,
                                          std::uint32_t tag, std::size_t payload_size = 4) {
  if (payload_size < 4) payload_size = 4;
  const std::size_t udp_length = 8 + payload_size;
  const std::size_t total = 20 + udp_length;
  std::vector<std::byte> p(total, std::byte{0});
  auto put16 = [&](std::size_t at, std::uint32_t v) {
    p[at] = std::byte(static_cast<std::uint8_t>(v >> 8));
    p[at + 1] = std::byte(static_cast<std::uint8_t>(v));
  };
  p[0] = std::byte{0x45};
  put16(2, static_cast<std::uint32_t>(total));
  put16(4, tag & 0xffff);  // identification
  p[6] = std::byte{0x40};  // DF
  p[8] = std::byte{64};    // TTL
  p[9] = std::byte{17};    // UDP
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = std::byte{src.bytes[i]};
    p[16 + i] = std::byte{dst.bytes[i]};
  }
  put16(10, ipv4_header_checksum(std::span(p).first(20)));
  put16(20, 40000);  // source port
  put16(22, 7);      // destination port (echo)
  put16(24, static_cast<std::uint32_t>(udp_length));
  for (int i = 0; i < 4; ++i) p[28 + i] = std::byte(static_cast<std::uint8_t>(tag >> (24 - 8 * i)));
  return p;
}

inline std::uint32_t packet_tag(std::span<const std::byte> p) {
  std::uint32_t tag = 0;
  for (int i = 0; i < 4; ++i) tag = (tag << 8) | std::to_integer<std::uint32_t>(p[28 + i]);
  return tag;
}

// Records every packet it receives; sends whatever the test queues with `queue()`.
class SinkHost : public NetworkHost {
 public:
  struct Received {
    Instant at;
    std::vector<std::byte> bytes;
  };
  void receive_packet(std::span<const std::byte> packet, Instant now) override {
    received.push_back(Received{now, std::vector<std::byte>(packet.begin(), packet.end())});
  }
  void on_timer(Instant) override {}
  std::optional<Instant> next_deadline() const override { return std::nullopt; }
  bool pop_packet(std::vector<std::byte>& out) override {
    if (outbox.empty()) return false;
    out = std::move(outbox.front());
    outbox.pop_front();
    return true;
  }
  void queue(std::vector<std::byte> packet) { outbox.push_back(std::move(packet)); }

  std::vector<Received> received;
  std::deque<std::vector<std::byte>> outbox;
};

// Answers every packet by sending it back with source and destination swapped (which leaves
// the IPv4 header checksum valid).
class EchoHost : public SinkHost {
 public:
  void receive_packet(std::span<const std::byte> packet, Instant now) override {
    SinkHost::receive_packet(packet, now);
    std::vector<std::byte> reply(packet.begin(), packet.end());
    for (int i = 0; i < 4; ++i) std::swap(reply[12 + i], reply[16 + i]);
    queue(std::move(reply));
  }
};

// Sends one packet to `peer` at each of the given instants (in order), from its timer.
class TimerHost : public SinkHost {
 public:
  TimerHost(wire::IpAddress self, wire::IpAddress peer, std::vector<Instant> fire_at)
      : self_(self), peer_(peer), schedule_(fire_at.begin(), fire_at.end()) {}
  void on_timer(Instant now) override {
    timer_calls.push_back(now);
    while (!schedule_.empty() && schedule_.front() <= now) {
      schedule_.pop_front();
      queue(make_packet(self_, peer_, sent_++));
    }
  }
  std::optional<Instant> next_deadline() const override {
    if (schedule_.empty()) return std::nullopt;
    return schedule_.front();
  }

  std::vector<Instant> timer_calls;

 private:
  wire::IpAddress self_, peer_;
  std::deque<Instant> schedule_;
  std::uint32_t sent_ = 0;
};

}  // namespace synack::sim::testing
