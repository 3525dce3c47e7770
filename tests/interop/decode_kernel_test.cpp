// SPDX-License-Identifier: MIT
// synack decode against the Linux kernel's own TCP: two network namespaces joined by a veth pair
// (addresses in 198.18.0.0/15, the benchmarking range, and nothing else), a server in one, curl in
// the other, tcpdump capturing — on the veth (Ethernet) and with `-i any` (Linux cooked v2) — and
// `ss -tan` sampled in both namespaces. decode's inferred states must match what ss reported:
// LISTEN before, TIME-WAIT on the side that closed first, nothing (CLOSED) on the other.
//
// Needs root and ip, tcpdump, curl, python3, ss, timeout; skips with a message otherwise. Every
// wait is bounded; namespaces and processes are cleaned up (processes by their PID) on any exit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "decode/decode.hpp"
#include "synack/pcap.hpp"

extern char** environ;

using namespace synack;
using namespace synack::capture;
using namespace synack::decode;
using namespace std::chrono_literals;

namespace {

// Runs `command` through sh under `timeout`, returning its exit status and stdout.
int sh(const std::string& command, int timeout_s, std::string* out = nullptr) {
  std::string full = "timeout -k 2 " + std::to_string(timeout_s) + " sh -c '" + command + "' 2>&1";
  std::FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have(const std::string& tool) { return sh("command -v " + tool + " >/dev/null", 5) == 0; }

std::string python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Polls `ready` every 20 ms until it holds or `limit` passes.
bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return ready();
}

// Two namespaces, a veth pair between them, and the processes started in them. The destructor
// stops every process it started (by PID; each in its own process group, which it signals) and
// deletes the namespaces, whatever state the test left them in.
class KernelLab {
 public:
  static constexpr int kServer = 0;
  static constexpr int kClient = 1;

  explicit KernelLab(int subnet) : subnet_(subnet) {
    std::string id = std::to_string(getpid());
    ns_[kServer] = "synack-decode-" + id + "-s";
    ns_[kClient] = "synack-decode-" + id + "-c";
    veth_[kServer] = "sdk" + id + "s";  // interface names: at most 15 characters
    veth_[kClient] = "sdk" + id + "c";
    dir_ = std::filesystem::temp_directory_path() /
           ("synack-decode-kernel-" + id + "-" + std::to_string(subnet));
    std::filesystem::create_directories(dir_);
  }

  ~KernelLab() {
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) stop(*it);
    for (int side : {kServer, kClient})
      if (created_[side]) sh("ip netns del " + ns_[side], 10);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  KernelLab(const KernelLab&) = delete;
  KernelLab& operator=(const KernelLab&) = delete;

  // 198.18.<subnet>.1 is the server, .2 the client.
  std::string address(int side) const {
    return "198.18." + std::to_string(subnet_) + (side == kServer ? ".1" : ".2");
  }
  const std::string& ns(int side) const { return ns_[side]; }
  const std::string& veth(int side) const { return veth_[side]; }
  const std::filesystem::path& dir() const { return dir_; }

  // Creates the namespaces and the link; false (with *error) when the system does not let us.
  bool build(std::string* error) {
    for (int side : {kServer, kClient}) {
      if (sh("ip netns add " + ns_[side], 10, error) != 0) return false;
      created_[side] = true;
    }
    const std::vector<std::string> steps = {
        "ip link add " + veth_[kServer] + " netns " + ns_[kServer] + " type veth peer name " +
            veth_[kClient] + " netns " + ns_[kClient],
        "ip -n " + ns_[kServer] + " addr add " + address(kServer) + "/24 dev " + veth_[kServer],
        "ip -n " + ns_[kClient] + " addr add " + address(kClient) + "/24 dev " + veth_[kClient],
        "ip -n " + ns_[kServer] + " link set " + veth_[kServer] + " up",
        "ip -n " + ns_[kClient] + " link set " + veth_[kClient] + " up",
        "ip -n " + ns_[kServer] + " link set lo up",
        "ip -n " + ns_[kClient] + " link set lo up",
    };
    for (const auto& step : steps)
      if (sh(step, 10, error) != 0) {
        *error = step + ": " + *error;
        return false;
      }
    return true;
  }

  // Starts `argv` inside namespace `side` (through `ip netns exec`, which execs in place, so the
  // PID is the program's), stdout and stderr to `log`.
  pid_t spawn(int side, std::vector<std::string> argv, const std::filesystem::path& log) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns_[side]});
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group, led by its PID
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, "ip", &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return -1;
    pids_.push_back(pid);
    return pid;
  }

  // SIGTERM to the process (and its group), wait up to 5 s, then SIGKILL. Returns its status.
  std::optional<int> stop(pid_t pid) {
    auto it = std::find(pids_.begin(), pids_.end(), pid);
    if (it == pids_.end()) return std::nullopt;
    pids_.erase(it);
    kill(-pid, SIGTERM);
    int status = 0;
    bool done = wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 5s);
    if (!done) {
      kill(-pid, SIGKILL);
      done = wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 5s);
    }
    if (!done) return std::nullopt;
    return status;
  }

  bool running(pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, WNOHANG) == 0;
  }

 private:
  int subnet_;
  std::string ns_[2];
  std::string veth_[2];
  bool created_[2] = {false, false};
  std::vector<pid_t> pids_;
  std::filesystem::path dir_;
};

std::string skip_reason() {
  if (geteuid() != 0) return "needs root (network namespaces, veth, tcpdump)";
  for (const char* tool : {"ip", "tcpdump", "curl", "python3", "ss", "timeout"})
    if (!have(tool))
      return std::string(tool) +
             " is missing (Debian: apt-get install iproute2 tcpdump curl python3 coreutils)";
  return "";
}

// The state `ss -tan` shows for the connection between `local` and `peer` in namespace `ns`;
// CLOSED when ss lists no such socket. LISTEN sockets are matched by local port only.
State ss_state(const std::string& ns, const std::string& local, const std::string& peer,
               std::string* raw = nullptr) {
  std::string out;
  sh("ip netns exec " + ns + " ss -Htan", 10, &out);
  if (raw) *raw = out;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string state, recvq, sendq, l, p;
    f >> state >> recvq >> sendq >> l >> p;
    bool match = l == local && (p == peer || (peer.empty() && state == "LISTEN"));
    if (!match) continue;
    if (state == "LISTEN") return State::Listen;
    if (state == "SYN-SENT") return State::SynSent;
    if (state == "SYN-RECV") return State::SynReceived;
    if (state == "ESTAB") return State::Established;
    if (state == "FIN-WAIT-1") return State::FinWait1;
    if (state == "FIN-WAIT-2") return State::FinWait2;
    if (state == "CLOSE-WAIT") return State::CloseWait;
    if (state == "CLOSING") return State::Closing;
    if (state == "LAST-ACK") return State::LastAck;
    if (state == "TIME-WAIT") return State::TimeWait;
  }
  return State::Closed;
}

// Where a connection rests once both ends are done: gone, or waiting out 2 MSL.
bool settled(State s) { return s == State::Closed || s == State::TimeWait; }

struct DecodedFile {
  int link_type = -1;
  std::string summary;  // what the reader saw, for failure messages
  std::vector<DecodedConnection> connections;
};

DecodedFile decode_file(const std::filesystem::path& path) {
  DecodedFile out;
  std::string error;
  auto reader = PcapReader::open(path, &error);
  EXPECT_NE(reader, nullptr) << path << ": " << error;
  if (!reader) return out;
  out.link_type = reader->link_type();
  ConnectionTracker tracker;
  while (auto p = reader->next()) {
    auto seg = wire_segment_from_ip(p->ip, p->unix_us, p->frame_number);
    if (seg) tracker.add(*seg);
  }
  out.connections = tracker.finish();
  const auto& st = reader->stats();
  out.summary = path.string() + ": " + std::to_string(st.frames) + " frames, " +
                std::to_string(st.ip_packets) + " IP, " + std::to_string(st.not_ip) + " not IP, " +
                std::to_string(st.malformed) + " malformed; " + reader->error();
  return out;
}

pid_t start_tcpdump(KernelLab& lab, int side, const std::string& interface,
                    const std::filesystem::path& file, const std::string& name) {
  auto log = lab.dir() / (name + ".log");
  pid_t pid = lab.spawn(side,
                        // --immediate-mode: hand each packet over at once, not when a ring-buffer
                        // block fills or times out (else SIGTERM can come before any is written).
                        {"tcpdump", "-i", interface, "--immediate-mode", "-U", "-n", "-s", "0",
                         "-w", file.string(), "tcp", "port", "8080"},
                        log);
  if (pid < 0) return pid;
  // tcpdump says "listening on ..." once its capture is open.
  bool up = wait_for(
      [&] { return read_file(log).find("listening on") != std::string::npos || !lab.running(pid); },
      15s);
  if (!up || !lab.running(pid)) {
    ADD_FAILURE() << "tcpdump did not start: " << read_file(log);
    return -1;
  }
  return pid;
}

// Waits (at most 3 s) until the capture file has stopped growing for 200 ms: tcpdump -U has
// written what it has seen.
void wait_quiet(const std::filesystem::path& file) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  auto stable_since = std::chrono::steady_clock::now();
  wait_for(
      [&] {
        auto now_size = std::filesystem::file_size(file, ec);
        auto now = std::chrono::steady_clock::now();
        if (now_size != size) {
          size = now_size;
          stable_since = now;
        }
        return now - stable_since >= 200ms;
      },
      3s);
}

bool wait_listening(KernelLab& lab) {
  std::string local = lab.address(KernelLab::kServer) + ":8080";
  return wait_for([&] { return ss_state(lab.ns(KernelLab::kServer), local, "") == State::Listen; },
                  15s);
}

// What one run observed from the kernels themselves.
struct KernelTruth {
  std::string client;                                     // "198.18.5.2:34106"
  State before_server = State::Closed;                    // LISTEN before the client connects
  State final_state[2] = {State::Closed, State::Closed};  // [client, server], once settled
  std::string ss_text;
};

// Polls ss in both namespaces until both sockets have settled (CLOSED or TIME-WAIT) or 10 s
// pass, and keeps what it saw last.
void sample_final_states(KernelLab& lab, const std::string& client, KernelTruth& truth) {
  std::string server = lab.address(KernelLab::kServer) + ":8080";
  std::string raw_s, raw_c;
  wait_for(
      [&] {
        truth.final_state[0] = ss_state(lab.ns(KernelLab::kClient), client, server, &raw_c);
        truth.final_state[1] = ss_state(lab.ns(KernelLab::kServer), server, client, &raw_s);
        return settled(truth.final_state[0]) && settled(truth.final_state[1]);
      },
      10s);
  truth.ss_text = "client namespace:\n" + raw_c + "server namespace:\n" + raw_s;
}

// Waits (at most 10 s) until the capture holds what the kernels reported: one connection whose
// ends reached the final states ss saw. A capture that stopped growing for a moment has not
// always read the last packets yet (a loaded machine delays tcpdump; what it has not read when
// stopped is lost), so a quiet file alone is not enough. The comparison after the wait still
// decides: if decode is wrong, the wait times out and expect_matches() says how.
void wait_captured(const std::filesystem::path& file, const KernelTruth& truth) {
  wait_for(
      [&] {
        std::error_code ec;
        if (std::filesystem::file_size(file, ec) <= 24 || ec) return false;  // no packet yet
        auto f = decode_file(file);
        return f.connections.size() == 1 &&
               f.connections[0].final_state[0] == truth.final_state[0] &&
               f.connections[0].final_state[1] == truth.final_state[1];
      },
      10s);
  wait_quiet(file);
}

// The client's address:port: from a socket towards server:8080 in the client namespace, or
// failing that (the client's socket is already gone) from the server's socket for it.
std::string find_client(KernelLab& lab) {
  std::string server = lab.address(KernelLab::kServer) + ":8080";
  for (int side : {KernelLab::kClient, KernelLab::kServer}) {
    std::string out;
    sh("ip netns exec " + lab.ns(side) + " ss -Htan", 10, &out);
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      std::string state, recvq, sendq, l, p;
      f >> state >> recvq >> sendq >> l >> p;
      if (side == KernelLab::kClient && p == server) return l;
      if (side == KernelLab::kServer && l == server && state != "LISTEN") return p;
    }
  }
  return "";
}

const DecodedConnection* only_connection(const DecodedFile& f, const std::string& what) {
  EXPECT_EQ(f.connections.size(), 1u) << what << ": " << f.summary;
  return f.connections.size() == 1 ? &f.connections[0] : nullptr;
}

// decode's view must be the kernels' view.
void expect_matches(const DecodedConnection& c, const KernelTruth& truth, const std::string& what) {
  std::string table = render_table(c, {.color = false, .unicode = false});
  EXPECT_EQ(c.ends[0].to_string(), truth.client) << what << "\n" << table;
  EXPECT_FALSE(c.mid_stream) << what;
  EXPECT_EQ(c.initial[1], truth.before_server) << what << "\n" << table;
  EXPECT_EQ(c.final_state[0], truth.final_state[0]) << what << ": client\n"
                                                    << table << truth.ss_text;
  EXPECT_EQ(c.final_state[1], truth.final_state[1]) << what << ": server\n"
                                                    << table << truth.ss_text;
  EXPECT_EQ(c.counts.violations, 0) << what << "\n" << table;
  // Both went through the handshake the RFC's way.
  ASSERT_GE(c.segments.size(), 3u);
  EXPECT_EQ(c.segments[0].state_after[0], State::SynSent) << table;
  EXPECT_EQ(c.segments[2].state_after[0], State::Established) << table;
  EXPECT_EQ(c.segments[2].state_after[1], State::Established) << table;
}

}  // namespace

// python3 -m http.server answers curl (HTTP/1.0 with Content-Length). Who closes first is up to
// the two processes (usually curl, as soon as it has the body); ss says which, and decode must
// agree. Captured twice: on the server's veth (Ethernet) and with -i any in the client's
// namespace (Linux cooked capture v2).
TEST(DecodeKernel, HttpServerAndCurlDecodeToTheStatesSsReports) {
  if (auto why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  KernelLab lab(5);
  std::string error;
  if (!lab.build(&error)) GTEST_SKIP() << "cannot create network namespaces here: " << error;

  auto root = lab.dir() / "www";
  std::filesystem::create_directories(root);
  std::string body(3000, 'k');
  std::ofstream(root / "hello.txt") << body;
  auto veth_pcap = lab.dir() / "veth.pcap";
  auto any_pcap = lab.dir() / "any.pcap";
  pid_t dump_veth = start_tcpdump(lab, KernelLab::kServer, lab.veth(KernelLab::kServer), veth_pcap,
                                  "tcpdump-veth");
  pid_t dump_any = start_tcpdump(lab, KernelLab::kClient, "any", any_pcap, "tcpdump-any");
  ASSERT_GT(dump_veth, 0);
  ASSERT_GT(dump_any, 0);
  pid_t server = lab.spawn(KernelLab::kServer,
                           {python(), "-m", "http.server", "8080", "--bind",
                            lab.address(KernelLab::kServer), "--directory", root.string()},
                           lab.dir() / "server.log");
  ASSERT_GT(server, 0);
  ASSERT_TRUE(wait_listening(lab)) << read_file(lab.dir() / "server.log");

  KernelTruth truth;
  truth.before_server = State::Listen;  // ss showed LISTEN before the client came
  std::string out;
  int rc = sh("ip netns exec " + lab.ns(KernelLab::kClient) + " curl -sS -m 10 -o " +
                  (lab.dir() / "got.txt").string() + " http://" + lab.address(KernelLab::kServer) +
                  ":8080/hello.txt",
              20, &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(read_file(lab.dir() / "got.txt"), body);
  truth.client = find_client(lab);
  ASSERT_FALSE(truth.client.empty()) << "no socket towards the server in the client namespace";
  sample_final_states(lab, truth.client, truth);
  // Exactly one end closed first and waits in TIME-WAIT (both, if the FINs crossed).
  EXPECT_TRUE(truth.final_state[0] == State::TimeWait || truth.final_state[1] == State::TimeWait)
      << truth.ss_text;

  wait_captured(veth_pcap, truth);
  wait_captured(any_pcap, truth);
  ASSERT_TRUE(lab.stop(dump_veth).has_value());
  ASSERT_TRUE(lab.stop(dump_any).has_value());
  lab.stop(server);

  auto veth = decode_file(veth_pcap);
  EXPECT_EQ(veth.link_type, link_type::kEthernet);
  if (auto* c = only_connection(veth, "veth capture")) {
    expect_matches(*c, truth, "veth capture");
    std::cout << render_table(*c, {.color = false, .unicode = true});
  }
  auto any = decode_file(any_pcap);
  EXPECT_EQ(any.link_type, link_type::kLinuxSll2);
  if (auto* c = only_connection(any, "-i any capture")) expect_matches(*c, truth, "-i any capture");
}

// A server that closes first on purpose: it answers without Content-Length and closes, so curl
// reads to the end of the stream and closes second. The server must end in TIME-WAIT, the client
// CLOSED after LAST-ACK — per ss, and per decode of a capture on the client's veth.
TEST(DecodeKernel, ServerThatClosesFirstEndsInTimeWait) {
  if (auto why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  KernelLab lab(6);
  std::string error;
  if (!lab.build(&error)) GTEST_SKIP() << "cannot create network namespaces here: " << error;

  auto script = lab.dir() / "server.py";
  std::ofstream(script) << R"(import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080))
s.listen(1)
c, _ = s.accept()
data = b""
while b"\r\n\r\n" not in data:
    chunk = c.recv(4096)
    if not chunk:
        break
    data += chunk
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"s" * 3000)
c.close()
s.close()
)";
  auto pcap = lab.dir() / "client-veth.pcap";
  pid_t dump =
      start_tcpdump(lab, KernelLab::kClient, lab.veth(KernelLab::kClient), pcap, "tcpdump");
  ASSERT_GT(dump, 0);
  pid_t server =
      lab.spawn(KernelLab::kServer, {python(), script.string(), lab.address(KernelLab::kServer)},
                lab.dir() / "server.log");
  ASSERT_GT(server, 0);
  ASSERT_TRUE(wait_listening(lab)) << read_file(lab.dir() / "server.log");

  KernelTruth truth;
  truth.before_server = State::Listen;
  std::string out;
  int rc = sh("ip netns exec " + lab.ns(KernelLab::kClient) + " curl -sS -m 10 -o " +
                  (lab.dir() / "got.txt").string() + " http://" + lab.address(KernelLab::kServer) +
                  ":8080/",
              20, &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(read_file(lab.dir() / "got.txt"), std::string(3000, 's'));
  truth.client = find_client(lab);
  ASSERT_FALSE(truth.client.empty()) << "no socket towards the server in the client namespace";
  sample_final_states(lab, truth.client, truth);
  EXPECT_EQ(truth.final_state[1], State::TimeWait) << truth.ss_text;
  EXPECT_EQ(truth.final_state[0], State::Closed) << truth.ss_text;
  wait_captured(pcap, truth);
  ASSERT_TRUE(lab.stop(dump).has_value());
  lab.stop(server);

  auto file = decode_file(pcap);
  EXPECT_EQ(file.link_type, link_type::kEthernet);
  if (auto* c = only_connection(file, "client veth capture")) {
    expect_matches(*c, truth, "client veth capture");
    std::vector<State> client_path;
    for (const auto& row : c->segments)
      for (const auto& ch : row.changes)
        if (ch.side == 0) client_path.push_back(ch.to);
    ASSERT_GE(client_path.size(), 3u);
    EXPECT_EQ(std::vector<State>(client_path.end() - 3, client_path.end()),
              (std::vector<State>{State::CloseWait, State::LastAck, State::Closed}));
  }
}
