// SPDX-License-Identifier: MIT
// The scripted connection harness and the process-wide transition recorder.
#include "harness.hpp"

#include <cstdio>
#include <mutex>

namespace synack::tcp::test {

// --- process-wide transition recorder ---------------------------------------------------

namespace {

std::mutex& recorder_mutex() {
  static std::mutex m;
  return m;
}

std::set<StatePair>& recorder_set() {
  static std::set<StatePair> s;
  return s;
}

std::set<TracedTransition>& cause_set() {
  static std::set<TracedTransition> s;
  return s;
}

// "L+5", "R+1" (whichever ISS is nearer), or the raw value when near neither.
std::string seq_name(SeqNum s) {
  std::int32_t dl = s - Harness::L;
  std::int32_t dr = s - Harness::R;
  auto magnitude = [](std::int32_t d) { return d < 0 ? -static_cast<std::int64_t>(d) : d; };
  bool use_l = magnitude(dl) <= magnitude(dr);
  std::int32_t d = use_l ? dl : dr;
  if (magnitude(d) > 10'000'000) return std::to_string(s.raw());
  std::string out = use_l ? "L" : "R";
  if (d > 0) out += "+" + std::to_string(d);
  if (d < 0) out += std::to_string(d);
  return out;
}

::testing::ScopedTrace at(const Loc& loc) {
  return ::testing::ScopedTrace(loc.file, loc.line, "called here");
}

}  // namespace

const std::set<StatePair>& observed_transitions() { return recorder_set(); }

const std::set<TracedTransition>& observed_causes() { return cause_set(); }

void record_transition(State from, State to, std::string_view cause) {
  std::lock_guard lock(recorder_mutex());
  recorder_set().insert({from, to});
  cause_set().insert({from, to, std::string(cause)});
}

// --- descriptions -----------------------------------------------------------------------

std::string describe_flags(std::uint8_t flags) {
  static constexpr std::pair<std::uint8_t, const char*> names[] = {{SYN, "SYN"},
                                                                   {FIN, "FIN"},
                                                                   {RST, "RST"},
                                                                   {PSH, "PSH"},
                                                                   {ACK, "ACK"},
                                                                   {wire::tcp_flag::URG, "URG"},
                                                                   {wire::tcp_flag::ECE, "ECE"},
                                                                   {wire::tcp_flag::CWR, "CWR"}};
  std::string out;
  for (auto [bit, name] : names) {
    if ((flags & bit) == 0) continue;
    if (!out.empty()) out += ",";
    out += name;
  }
  return out.empty() ? "none" : out;
}

std::string SentSegment::payload_string() const {
  return std::string(reinterpret_cast<const char*>(payload.data()), payload.size());
}

std::string describe(const SentSegment& s) {
  std::string out = "<SEQ=" + seq_name(s.seq) + ">";
  if (s.has(ACK)) out += "<ACK=" + seq_name(s.ack) + ">";
  out += "<CTL=" + describe_flags(s.flags) + "> win=" + std::to_string(s.window) +
         " len=" + std::to_string(s.payload.size());
  if (s.retransmission) out += " (retransmission)";
  return out;
}

std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) out[i] = static_cast<std::byte>(text[i]);
  return out;
}

// --- the harness ------------------------------------------------------------------------

Harness::Harness() = default;
Harness::~Harness() = default;

void Harness::TearDown() {
  if (sent_.empty()) return;
  std::string all;
  for (const auto& s : sent_) all += "\n  " + describe(s);
  ADD_FAILURE() << "the test ended with " << sent_.size()
                << " sent segment(s) it never checked:" << all;
}

void Harness::Recorder::send(const Segment& segment) {
  SentSegment s;
  s.at = h_.now;
  s.flags = segment.flags;
  s.seq = segment.seq;
  s.ack = segment.ack;
  s.window = segment.window;
  s.options = segment.options;
  s.payload.assign(segment.payload.begin(), segment.payload.end());
  s.retransmission = segment.retransmission;
  h_.sent_.push_back(std::move(s));
}

void Harness::Recorder::on_transition(const TransitionEvent& e) {
  record_transition(e.from, e.to, e.cause);
  h_.transitions_.push_back(RecordedTransition{e.time, e.from, e.to, std::string(e.cause)});
}

Connection& Harness::conn() {
  if (!conn_) {
    ConnectionContext context{&counters, &recorder_, 1};
    wire::Endpoint local, remote;
    local.addr.bytes = {10, 0, 0, 1};
    local.port = 40000;
    remote.addr.bytes = {10, 0, 0, 2};
    remote.port = 80;
    if (ipv6_) {
      local.addr = wire::IpAddress::v6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
      remote.addr = wire::IpAddress::v6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
    }
    if (listener_child_) {
      conn_.emplace(Connection::for_listener(config, context, local, remote, L, 0));
    } else {
      conn_.emplace(config, context, local, remote, L, 0);
    }
  }
  return *conn_;
}

int Harness::run_timers_until(Instant limit) {
  int calls = 0;
  while (auto deadline = conn().next_deadline()) {
    if (*deadline > limit) break;
    if (++calls > 100'000) {
      ADD_FAILURE() << "run_timers_until: the deadline never moves past " << to_us(*deadline)
                    << " us";
      break;
    }
    if (*deadline > now) now = *deadline;
    conn().on_timer(now, recorder_);
  }
  if (limit > now) now = limit;
  return calls;
}

void Harness::call_on_timer() { conn().on_timer(now, recorder_); }

std::optional<Instant> Harness::fire_next_timer(Loc loc) {
  auto trace = at(loc);
  auto deadline = conn().next_deadline();
  if (!deadline) {
    ADD_FAILURE() << "fire_next_timer: no timer is armed (state " << to_string(conn().state())
                  << ")";
    return std::nullopt;
  }
  if (*deadline > now) now = *deadline;
  conn().on_timer(now, recorder_);
  return now;
}

void Harness::open_active(Loc loc) {
  auto trace = at(loc);
  auto r = conn().open_active(now, recorder_);
  EXPECT_TRUE(r.has_value()) << "open_active failed";
}

void Harness::open_passive(Loc loc) {
  auto trace = at(loc);
  auto r = conn().open_passive(now);
  EXPECT_TRUE(r.has_value()) << "open_passive failed";
}

std::size_t Harness::send(std::string_view data, Loc loc) {
  auto trace = at(loc);
  auto bytes = bytes_of(data);
  auto r = conn().send(bytes, now, recorder_);
  if (!r.has_value()) {
    ADD_FAILURE() << "send failed";
    return 0;
  }
  return *r;
}

Expected<std::size_t, Error> Harness::try_send(std::string_view data) {
  auto bytes = bytes_of(data);
  return conn().send(bytes, now, recorder_);
}

std::string Harness::receive_all() {
  std::string out;
  std::vector<std::byte> buf(4096);
  for (;;) {
    auto r = conn().receive(buf, now, recorder_);
    if (!r.has_value() || *r == 0) break;
    out.append(reinterpret_cast<const char*>(buf.data()), *r);
  }
  return out;
}

Expected<std::size_t, Error> Harness::receive(std::span<std::byte> buffer) {
  return conn().receive(buffer, now, recorder_);
}

void Harness::close(Loc loc) {
  auto trace = at(loc);
  auto r = conn().close(now, recorder_);
  EXPECT_TRUE(r.has_value()) << "close failed";
}

void Harness::abort(Loc loc) {
  auto trace = at(loc);
  conn().abort(now, recorder_);
}

void Harness::inject(const Seg& seg) {
  Segment s;
  s.flags = seg.flags;
  s.seq = seg.seq;
  s.ack = seg.ack;
  s.window = seg.window.value_or(defaults.window.value_or(0));
  s.options = seg.options ? *seg.options : defaults.options.value_or(wire::TcpOptions{});
  std::vector<std::byte> payload = bytes_of(seg.payload);
  s.payload = payload;
  conn().on_segment(s, now, recorder_);
}

SentSegment Harness::pop_tx(Loc loc) {
  auto trace = at(loc);
  if (sent_.empty()) {
    ADD_FAILURE() << "expected a segment to have been sent, but none was";
    return {};
  }
  SentSegment s = std::move(sent_.front());
  sent_.pop_front();
  return s;
}

SentSegment Harness::expect_tx(const Seg& want, Loc loc) {
  auto trace = at(loc);
  if (sent_.empty()) {
    ADD_FAILURE() << "expected " << describe_flags(want.flags) << " <SEQ=" << seq_name(want.seq)
                  << "> to be sent, but nothing was";
    return {};
  }
  SentSegment got = std::move(sent_.front());
  sent_.pop_front();
  SCOPED_TRACE("sent: " + describe(got));
  EXPECT_EQ(describe_flags(got.flags), describe_flags(want.flags)) << "flags";
  EXPECT_EQ(seq_name(got.seq), seq_name(want.seq)) << "SEG.SEQ";
  if ((want.flags & ACK) != 0) {
    EXPECT_EQ(seq_name(got.ack), seq_name(want.ack)) << "SEG.ACK";
  }
  if (want.window) {
    EXPECT_EQ(got.window, *want.window) << "SEG.WND";
  }
  EXPECT_EQ(got.payload_string(), want.payload) << "payload";
  if (want.options) {
    EXPECT_TRUE(got.options == *want.options) << "options differ";
  }
  return got;
}

void Harness::expect_no_tx(Loc loc) {
  auto trace = at(loc);
  if (!sent_.empty()) {
    std::string all;
    for (const auto& s : sent_) all += "\n  " + describe(s);
    ADD_FAILURE() << "expected nothing to be sent, but " << sent_.size()
                  << " segment(s) were:" << all;
  }
}

void Harness::expect_state(State s, Loc loc) {
  auto trace = at(loc);
  EXPECT_EQ(to_string(conn().state()), to_string(s)) << "state";
}

RecordedTransition Harness::expect_transition(State from, State to, Loc loc) {
  auto trace = at(loc);
  if (transitions_.empty()) {
    ADD_FAILURE() << "expected transition " << to_string(from) << " -> " << to_string(to)
                  << ", but there was none";
    return {};
  }
  RecordedTransition t = transitions_.front();
  transitions_.pop_front();
  EXPECT_EQ(std::string(to_string(t.from)) + " -> " + std::string(to_string(t.to)),
            std::string(to_string(from)) + " -> " + std::string(to_string(to)))
      << "transition (cause \"" << t.cause << "\")";
  return t;
}

void Harness::expect_no_transition(Loc loc) {
  auto trace = at(loc);
  if (!transitions_.empty()) {
    std::string all;
    for (const auto& t : transitions_)
      all += "\n  " + std::string(to_string(t.from)) + " -> " + std::string(to_string(t.to)) +
             " (" + t.cause + ")";
    ADD_FAILURE() << "expected no transition, but there were:" << all;
  }
}

// --- scripted setups --------------------------------------------------------------------

void Harness::establish_active(Loc loc) {
  auto trace = at(loc);
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_transition(State::SynSent, State::Established);
  expect_state(State::Established);
}

void Harness::establish_sack(Duration handshake_rtt, Loc loc) {
  auto trace = at(loc);
  wire::TcpOptions peer;
  peer.sack_permitted = true;
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  advance(handshake_rtt);
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_transition(State::SynSent, State::Established);
}

void Harness::establish_passive(Loc loc) {
  auto trace = at(loc);
  open_passive();
  expect_transition(State::Closed, State::Listen);
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Listen, State::SynReceived);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  expect_no_tx();
  expect_transition(State::SynReceived, State::Established);
  expect_state(State::Established);
}

void Harness::reach_fin_wait_1(Loc loc) {
  auto trace = at(loc);
  establish_active();
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  expect_transition(State::Established, State::FinWait1);
}

void Harness::reach_fin_wait_2(Loc loc) {
  auto trace = at(loc);
  reach_fin_wait_1();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2});
  expect_no_tx();
  expect_transition(State::FinWait1, State::FinWait2);
}

void Harness::reach_close_wait(Loc loc) {
  auto trace = at(loc);
  establish_active();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2});
  expect_transition(State::Established, State::CloseWait);
}

void Harness::reach_last_ack(Loc loc) {
  auto trace = at(loc);
  reach_close_wait();
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  expect_transition(State::CloseWait, State::LastAck);
}

void Harness::reach_closing(Loc loc) {
  auto trace = at(loc);
  reach_fin_wait_1();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_transition(State::FinWait1, State::Closing);
}

void Harness::reach_time_wait(Loc loc) {
  auto trace = at(loc);
  reach_fin_wait_2();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 2});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_transition(State::FinWait2, State::TimeWait);
}

}  // namespace synack::tcp::test
