// SPDX-License-Identifier: MIT
// Stack::set_packet_writer (synack/packet_writer.hpp): gather output. Two identical runs on a
// scripted wire, one queueing every packet for pop_packet() and one handing TCP packets to a
// writer as headers + payload, must put the same bytes on the wire in the same order; a
// writer that refuses leaves the packet, and every later one, to pop_packet(), in order.
#include <gtest/gtest.h>

#include <vector>

#include "synack/packet_writer.hpp"
#include "synack/stack.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace packet_writer_test {

const wire::IpAddress kA = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kB = wire::IpAddress::v4(198, 18, 0, 2);

// Keeps what it is given, whole; refuses the packets whose ordinal is in `refuse`.
struct RecordingWriter final : PacketWriter {
  std::vector<std::vector<std::byte>> packets;
  std::vector<std::uint16_t> gso;
  std::vector<std::size_t> refuse;
  std::size_t calls = 0, payload_calls = 0;
  bool write_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                    std::uint16_t gso_size) override {
    const std::size_t ordinal = calls++;
    for (std::size_t r : refuse)
      if (r == ordinal) return false;
    if (!payload.empty()) ++payload_calls;
    std::vector<std::byte> whole(headers.begin(), headers.end());
    whole.insert(whole.end(), payload.begin(), payload.end());
    packets.push_back(std::move(whole));
    gso.push_back(gso_size);
    return true;
  }
};

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + 1) & 0xff);
  return v;
}

// A sends 100 kB to B (wrapping its 16 KiB send ring) and closes; everything A puts on the
// wire, in order, as whole packets. With `writer`, A's TCP packets go through it.
struct Outcome {
  std::vector<std::vector<std::byte>> wire_out;  // A's packets in the order they left
  std::vector<std::byte> received;
  bool b_saw_eof = false;
};
Outcome transfer(RecordingWriter* writer, bool checksum_offload) {
  StackConfig ca;
  ca.tcp_checksum_offload = checksum_offload;
  Stack a{ca, {kA}};
  Stack b{StackConfig{}, {kB}};
  if (writer) a.set_packet_writer(writer);
  Instant now{};
  Outcome run;
  std::size_t taken = 0;
  std::vector<std::byte> buf;
  auto shuttle = [&] {
    for (int round = 0; round < 512; ++round) {
      bool moved = false;
      if (writer) {
        for (; taken < writer->packets.size(); ++taken) {
          moved = true;
          run.wire_out.push_back(writer->packets[taken]);
          b.receive_packet(writer->packets[taken], now,
                           ReceiveFlags{.checksum_verified = checksum_offload});
        }
      }
      while (a.pop_packet(buf)) {
        moved = true;
        run.wire_out.push_back(buf);
        b.receive_packet(buf, now, ReceiveFlags{.checksum_verified = checksum_offload});
      }
      while (b.pop_packet(buf)) {
        moved = true;
        a.receive_packet(buf, now);
      }
      if (!moved) return;
    }
  };
  auto l = b.listen({kB, 80}, now, 4);
  auto c = a.connect({kB, 80}, now, std::nullopt, SocketOptions{.send_buffer = 16384});
  shuttle();
  auto s = b.accept(*l);
  EXPECT_TRUE(c && s);
  const auto data = pattern(100000);
  std::size_t sent = 0;
  std::vector<std::byte> sink(8192);
  for (int guard = 0; guard < 2000 && run.received.size() < data.size(); ++guard) {
    if (sent < data.size())
      if (auto n = a.send(*c, std::span(data).subspan(sent), now)) sent += *n;
    shuttle();
    if (auto n = b.receive(*s, sink, now))
      run.received.insert(run.received.end(), sink.begin(), sink.begin() + *n);
    shuttle();
    now += std::chrono::milliseconds(1);
  }
  EXPECT_TRUE(a.close(*c, now));
  shuttle();
  auto eof = b.receive(*s, sink, now);
  run.b_saw_eof = eof && *eof == 0;
  EXPECT_EQ(run.received, data);
  return run;
}

TEST(PacketWriter, GatherOutputPutsTheSameBytesOnTheWireAsPopPacket) {
  for (bool offload : {false, true}) {
    SCOPED_TRACE(offload ? "checksum offload" : "full checksums");
    const Outcome queued = transfer(nullptr, offload);
    RecordingWriter writer;
    const Outcome gathered = transfer(&writer, offload);
    ASSERT_GT(queued.wire_out.size(), 50u);
    EXPECT_EQ(gathered.wire_out, queued.wire_out) << "byte for byte, in the same order";
    EXPECT_GT(writer.payload_calls, 50u) << "data went through the writer, not the queue";
    EXPECT_TRUE(gathered.b_saw_eof);
    if (!offload) {
      for (const auto& p : gathered.wire_out)
        EXPECT_TRUE(wire::parse_tcp_packet(p)) << "every gathered packet checks out";
    }
  }
}

TEST(PacketWriter, RefusedPacketsAndAllAfterThemWaitForPopPacketInOrder) {
  const Outcome queued = transfer(nullptr, false);
  RecordingWriter writer;
  writer.refuse = {5, 6, 30};  // the link pushes back now and then
  const Outcome gathered = transfer(&writer, false);
  EXPECT_EQ(gathered.wire_out, queued.wire_out)
      << "what the writer refused left through pop_packet(), nothing overtook it";
  EXPECT_EQ(gathered.received.size(), 100000u);
  EXPECT_LT(writer.packets.size(), gathered.wire_out.size()) << "some went through the queue";
}

}  // namespace packet_writer_test
}  // namespace synack
