// SPDX-License-Identifier: MIT
// `synack ss` / `synack stats`: the JSON lines a process sends, the text the client prints,
// and the control-socket protocol against a Stack driven in-process (a SimPair with one
// established connection), served by a ControlServer on a poll() loop in virtual time.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "control/control_socket.hpp"
#include "control/status_format.hpp"
#include "os/out_of_descriptors.hpp"
#include "sim/sim_pair.hpp"

namespace synack::control {
using namespace synack::sim;
namespace {

ConnectionInfo sample_connection() {
  ConnectionInfo c;
  c.id = 7;
  c.local = {wire::IpAddress::v4(198, 18, 0, 1), 7};
  c.remote = {*wire::IpAddress::parse("fd53:796e:6163::2"), 40000};
  c.status.state = State::Established;
  c.status.receive_queue = 12;
  c.status.send_queue = 345;
  c.status.buffer_memory = 32768;
  c.status.snd_mss = 1460;
  c.status.cwnd = 14600;
  c.status.ssthresh = 7300;
  c.status.srtt = Duration(1500);
  c.status.rttvar = Duration(750);
  c.status.rto = Duration(200000);
  c.status.retransmits = 3;
  c.status.rto_expirations = 1;
  c.status.fast_retransmits = 2;
  c.status.bytes_sent = 1000;
  c.status.bytes_acked = 900;
  c.status.bytes_received = 55;
  c.status.sack = true;
  c.status.timestamps = true;
  c.status.window_scale = true;
  c.status.snd_wscale = 7;
  c.status.rcv_wscale = 3;
  c.status.congestion = CongestionAlgorithm::NewReno;
  return c;
}

TEST(StatusFormat, ConnectionJsonRoundTrips) {
  std::string json = connections_json({42, "serve"}, {sample_connection()});
  auto lines = parse_status_lines(json);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].type(), "process");
  EXPECT_EQ(lines[0].u64("pid"), 42u);
  EXPECT_EQ(lines[0].str("command"), "serve");
  EXPECT_EQ(lines[0].u64("connections"), 1u);
  EXPECT_FALSE(lines[0].boolean("truncated"));
  const StatusLine& c = lines[1];
  EXPECT_EQ(c.type(), "connection");
  EXPECT_EQ(c.str("state"), "ESTABLISHED");
  EXPECT_EQ(c.str("local"), "198.18.0.1:7");
  EXPECT_EQ(c.str("remote"), "[fd53:796e:6163::2]:40000");
  EXPECT_EQ(c.u64("recv_q"), 12u);
  EXPECT_EQ(c.u64("send_q"), 345u);
  EXPECT_EQ(c.u64("buffer_memory"), 32768u);
  EXPECT_EQ(c.u64("srtt_us"), 1500u);
  EXPECT_EQ(c.u64("rto_us"), 200000u);
  EXPECT_EQ(c.u64("cwnd"), 14600u);
  EXPECT_EQ(c.u64("bytes_acked"), 900u);
  EXPECT_TRUE(c.boolean("sack"));
  EXPECT_EQ(c.str("congestion"), "newreno");
}

TEST(StatusFormat, NoRttSampleIsNull) {
  ConnectionInfo c = sample_connection();
  c.status.srtt.reset();
  std::string json = connections_json({1, "connect"}, {c});
  EXPECT_NE(json.find("\"srtt_us\":null"), std::string::npos) << json;
  std::string text = format_connections_text({parse_status_lines(json)});
  EXPECT_EQ(text.find("rtt:"), std::string::npos) << text;
}

TEST(StatusFormat, ConnectionTextLikeSsTi) {
  std::string text = format_connections_text(
      {parse_status_lines(connections_json({42, "serve"}, {sample_connection()}))});
  EXPECT_EQ(text.rfind("State        Recv-Q Send-Q Local Address:Port", 0), 0u) << text;
  EXPECT_NE(text.find("ESTABLISHED  12     345    198.18.0.1:7"), std::string::npos) << text;
  EXPECT_NE(text.find("[fd53:796e:6163::2]:40000"), std::string::npos) << text;
  EXPECT_NE(text.find("synack-serve,pid=42\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\t newreno sack ts wscale:7,3 rto:200 rtt:1.5/0.75 mss:1460 cwnd:10 "
                      "ssthresh:5 bytes_sent:1000 bytes_acked:900 bytes_received:55"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" buffers:32768 retrans:3/1/2\n"), std::string::npos) << text;
}

TEST(StatusFormat, BbrModelAndPacingRateLikeSs) {
  ConnectionInfo c = sample_connection();
  c.status.congestion = CongestionAlgorithm::Bbr;
  c.status.pacing_rate = 2'275'000;  // bytes/s: 18.2 Mbit/s
  ConnectionStatus::BbrModel m;
  m.mode = "ProbeBW_UP";
  m.max_bw = 150'000'000;  // 1.2 Gbit/s
  m.bw = 2'300'000;
  m.min_rtt = Duration(20);
  m.pacing_gain = 1.25;
  m.cwnd_gain = 2;
  m.inflight_hi = 28960;
  c.status.bbr = m;
  std::string json = connections_json({42, "serve"}, {c});
  auto lines = parse_status_lines(json);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].u64("pacing_rate"), 2'275'000u);
  EXPECT_EQ(lines[1].str("bbr_mode"), "ProbeBW_UP");
  EXPECT_EQ(lines[1].u64("bbr_max_bw"), 150'000'000u);
  EXPECT_EQ(lines[1].u64("bbr_inflight_hi"), 28960u);
  EXPECT_FALSE(lines[1].has("bbr_inflight_lo")) << json;  // unbounded: left out
  std::string text = format_connections_text({lines});
  EXPECT_NE(text.find(" pacing_rate 18.2Mbps bbr:(ProbeBW_UP,bw:18.4Mbps,max_bw:1.2Gbps,"
                      "mrtt:0.02,pacing_gain:1.25,cwnd_gain:2,inflight_hi:28960)\n"),
            std::string::npos)
      << text;
  // CUBIC does not pace and has no model: neither is printed.
  std::string cubic = format_connections_text(
      {parse_status_lines(connections_json({42, "serve"}, {sample_connection()}))});
  EXPECT_EQ(cubic.find("pacing_rate"), std::string::npos) << cubic;
  EXPECT_EQ(cubic.find("bbr:("), std::string::npos) << cubic;
}

// A BBR connection of a real stack reports its model and pacing rate once data has flowed.
TEST(StatusFormat, BbrConnectionReportsItsModel) {
  SimOptions options;
  options.record_ladder = false;
  options.client_config.tcp.congestion = CongestionAlgorithm::Bbr;
  SimPair pair(options);
  wire::Endpoint server{pair.address(SimPair::kServer), 9};
  ASSERT_TRUE(pair.server().listen(server, pair.now()));
  auto id = pair.client().connect(server, pair.now());
  ASSERT_TRUE(id);
  pair.flush();
  pair.run_for(100ms);
  std::vector<std::byte> data(200'000, std::byte{7});
  ASSERT_TRUE(pair.client().send(*id, data, pair.now()));
  pair.flush();
  pair.run_for(100ms);
  auto list = pair.client().connections();
  ASSERT_EQ(list.size(), 1u);
  const ConnectionStatus& s = list[0].status;
  ASSERT_TRUE(s.bbr);
  EXPECT_FALSE(s.bbr->mode.empty());
  EXPECT_GT(s.bbr->max_bw, 0u);
  EXPECT_LE(s.bbr->bw, s.bbr->max_bw);
  EXPECT_TRUE(s.bbr->min_rtt);
  EXPECT_GT(s.pacing_rate, 0u);
  // The server's end is CUBIC: no model, no pacing.
  auto server_list = pair.server().connections();
  ASSERT_EQ(server_list.size(), 1u);
  EXPECT_FALSE(server_list[0].status.bbr);
  EXPECT_EQ(server_list[0].status.pacing_rate, 0u);
}

TEST(StatusFormat, ListingIsCappedAndSaysSo) {
  std::vector<ConnectionInfo> many(5, sample_connection());
  auto lines = parse_status_lines(connections_json({9, "serve"}, many, 3));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(lines[0].boolean("truncated"));
  EXPECT_EQ(lines[0].u64("connections"), 5u);
  std::string text = format_connections_text({lines});
  EXPECT_NE(text.find("of 5 connections"), std::string::npos) << text;
}

// Runs of spaces as one: column widths aside.
std::string squeeze(std::string_view text) {
  std::string out;
  for (char c : text)
    if (c != ' ' || out.empty() || out.back() != ' ') out += c;
  return out;
}

TEST(StatusFormat, CountersLikeNstat) {
  Counters counters;
  counters.tcp_passive_opens = 3;
  counters.tcp_segments_in = 17;
  std::string json = counters_json({42, "serve"}, counters);
  auto lines = parse_status_lines(json);
  std::size_t total = 0;
  counters.for_each([&](auto, auto, auto) { ++total; });
  ASSERT_EQ(lines.size(), total + 1);
  // Columns are as wide as the longest counter name, so that they line up run after run.
  std::string text = squeeze(format_counters_text({lines}, false));
  EXPECT_EQ(text,
            "#pid 42 synack serve\n"
            "tcp_segments_in 17 TCP segments received and parsed\n"
            "tcp_passive_opens 3 SYNs accepted by a listener\n");
  std::string all = format_counters_text({lines}, true);
  EXPECT_NE(all.find("drop_paws"), std::string::npos);
  EXPECT_EQ(static_cast<std::size_t>(std::count(all.begin(), all.end(), '\n')), total + 1);
}

TEST(StatusFormat, StringsAreEscapedAndSurviveTheRoundTrip) {
  const std::string odd = "a\"b\\c\nd\x01";
  std::string json = error_json({5, "serve"}, odd);
  EXPECT_EQ(json, "{\"type\":\"error\",\"pid\":5,\"message\":\"a\\\"b\\\\c\\nd\\u0001\"}\n");
  auto lines = parse_status_lines(json);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].str("message"), odd);
}

TEST(StatusFormat, EveryPrefixOfALineIsRejected) {
  std::string line = "{\"type\":\"counter\",\"value\":12,\"ok\":true,\"none\":null,\"s\":\"x\"}";
  ASSERT_TRUE(StatusLine::parse(line));
  for (std::size_t cut = 0; cut < line.size(); ++cut)
    EXPECT_FALSE(StatusLine::parse(line.substr(0, cut))) << cut;
  EXPECT_FALSE(StatusLine::parse("{\"a\":{\"nested\":1}}"));
  EXPECT_FALSE(StatusLine::parse("{\"a\":[1]}"));
  EXPECT_FALSE(StatusLine::parse("{\"a\":1} trailing"));
  EXPECT_FALSE(StatusLine::parse("{\"a\":-1}")->u64("a", 99) != 99);
}

// --- the protocol ---

// A poll() loop in virtual time: fds are polled with a short real timeout; timers fire when
// the test advances `now`.
class PollLoop final : public ControlLoop {
 public:
  bool add_fd(int fd, std::uint32_t events, FdHandler handler) override {
    fds_[fd] = {events, std::move(handler)};
    return true;
  }
  void modify_fd(int fd, std::uint32_t events) override { fds_.at(fd).events = events; }
  void remove_fd(int fd) override { fds_.erase(fd); }
  TimerId call_at(Instant at, std::function<void()> handler) override {
    timers_[next_] = {at, std::move(handler)};
    return next_++;
  }
  void cancel_timer(TimerId id) override { timers_.erase(id); }
  Instant now() const override { return now_; }

  void advance(Duration d) {
    now_ += d;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->second.first > now_) {
        ++it;
        continue;
      }
      auto handler = std::move(it->second.second);
      it = timers_.erase(it);
      handler();
    }
  }
  // One round: waits up to 10 ms of real time, runs the ready handlers.
  void poll_once() {
    std::vector<pollfd> polled;
    for (auto& [fd, w] : fds_) {
      short ev = 0;
      if (w.events & EPOLLIN) ev |= POLLIN;
      if (w.events & EPOLLOUT) ev |= POLLOUT;
      polled.push_back({fd, ev, 0});
    }
    if (::poll(polled.data(), polled.size(), 10) <= 0) return;
    for (auto& p : polled) {
      if (!p.revents) continue;
      auto it = fds_.find(p.fd);
      if (it == fds_.end()) continue;
      std::uint32_t ev = 0;
      if (p.revents & POLLIN) ev |= EPOLLIN;
      if (p.revents & POLLOUT) ev |= EPOLLOUT;
      if (p.revents & POLLHUP) ev |= EPOLLHUP;
      if (p.revents & POLLERR) ev |= EPOLLERR;
      auto handler = it->second.handler;
      ++handled_;
      handler(ev);
    }
  }
  std::size_t fds() const { return fds_.size(); }
  std::size_t handled() const { return handled_; }  // handlers run by poll_once()

 private:
  struct Watch {
    std::uint32_t events;
    FdHandler handler;
  };
  std::map<int, Watch> fds_;
  std::map<TimerId, std::pair<Instant, std::function<void()>>> timers_;
  TimerId next_ = 1;
  Instant now_{};
  std::size_t handled_ = 0;
};

class ControlProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("synack-status-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    SimOptions options;
    options.record_ladder = false;
    pair_ = std::make_unique<SimPair>(options);
    wire::Endpoint server{pair_->address(SimPair::kServer), 7};
    ASSERT_TRUE(pair_->server().listen(server, pair_->now()));
    ASSERT_TRUE(pair_->client().connect(server, pair_->now()));
    pair_->flush();
    pair_->run_for(100ms);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start(ControlServer::Options options = {}) {
    options.directory = dir_.string();
    auto s = ControlServer::start(loop_, pair_->server(), {4242, "serve"}, options);
    ASSERT_TRUE(s) << s.error();
    server_ = std::move(*s);
  }
  // Runs the query in a thread while this one drives the loop (at most 5 s).
  Expected<std::string, std::string> query(std::string request) {
    std::atomic<bool> done{false};
    Expected<std::string, std::string> result{Unexpected{std::string("not run")}};
    std::thread client([&] {
      result = query_control_socket(server_->path(), request, 5s);
      done = true;
    });
    auto until = std::chrono::steady_clock::now() + 5s;
    while (!done && std::chrono::steady_clock::now() < until) loop_.poll_once();
    client.join();
    return result;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SimPair> pair_;
  PollLoop loop_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlProtocol, SocketIsNamedByPidAndRemovedOnExit) {
  start();
  EXPECT_EQ(server_->path(), (dir_ / "4242.sock").string());
  struct stat st {};
  ASSERT_EQ(::stat(server_->path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string path = server_->path();
  server_.reset();
  EXPECT_NE(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(loop_.fds(), 0u);
}

TEST_F(ControlProtocol, SsListsTheEstablishedConnection) {
  start();
  auto answer = query("ss");
  ASSERT_TRUE(answer) << answer.error();
  auto lines = parse_status_lines(*answer);
  ASSERT_EQ(lines.size(), 2u) << *answer;
  EXPECT_EQ(lines[0].u64("pid"), 4242u);
  EXPECT_EQ(lines[1].str("state"), "ESTABLISHED");
  EXPECT_EQ(lines[1].str("local"), pair_->address(SimPair::kServer).to_string() + ":7");
  EXPECT_EQ(server_->requests_served(), 1u);
  EXPECT_EQ(server_->clients(), 0u);  // answered and closed
}

TEST_F(ControlProtocol, StatsCountsThePassiveOpen) {
  start();
  auto answer = query("stats");
  ASSERT_TRUE(answer) << answer.error();
  std::uint64_t passive = 0;
  for (const auto& l : parse_status_lines(*answer))
    if (l.str("name") == "tcp_passive_opens") passive = l.u64("value");
  EXPECT_EQ(passive, 1u);
}

TEST_F(ControlProtocol, SourcesAnswerForSeveralStacks) {
  // `synack run --queues`: both stacks of the pair stand for two queues' stacks.
  start();
  server_->set_sources({[this] {
                          auto all = pair_->server().connections();
                          auto more = pair_->client().connections();
                          all.insert(all.end(), more.begin(), more.end());
                          return all;
                        },
                        [this] {
                          Counters sum = pair_->server().counters();
                          sum += pair_->client().counters();
                          return sum;
                        }});
  auto ss = query("ss");
  ASSERT_TRUE(ss) << ss.error();
  auto lines = parse_status_lines(*ss);
  ASSERT_EQ(lines.size(), 3u) << "both ends listed: " << *ss;
  auto stats = query("stats");
  ASSERT_TRUE(stats) << stats.error();
  std::uint64_t passive = 0, active = 0;
  for (const auto& l : parse_status_lines(*stats)) {
    if (l.str("name") == "tcp_passive_opens") passive = l.u64("value");
    if (l.str("name") == "tcp_active_opens") active = l.u64("value");
  }
  EXPECT_EQ(passive, 1u) << "the server's";
  EXPECT_EQ(active, 1u) << "and the client's, in one sum";
}

TEST(CountersSum, EveryCounterAdds) {
  Counters one;
#define SYNACK_TEST_SET_ONE(name, desc) one.name = 1;
  SYNACK_COUNTERS(SYNACK_TEST_SET_ONE)
#undef SYNACK_TEST_SET_ONE
  Counters sum;
  sum.tcp_segments_in = 5;
  sum += one;
  sum += one;
  std::size_t counters = 0;
  sum.for_each([&](std::string_view name, std::uint64_t value, std::string_view) {
    ++counters;
    EXPECT_EQ(value, name == "tcp_segments_in" ? 7u : 2u) << name;
  });
  EXPECT_GT(counters, 100u);
}

TEST_F(ControlProtocol, UnknownRequestGetsAnError) {
  start();
  auto answer = query("bogus");
  ASSERT_TRUE(answer) << answer.error();
  auto lines = parse_status_lines(*answer);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].type(), "error");
}

int raw_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST_F(ControlProtocol, SilentClientIsDroppedAfterTheTimeout) {
  ControlServer::Options o;
  o.client_timeout = 2s;
  start(o);
  int fd = raw_connect(server_->path());
  for (int i = 0; i < 20 && server_->clients() == 0; ++i) loop_.poll_once();
  ASSERT_EQ(server_->clients(), 1u);
  loop_.advance(1s);
  EXPECT_EQ(server_->clients(), 1u);
  loop_.advance(1s);
  EXPECT_EQ(server_->clients(), 0u);
  EXPECT_EQ(server_->clients_dropped(), 1u);
  char c;
  EXPECT_EQ(::read(fd, &c, 1), 0);  // closed by the server
  ::close(fd);
}

TEST_F(ControlProtocol, OverlongRequestIsDropped) {
  start();
  int fd = raw_connect(server_->path());
  std::string junk(ControlServer::kMaxRequest * 2, 'x');
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  for (int i = 0; i < 50 && server_->clients_dropped() == 0; ++i) loop_.poll_once();
  EXPECT_EQ(server_->clients_dropped(), 1u);
  EXPECT_EQ(server_->requests_served(), 0u);
  ::close(fd);
}

TEST_F(ControlProtocol, ClientsBeyondTheLimitAreRefused) {
  ControlServer::Options o;
  o.max_clients = 2;
  start(o);
  int a = raw_connect(server_->path()), b = raw_connect(server_->path()),
      c = raw_connect(server_->path());
  for (int i = 0; i < 20 && server_->clients_dropped() == 0; ++i) loop_.poll_once();
  EXPECT_EQ(server_->clients(), 2u);
  EXPECT_EQ(server_->clients_dropped(), 1u);
  ::close(a);
  ::close(b);
  ::close(c);
}

TEST_F(ControlProtocol, ListenerRestsWhileOutOfDescriptorsInsteadOfSpinning) {
  // accept4() fails with EMFILE and the client stays queued: the listener, level-triggered
  // and still readable, would wake the loop at once for ever (relay, API and control sockets
  // did until os::AcceptRest). It rests for 100 ms instead, then the client is served.
  start();
  int client = raw_connect(server_->path());  // queued in the listener's backlog
  synack::testing::OutOfDescriptors out;
  ASSERT_TRUE(out.exhausted());
  loop_.poll_once();  // the listener is readable; accept4() fails
  EXPECT_EQ(server_->accept_rests(), 1u);
  const std::size_t handled = loop_.handled();
  for (int i = 0; i < 5; ++i) loop_.poll_once();
  EXPECT_EQ(loop_.handled(), handled) << "the listener woke the loop while resting";
  out.release();
  loop_.advance(100ms);  // the rest is over: watched again
  for (int i = 0; i < 20 && server_->clients() == 0; ++i) loop_.poll_once();
  EXPECT_EQ(server_->clients(), 1u);
  EXPECT_EQ(server_->accept_rests(), 1u);
  ::close(client);
}

TEST_F(ControlProtocol, ClientThatNeverReadsDoesNotStallTheLoop) {
  // A listing far larger than a socket buffer, to a client that never reads: the server
  // keeps what does not fit, and the timeout ends it.
  ControlServer::Options o;
  o.client_timeout = 2s;
  o.send_buffer = 1024;
  start(o);
  int fd = raw_connect(server_->path());
  ASSERT_EQ(::write(fd, "stats\n", 6), 6);
  for (int i = 0; i < 20 && server_->requests_served() == 0; ++i) loop_.poll_once();
  EXPECT_EQ(server_->requests_served(), 1u);
  for (int i = 0; i < 5; ++i) loop_.poll_once();  // the socket stays full: nothing to do
  EXPECT_EQ(server_->clients(), 1u);              // still holding the rest of the answer
  loop_.advance(3s);
  EXPECT_EQ(server_->clients(), 0u);
  ::close(fd);
}

TEST(ControlSockets, StaleSocketsOfGoneProcessesAreSkipped) {
  auto base =
      std::filesystem::temp_directory_path() / ("synack-xdg-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(base / "synack");
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", base.c_str(), 1);
  // A pid no process has: high and checked.
  long dead = 4000000;
  while (dead > 1000 && !(::kill(static_cast<pid_t>(dead), 0) < 0 && errno == ESRCH)) --dead;
  auto bind_at = [](const std::filesystem::path& p) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", p.c_str());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  };
  int live = bind_at(base / "synack" / (std::to_string(::getpid()) + ".sock"));
  int stale = bind_at(base / "synack" / (std::to_string(dead) + ".sock"));
  auto found = find_control_sockets();
  bool saw_live = false, saw_dead = false;
  for (const auto& e : found) {
    saw_live |= e.pid == ::getpid();
    saw_dead |= e.pid == dead;
  }
  EXPECT_TRUE(saw_live);
  EXPECT_FALSE(saw_dead);
  ASSERT_EQ(find_control_sockets(::getpid()).size(), 1u);
  ::close(live);
  ::close(stale);
  if (old)
    ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
  else
    ::unsetenv("XDG_RUNTIME_DIR");
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace synack::control
