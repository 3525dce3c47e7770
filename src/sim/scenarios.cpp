// SPDX-License-Identifier: MIT
#include "sim/scenarios.hpp"

#include <memory>

#include "wire/packet.hpp"

namespace synack::sim {
namespace {

constexpr Duration kLimit = 600s;  // generous: scenarios must finish under --loss too
constexpr std::uint16_t kPort = 7;

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// The application side of a scenario: a server that listens on port 7 and a client.
struct Apps {
  SimPair& p;
  ListenerId listener = 0;
  ConnectionId client = 0;
  ConnectionId server = 0;
  std::string received[2];

  explicit Apps(SimPair& pair) : p(pair) {}

  wire::Endpoint server_endpoint() const { return {p.address(SimPair::kServer), kPort}; }

  void listen() { listener = *p.server().listen(server_endpoint(), p.now()); }
  bool connect() {
    auto c = p.client().connect(server_endpoint(), p.now());
    if (!c) return false;
    client = *c;
    p.flush();
    return true;
  }
  // Accepts the server's side once it completes the handshake.
  bool poll_accept() {
    if (server) return true;
    auto a = p.server().accept(listener);
    if (a) server = *a;
    return server != 0;
  }
  State state(int side) const {
    ConnectionId id = side == 0 ? client : server;
    if (id == 0) return side == 0 ? State::Closed : State::Listen;
    return p.stack(side).state(id).value_or(State::Closed);
  }
  bool established() {
    return poll_accept() && state(0) == State::Established && state(1) == State::Established;
  }
  bool handshake() {
    listen();
    if (!connect()) return false;
    return p.run_until([&] { return established(); }, kLimit);
  }
  void send(int side, const std::string& text) {
    ConnectionId id = side == 0 ? client : server;
    (void)p.stack(side).send(id, bytes_of(text), p.now());
    p.flush();
  }
  // Reads whatever is available on `side` into received[side]; true at end of stream.
  bool drain(int side) {
    ConnectionId id = side == 0 ? client : server;
    if (id == 0) return false;
    std::byte buf[4096];
    for (;;) {
      auto r = p.stack(side).receive(id, buf, p.now());
      if (!r) return false;
      if (*r == 0) return true;
      received[side].append(reinterpret_cast<const char*>(buf), *r);
    }
  }
  void shutdown(int side) {
    (void)p.stack(side).shutdown_write(side == 0 ? client : server, p.now());
    p.flush();
  }
  bool gone(int side) {
    ConnectionId id = side == 0 ? client : server;
    return p.stack(side).state(id).value_or(State::Closed) == State::Closed;
  }
  // Both ends run down to CLOSED (through TIME-WAIT on the side that closed first).
  bool both_closed() {
    return p.run_until([&] { return state(0) == State::Closed && state(1) == State::Closed; },
                       kLimit);
  }
  // The server closes its side as soon as it has read the client's FIN.
  bool server_closes_on_fin() {
    bool ok = p.run_until([&] { return drain(1); }, kLimit);
    shutdown(1);
    return ok;
  }
};

bool only_flags(const sim::PacketInfo& info, std::uint8_t want, std::uint8_t mask) {
  auto pkt = wire::parse_tcp_packet(info.bytes);
  return pkt && (pkt->tcp.flags & mask) == want;
}

// A drop filter that drops the first packet matching `match`, once.
std::function<std::function<bool(const sim::PacketInfo&)>()> drop_first(
    const std::function<bool(const sim::PacketInfo&)>& match) {
  return [match] {
    auto done = std::make_shared<bool>(false);
    return [match, done](const sim::PacketInfo& info) {
      if (*done || !match(info)) return false;
      *done = true;
      return true;
    };
  };
}

using wire::tcp_flag::ACK;
using wire::tcp_flag::FIN;
using wire::tcp_flag::RST;
using wire::tcp_flag::SYN;
constexpr std::uint8_t kAll = 0xff & ~wire::tcp_flag::PSH;

bool close_sequence(SimPair& p, std::string& summary, const char* what) {
  Apps a(p);
  if (!a.handshake()) return false;
  a.shutdown(0);
  if (!a.server_closes_on_fin()) return false;
  bool ok = a.both_closed();
  summary = what;
  return ok;
}

std::vector<Scenario> make_scenarios() {
  std::vector<Scenario> s;
  s.push_back({"handshake",
               "the three-way handshake (RFC 9293 §3.5, Figure 6)",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 bool ok = a.handshake();
                 summary = "both ends ESTABLISHED after SYN, SYN,ACK, ACK";
                 return ok;
               },
               {}});
  s.push_back({"exchange",
               "handshake, a short request and its answer, and the four-way close (synack demo)",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 if (!a.handshake()) return false;
                 a.send(0, "hello, synack\n");
                 if (!p.run_until(
                         [&] {
                           a.drain(1);
                           return a.received[1].size() >= 14;
                         },
                         kLimit))
                   return false;
                 a.send(1, "hello, client: " + a.received[1]);
                 if (!p.run_until(
                         [&] {
                           a.drain(0);
                           return a.received[0].size() >= 29;
                         },
                         kLimit))
                   return false;
                 a.shutdown(0);
                 if (!a.server_closes_on_fin()) return false;
                 bool ok = a.both_closed();
                 summary = "client sent \"hello, synack\\n\", server answered " +
                           std::to_string(a.received[0].size()) + " bytes, both closed";
                 return ok;
               },
               {}});
  s.push_back({"simultaneous-open",
               "both ends send a SYN at once (RFC 9293 §3.5, Figure 7): SYN-SENT -> SYN-RECEIVED",
               [](SimPair& p, std::string& summary) {
                 wire::Endpoint ep[2] = {{p.address(0), 5001}, {p.address(1), 5002}};
                 auto c0 = p.client().connect(ep[1], p.now(), ep[0]);
                 auto c1 = p.server().connect(ep[0], p.now(), ep[1]);
                 if (!c0 || !c1) return false;
                 p.flush();
                 bool ok = p.run_until(
                     [&] {
                       return p.client().state(*c0) == State::Established &&
                              p.server().state(*c1) == State::Established;
                     },
                     kLimit);
                 summary = "SYNs crossed; both ends passed SYN-RECEIVED to ESTABLISHED";
                 return ok;
               },
               {}});
  s.push_back({"close",
               "the four-way close (RFC 9293 §3.6, Figure 12), client first",
               [](SimPair& p, std::string& summary) {
                 return close_sequence(p, summary,
                                       "client: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT; server: "
                                       "CLOSE-WAIT, LAST-ACK");
               },
               {}});
  s.push_back({"simultaneous-close",
               "both ends close at once (RFC 9293 Figure 13): FIN-WAIT-1 -> CLOSING -> TIME-WAIT",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 if (!a.handshake()) return false;
                 (void)p.client().shutdown_write(a.client, p.now());
                 (void)p.server().shutdown_write(a.server, p.now());
                 p.flush();
                 bool ok = a.both_closed();
                 summary = "FINs crossed; both ends went through CLOSING and TIME-WAIT";
                 return ok;
               },
               {}});
  s.push_back({"half-close",
               "the client closes its sending side; the server keeps sending into FIN-WAIT-2",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 if (!a.handshake()) return false;
                 a.send(0, "GET /report\n");
                 a.shutdown(0);
                 if (!p.run_until([&] { return a.drain(1); }, kLimit)) return false;
                 // The server takes a moment to prepare the report and sends it in three
                 // pieces, so the data visibly flows into FIN-WAIT-2.
                 std::string report;
                 for (int piece = 0; piece < 3; ++piece) {
                   p.run_for(5ms);
                   std::string part(1400, static_cast<char>('a' + piece));
                   a.send(1, part);
                   report += part;
                 }
                 p.run_for(5ms);
                 a.shutdown(1);
                 bool ok = p.run_until([&] { return a.drain(0); }, kLimit);
                 ok = ok && a.received[0].size() == report.size() && a.both_closed();
                 summary = "server sent " + std::to_string(a.received[0].size()) +
                           " bytes after the client's FIN";
                 return ok;
               },
               {}});
  s.push_back({"reset",
               "the client aborts an established connection (RFC 9293 §3.10.5)",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 if (!a.handshake()) return false;
                 (void)p.client().abort(a.client, p.now());
                 p.flush();
                 bool ok = p.run_until([&] { return a.state(1) == State::Closed; }, kLimit);
                 auto err = p.server().connection_error(a.server);
                 summary =
                     std::string("server: ") + std::string(to_string(err.value_or(Error::Ok)));
                 return ok && err == Error::ConnectionReset;
               },
               {}});
  s.push_back({"refused",
               "a SYN to a port nobody listens on is answered by RST,ACK",
               [](SimPair& p, std::string& summary) {
                 auto c = p.client().connect({p.address(1), 9}, p.now());
                 if (!c) return false;
                 p.flush();
                 bool ok =
                     p.run_until([&] { return p.client().state(*c) == State::Closed; }, kLimit);
                 auto err = p.client().connection_error(*c);
                 summary =
                     std::string("client: ") + std::string(to_string(err.value_or(Error::Ok)));
                 return ok && err == Error::ConnectionRefused;
               },
               {}});
  s.push_back({"lost-syn", "the first SYN is lost; it is sent again after the initial RTO (1 s)",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 bool ok = a.handshake();
                 summary = "SYN retransmitted after 1 s, then the handshake completed";
                 return ok;
               },
               drop_first([](const sim::PacketInfo& i) { return only_flags(i, SYN, kAll); })});
  s.push_back(
      {"lost-synack", "the SYN,ACK is lost; SYN and SYN,ACK are retransmitted",
       [](SimPair& p, std::string& summary) {
         Apps a(p);
         bool ok = a.handshake();
         summary = "SYN,ACK retransmitted, then the handshake completed";
         return ok;
       },
       drop_first([](const sim::PacketInfo& i) { return only_flags(i, SYN | ACK, kAll); })});
  s.push_back({"lost-fin", "the client's FIN is lost and retransmitted",
               [](SimPair& p, std::string& summary) {
                 return close_sequence(p, summary, "FIN retransmitted after the RTO");
               },
               drop_first([](const sim::PacketInfo& i) {
                 return i.from == 0 && only_flags(i, FIN | ACK, kAll);
               })});
  // The last ACK (client's ACK of the server's FIN) is lost: the server in LAST-ACK sends its
  // FIN again, and the client answers it from TIME-WAIT and restarts the 2 MSL timer.
  s.push_back({"lost-final-ack",
               "the final ACK is lost; the FIN is retransmitted and answered from TIME-WAIT",
               [](SimPair& p, std::string& summary) {
                 return close_sequence(p, summary,
                                       "server's FIN retransmitted from LAST-ACK, "
                                       "re-acknowledged in TIME-WAIT");
               },
               [] {
                 auto server_fin_seen = std::make_shared<bool>(false);
                 auto dropped = std::make_shared<bool>(false);
                 return [server_fin_seen, dropped](const sim::PacketInfo& i) {
                   auto pkt = wire::parse_tcp_packet(i.bytes);
                   if (!pkt || *dropped) return false;
                   if (i.from == 1 && pkt->tcp.has(FIN)) *server_fin_seen = true;
                   if (i.from == 0 && *server_fin_seen && (pkt->tcp.flags & kAll) == ACK) {
                     *dropped = true;
                     return true;
                   }
                   return false;
                 };
               }});
  s.push_back({"time-wait",
               "the side that closes first waits 2 x MSL (60 s by default) in TIME-WAIT",
               [](SimPair& p, std::string& summary) {
                 Apps a(p);
                 if (!a.handshake()) return false;
                 a.shutdown(0);
                 if (!a.server_closes_on_fin()) return false;
                 if (!p.run_until([&] { return a.state(0) == State::TimeWait; }, kLimit))
                   return false;
                 Instant entered = p.now();
                 p.ladder().add_note(entered, "client waits 2 x MSL in TIME-WAIT", 0);
                 bool ok = a.both_closed();
                 double waited = static_cast<double>(to_us(p.now()) - to_us(entered)) / 1e6;
                 summary = "client left TIME-WAIT after " + std::to_string(waited) + " s";
                 return ok;
               },
               {}});
  return s;
}

}  // namespace

const std::vector<Scenario>& all_scenarios() {
  static const std::vector<Scenario> scenarios = make_scenarios();
  return scenarios;
}

const Scenario* find_scenario(const std::string& name) {
  for (const auto& s : all_scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

ScenarioResult run_scenario(const Scenario& scenario, const SimOptions& options) {
  SimPair pair(options);
  if (scenario.make_drop) pair.net().set_drop_filter(scenario.make_drop());
  ScenarioResult result;
  result.ok = scenario.body(pair, result.summary);
  result.ladder = pair.ladder();
  result.ladder.initial[0] = State::Closed;
  result.ladder.initial[1] = State::Closed;
  for (int side = 0; side < 2; ++side) {
    result.final_state[side] = pair.ladder().final_state[side];
    result.counters[side] = pair.stack(side).counters();
  }
  result.ladder.title = scenario.name + ": " + scenario.description;
  return result;
}

}  // namespace synack::sim
