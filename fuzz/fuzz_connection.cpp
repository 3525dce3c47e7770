// SPDX-License-Identifier: MIT
// Fuzzed segments against connections that are really there (issue 11 §6). Two stacks, A (the
// one under test, with a listener) and B (its peer), complete a real handshake, then walk A's
// connection into the state the input's first byte picks — ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2,
// TIME-WAIT, SYN-RECEIVED — or leave a SYN cookie outstanding at A's listener (cookies always
// on). The rest of the input is a script of operations: segments forged from B's endpoint
// whose sequence and acknowledgment numbers, timestamps and SACK blocks lie near the values
// A's connection expects (so most pass the sequence check and reach the state machine, RFC
// 9293 §3.10.7.4), raw packets with their checksums repaired, real traffic between A and B
// with losses, time steps, and API calls on both ends.
//
// A must never crash, hang or grow without bound, and every packet it sends must parse.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "synack/stack.hpp"
#include "wire/checksum.hpp"
#include "wire/ip_header.hpp"
#include "wire/packet.hpp"

using namespace synack;  // NOLINT(google-build-using-namespace)
namespace flag = wire::tcp_flag;

namespace {

const wire::IpAddress kA = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kB = wire::IpAddress::v4(198, 18, 0, 2);
constexpr std::uint16_t kPort = 80;

enum class Scenario : std::uint8_t {
  Established,
  FinWait1,
  FinWait2,
  TimeWait,
  SynReceived,
  Cookie,
  Count
};

struct World {
  explicit World(Scenario sc) : scenario(sc), a(config_a(sc), {kA}), b(config_b(), {kB}) {}

  static StackConfig config_a(Scenario sc) {
    StackConfig c;
    c.max_connections = 32;
    c.max_syn_queue = 4;
    c.default_backlog = 4;
    c.tcp.send_buffer = 8192;
    c.tcp.receive_buffer = 8192;
    c.tcp.max_reassembly_ranges = 8;
    c.syn_cookies = sc == Scenario::Cookie ? SynCookieMode::Always : SynCookieMode::Auto;
    return c;
  }
  static StackConfig config_b() {
    StackConfig c;
    c.random_seed = 7;
    c.tcp.send_buffer = 8192;
    c.tcp.receive_buffer = 8192;
    return c;
  }

  Scenario scenario;
  Stack a;
  Stack b;
  Instant now = instant_from_us(1'000'000);
  ListenerId listener = 0;
  std::optional<ConnectionId> ca;  // A's connection (accepted)
  std::optional<ConnectionId> cb;  // B's connection
  wire::Endpoint b_end{kB, 0};
  std::uint32_t b_tsval = 0;  // the last TSval B sent A (for forged timestamps)
  std::uint32_t a_tsval = 0;  // the last TSval A sent B (for forged echoes)
  SeqNum cookie_iss{0};       // Cookie scenario: the cookie A sent
  SeqNum b_isn{0};
  std::vector<std::byte> buf;

  void check_output(const std::vector<std::byte>& p) {
    auto parsed = wire::parse_tcp_packet(p);
    if (!parsed && parsed.error() != wire::ParseError::NotTcp) __builtin_trap();
    if (parsed && parsed->tcp.options.timestamps) a_tsval = parsed->tcp.options.timestamps->value;
  }
  // Moves packets both ways; `drop_a` / `drop_b` lose what A / B sends this time.
  void shuttle(bool drop_a = false, bool drop_b = false, int rounds = 8) {
    for (int i = 0; i < rounds; ++i) {
      bool moved = false;
      while (a.pop_packet(buf)) {
        moved = true;
        check_output(buf);
        if (!drop_a) b.receive_packet(buf, now);
      }
      while (b.pop_packet(buf)) {
        moved = true;
        auto parsed = wire::parse_tcp_packet(buf);
        if (parsed && parsed->tcp.options.timestamps)
          b_tsval = parsed->tcp.options.timestamps->value;
        if (!drop_b) a.receive_packet(buf, now);
      }
      if (!moved) return;
    }
  }
  void step(Duration d) {
    now += d;
    a.on_timer(now);
    b.on_timer(now);
  }
  void accept_a() {
    if (ca) return;
    if (auto id = a.accept(listener)) ca = *id;
  }

  void set_up() {
    listener = *a.listen({kA, kPort}, now);
    if (scenario == Scenario::Cookie) {
      // B's SYN gets a cookie; its ACK is lost, so the cookie is outstanding.
      cb = *b.connect({kA, kPort}, now);
      while (b.pop_packet(buf)) a.receive_packet(buf, now);  // the SYN
      while (a.pop_packet(buf)) {                            // the cookie SYN,ACK
        check_output(buf);
        b.receive_packet(buf, now);
      }
      auto st = b.status(*cb);
      if (st) {
        b_isn = st->iss;
        cookie_iss = st->irs;
      }
      while (b.pop_packet(buf)) {
        auto parsed = wire::parse_tcp_packet(buf);
        if (parsed && parsed->tcp.options.timestamps)
          b_tsval = parsed->tcp.options.timestamps->value;
      }
      b_end = b.connections().empty() ? b_end : b.connections().front().local;
      return;
    }
    cb = *b.connect({kA, kPort}, now);
    b_end = b.connections().front().local;
    if (scenario == Scenario::SynReceived) {
      while (b.pop_packet(buf)) a.receive_packet(buf, now);  // the SYN
      while (a.pop_packet(buf)) check_output(buf);           // A's SYN,ACK is lost
      return;
    }
    shuttle();
    accept_a();
    if (!ca) return;
    switch (scenario) {
      case Scenario::FinWait1:
        (void)a.shutdown_write(*ca, now);
        while (a.pop_packet(buf)) check_output(buf);  // the FIN is lost: not acknowledged
        break;
      case Scenario::FinWait2:
        (void)a.shutdown_write(*ca, now);
        shuttle();  // B acknowledges the FIN and stays open
        break;
      case Scenario::TimeWait:
        (void)a.shutdown_write(*ca, now);
        shuttle();
        (void)b.shutdown_write(*cb, now);
        shuttle();  // A acknowledges B's FIN: TIME-WAIT
        break;
      default:
        break;
    }
  }

  // Where A's connection with B stands (or the cookie's numbers, before there is one).
  struct Anchor {
    SeqNum rcv_nxt, snd_una, snd_nxt;
  };
  Anchor anchor() {
    if (ca) {
      if (auto st = a.status(*ca)) return {st->rcv_nxt, st->snd_una, st->snd_nxt};
    }
    for (const auto& info : a.connections()) {
      if (info.remote == b_end)
        return {info.status.rcv_nxt, info.status.snd_una, info.status.snd_nxt};
    }
    return {b_isn + 1, cookie_iss + 1, cookie_iss + 1};
  }

  std::vector<std::byte> forged(FuzzedDataProvider& in) {
    Anchor at = anchor();
    wire::IpHeader ip;
    ip.src = kB;
    ip.dst = kA;
    wire::TcpHeader h;
    h.src_port = in.ConsumeBool() ? b_end.port : in.ConsumeIntegral<std::uint16_t>();
    h.dst_port =
        in.ConsumeIntegralInRange<int>(0, 15) ? kPort : in.ConsumeIntegral<std::uint16_t>();
    auto near = [&](SeqNum base) {
      switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:
          return base;
        case 1:
          return base +
                 static_cast<std::uint32_t>(in.ConsumeIntegralInRange<std::int32_t>(-4096, 4096));
        case 2:
          return base + static_cast<std::uint32_t>(in.ConsumeIntegral<std::int32_t>());
        default:
          return SeqNum(in.ConsumeIntegral<std::uint32_t>());
      }
    };
    h.seq = near(at.rcv_nxt).raw();
    h.ack = near(in.ConsumeBool() ? at.snd_una : at.snd_nxt).raw();
    h.flags = in.ConsumeIntegral<std::uint8_t>();
    if (in.ConsumeIntegralInRange<int>(0, 3))  // mostly plain ACKs, which go deepest
      h.flags = static_cast<std::uint8_t>((h.flags & ~(flag::SYN | flag::RST)) | flag::ACK);
    h.window = in.ConsumeIntegral<std::uint16_t>();
    std::uint8_t opt = in.ConsumeIntegral<std::uint8_t>();
    if (opt & 1) {
      h.options.timestamps = wire::Timestamps{
          b_tsval + static_cast<std::uint32_t>(in.ConsumeIntegralInRange<std::int32_t>(-64, 64)),
          in.ConsumeBool() ? a_tsval : in.ConsumeIntegral<std::uint32_t>()};
    }
    if (opt & 2) {
      h.options.sack_count = in.ConsumeIntegralInRange<std::uint8_t>(1, 4);
      for (std::uint8_t i = 0; i < h.options.sack_count; ++i) {
        SeqNum left = near(at.snd_una);
        h.options.sack[i] = {left.raw(),
                             (left + in.ConsumeIntegralInRange<std::uint32_t>(0, 8192)).raw()};
      }
    }
    if (opt & 4) h.options.mss = in.ConsumeIntegral<std::uint16_t>();
    if (opt & 8) h.options.window_scale = in.ConsumeIntegralInRange<std::uint8_t>(0, 16);
    if (opt & 16) h.options.sack_permitted = true;
    std::size_t len = in.ConsumeIntegralInRange<std::size_t>(0, opt & 32 ? 3000 : 64);
    std::vector<std::byte> payload(len, std::byte{0x61});
    std::vector<std::byte> out;
    wire::build_tcp_packet(ip, h, payload, out);
    return out;
  }

  void api(Stack& s, std::optional<ConnectionId> id, FuzzedDataProvider& in) {
    if (!id) return;
    std::byte data[4096] = {};
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:
        (void)s.send(*id, std::span(data, in.ConsumeIntegralInRange<std::size_t>(1, 4096)), now);
        break;
      case 1:
        (void)s.receive(*id, data, now);
        break;
      case 2:
        (void)s.shutdown_write(*id, now);
        break;
      case 3:
        (void)s.send_last(*id, std::span(data, in.ConsumeIntegralInRange<std::size_t>(0, 100)),
                          now);
        break;
      case 4:
        (void)s.close(*id, now);
        break;
      default:
        (void)s.abort(*id, now);
        break;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  auto scenario = static_cast<Scenario>(
      in.ConsumeIntegralInRange<int>(0, static_cast<int>(Scenario::Count) - 1));
  World w(scenario);
  w.set_up();

  for (int op = 0; op < 128 && in.remaining_bytes() > 0; ++op) {
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
      case 1:
      case 2:
      case 3:
        w.a.receive_packet(w.forged(in), w.now);
        break;
      case 4: {
        // Raw bytes, checksums repaired so that they get past the parser's checks.
        auto raw = in.ConsumeBytes<std::byte>(in.ConsumeIntegralInRange<std::size_t>(0, 200));
        if (raw.size() >= 20 && (std::to_integer<unsigned>(raw[0]) >> 4) == 4) {
          std::size_t ihl = (std::to_integer<std::size_t>(raw[0]) & 0xf) * 4;
          if (ihl >= 20 && ihl <= raw.size()) {
            raw[10] = raw[11] = std::byte{0};
            std::uint16_t sum = wire::internet_checksum(std::span(raw).first(ihl));
            raw[10] = static_cast<std::byte>(sum >> 8);
            raw[11] = static_cast<std::byte>(sum & 0xff);
          }
        }
        w.a.receive_packet(raw, w.now, Stack::ReceiveFlags{.checksum_verified = true});
        break;
      }
      case 5: {
        std::uint8_t loss = in.ConsumeIntegral<std::uint8_t>();
        w.shuttle((loss & 3) == 0, (loss & 12) == 0);
        w.accept_a();
        break;
      }
      case 6:
        w.step(std::chrono::milliseconds(in.ConsumeIntegralInRange<int>(0, 70'000)));
        break;
      case 7:
        w.api(w.a, w.ca, in);
        break;
      case 8:
        w.api(w.b, w.cb, in);
        break;
      default:
        w.accept_a();
        while (w.a.poll_event()) {
        }
        break;
    }
    while (w.a.pop_packet(w.buf)) w.check_output(w.buf);
    if (w.a.connection_count() > 32) __builtin_trap();
  }
  // Run the clock out: everything A holds must end in bounded time without a crash.
  for (int i = 0; i < 12; ++i) {
    w.step(60s);
    w.shuttle();
  }
  return 0;
}
