// SPDX-License-Identifier: MIT
// `synack demo` and `synack sim SCENARIO`: scripted conversations between two synack stacks
// on the simulated network, drawn as a ladder in the terminal.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "observe/json_trace.hpp"
#include "observe/ladder_svg.hpp"
#include "sim/bulk.hpp"
#include "sim/scenarios.hpp"

namespace synack::cli {
using namespace synack::observe;
using namespace synack::sim;

int& exit_status() {
  static int status = 0;
  return status;
}

namespace {

struct SimArgs {
  std::string scenario;
  std::uint64_t seed = 1;
  double loss = 0;
  double delay_ms = 1;
  std::string pcap;
  std::string trace;
  std::string svg;   // write the ladder as SVG here
  std::string html;  // ... and as an HTML page here
  bool trace_segments = false;
  bool ascii = false;
  bool no_color = false;
  bool list = false;
  int width = 0;
};

int run_named(const SimArgs& args) {
  const Scenario* scenario = find_scenario(args.scenario);
  if (!scenario) {
    std::cerr << "synack sim: no scenario named '" << args.scenario
              << "' (synack sim --list shows them)\n";
    return 2;
  }
  SimOptions options;
  options.seed = args.seed;
  options.link.loss = args.loss;
  options.link.delay = std::chrono::microseconds(static_cast<std::int64_t>(args.delay_ms * 1000));
  if (!args.pcap.empty()) options.pcap = args.pcap;
  std::unique_ptr<JsonTraceWriter> trace;
  if (!args.trace.empty()) {
    trace = std::make_unique<JsonTraceWriter>(args.trace, args.trace_segments);
    if (!trace->ok()) {
      std::cerr << "synack sim: cannot write " << args.trace << "\n";
      return 2;
    }
    options.extra_trace = trace.get();
  }
  ScenarioResult result;
  try {
    result = run_scenario(*scenario, options);
  } catch (const std::exception& e) {
    std::cerr << "synack sim: " << e.what() << "\n";
    return 2;
  }
  TextRenderOptions render;
  render.unicode = !args.ascii;
  render.color = !args.no_color && isatty(STDOUT_FILENO);
  if (args.width > 0) render.width = args.width;
  std::cout << render_text(result.ladder, render) << "\n";
  std::cout << (result.ok ? "ok: " : "FAILED: ") << result.summary << "\n";
  if (!args.pcap.empty()) std::cout << "capture written to " << args.pcap << "\n";
  auto write = [](const std::string& path, const std::string& content) {
    std::ofstream file(path, std::ios::binary);
    file << content;
    file.close();
    if (!file)
      std::cerr << "synack sim: cannot write " << path << "\n";
    else
      std::cout << "picture written to " << path << "\n";
    return static_cast<bool>(file);
  };
  bool written = true;
  if (!args.svg.empty()) written &= write(args.svg, render_svg(result.ladder));
  if (!args.html.empty()) written &= write(args.html, render_html(result.ladder));
  if (!written) return 2;
  return result.ok ? 0 : 1;
}

void add_common(CLI::App* cmd, SimArgs& args) {
  cmd->add_option("--seed", args.seed, "seed for the network's faults and the stacks' ISNs");
  cmd->add_option("--loss", args.loss, "probability each packet is lost (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--delay", args.delay_ms, "one-way delay in milliseconds (default 1)");
  cmd->add_option("--pcap", args.pcap, "write every packet to this pcap file");
  cmd->add_option("--trace", args.trace, "write state transitions as JSON lines to FILE");
  cmd->add_flag("--trace-segments", args.trace_segments, "with --trace, also every segment");
  cmd->add_option("--svg", args.svg, "draw the ladder as an SVG picture into FILE");
  cmd->add_option("--html", args.html, "write the ladder as a self-contained HTML page to FILE");
  cmd->add_flag("--ascii", args.ascii, "draw with ASCII only");
  cmd->add_flag("--no-color", args.no_color, "no ANSI colours");
  cmd->add_option("--width", args.width, "width of the ladder in columns");
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  auto* cmd = app.add_subcommand(
      "demo", "watch a whole TCP connection between two synack stacks: handshake, data, close");
  add_common(cmd, *args);
  cmd->callback([args] {
    args->scenario = "exchange";
    std::cout << "synack demo: a client and a server stack on a simulated network (1 ms each "
                 "way).\nThe client opens a connection, sends a line, the server answers, both "
                 "close.\nTimes are virtual: the 60 s of TIME-WAIT pass in an instant.\n\n";
    exit_status() = run_named(*args);
  });
}

void register_bulk(CLI::App* sim) {
  struct Args {
    std::uint64_t bytes = 1 << 20;
    std::uint64_t reverse = 0;
    double loss = 0, reorder = 0, dup = 0, corrupt = 0, delay_ms = 1, rate_mbit = 0;
    std::uint64_t seed = 1;
    std::string cc = "cubic";
    std::string loss_detection = "rack";
    bool tlp = TcpConfig{}.tail_loss_probe;
    unsigned loss_probe_segments = 0;
    unsigned loss_probes = 0;
    bool recovery_probe_on = false;
    bool recovery_probe_off = false;
    bool dsack_on = false;
    bool dsack_off = false;
    bool frto = false;
    std::string profile = "rfc";
    std::string server_profile;  // empty: --profile's
    std::uint32_t gso = 0;
    bool gro = false;
    bool json = false;
    std::string pcap;
    std::string trace;
    bool trace_segments = false;
    std::uint32_t rcvbuf = 256 * 1024, sndbuf = 256 * 1024;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = sim->add_subcommand(
      "bulk", "transfer SIZE random bytes one way (then both ends close) and report");
  // Sizes as CLI11 reads them: "10M", "64k", "1GiB", "12345" (k, M, G are powers of 1024).
  cmd->add_option("--bytes", a->bytes, "bytes to send client -> server (e.g. 10M)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--reverse-bytes", a->reverse, "bytes to send server -> client at the same time")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--loss", a->loss, "loss probability per packet")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--reorder", a->reorder, "probability a packet is held back 10 ms")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--dup", a->dup, "duplication probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--corrupt", a->corrupt, "probability one bit is flipped")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--delay", a->delay_ms, "one-way delay, milliseconds (default 1)");
  cmd->add_option("--rate", a->rate_mbit, "link rate in Mbit/s (default unlimited)");
  cmd->add_option("--seed", a->seed, "seed for faults, ISNs and data");
  cmd->add_option("--cc", a->cc, "congestion control: cubic, newreno or bbr")
      ->check(CLI::IsMember({"cubic", "newreno", "bbr"}));
  cmd->add_option("--loss-detection", a->loss_detection,
                  "loss detection with SACK: rack (RFC 8985, default) or dupthresh (RFC 6675)")
      ->check(CLI::IsMember({"rack", "dupthresh"}));
  cmd->add_flag("--tail-loss-probe,!--no-tail-loss-probe", a->tlp,
                "RFC 8985 §7 tail loss probe on both ends (on by default as in TcpConfig)");
  auto* recovery_probe =
      cmd->add_flag("--recovery-probe", a->recovery_probe_on,
                    "the tail loss probe during SACK recovery too (default: the profile's)");
  cmd->add_flag("--no-recovery-probe", a->recovery_probe_off, "no tail loss probe during recovery")
      ->excludes(recovery_probe);
  cmd->add_option("--loss-probe-segments", a->loss_probe_segments,
                  "new segments a tail loss probe carries: 1 (RFC 8985, Linux) or 2 (default)")
      ->check(CLI::Range(1u, 2u));
  cmd->add_option("--loss-probes", a->loss_probes,
                  "tail loss probes an episode may send before its RTO, each after twice the "
                  "last one's timeout: 1 (RFC 8985, Linux) to 3 (default: the profile's)")
      ->check(CLI::Range(1u, 3u));
  auto* dsack = cmd->add_flag("--dsack", a->dsack_on,
                              "RFC 2883 D-SACK reports from both receivers (default: the "
                              "profile's, on in both)");
  cmd->add_flag("--no-dsack", a->dsack_off, "no D-SACK reports from either receiver")
      ->excludes(dsack);
  cmd->add_flag("--frto", a->frto, "RFC 5682 F-RTO after a timeout, on both ends");
  cmd->add_option("--profile", a->profile, "both ends' TCP choices: rfc (default) or linux")
      ->check(CLI::IsMember({"rfc", "linux"}));
  cmd->add_option("--server-profile", a->server_profile,
                  "the receiving end's (the server's) instead: a synack sender against a "
                  "Linux-like receiver is --profile rfc --server-profile linux")
      ->check(CLI::IsMember({"rfc", "linux"}));
  cmd->add_option("--gso", a->gso,
                  "segmentation offload: send bursts of up to BYTES, cut into MSS-sized packets "
                  "by each end's device (at most 65000; default 0, off)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(0u, 65000u));
  cmd->add_flag("--gro", a->gro,
                "receive coalescing: the segments of a flow that arrive together reach the "
                "stack as one packet, as Linux's GRO");
  cmd->add_option("--rcvbuf", a->rcvbuf, "receive buffer bytes per connection (e.g. 256k)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--sndbuf", a->sndbuf, "send buffer bytes per connection (e.g. 256k)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--pcap", a->pcap, "write every packet to this pcap file");
  cmd->add_option("--trace", a->trace,
                  "write both stacks' transitions and drops as JSON lines to FILE");
  cmd->add_flag("--trace-segments", a->trace_segments, "with --trace, also every segment");
  cmd->add_flag("--json", a->json, "print the result as one JSON object (last line)");
  cmd->callback([a] {
    BulkOptions o;
    o.bytes = a->bytes;
    o.reverse_bytes = a->reverse;
    o.seed = a->seed;
    o.link.loss = a->loss;
    o.link.reorder = a->reorder;
    o.link.duplicate = a->dup;
    o.link.corrupt = a->corrupt;
    o.link.delay = std::chrono::microseconds(static_cast<std::int64_t>(a->delay_ms * 1000));
    o.link.rate_bps = static_cast<std::uint64_t>(a->rate_mbit * 1e6);
    o.congestion = congestion_from_name(a->cc).value_or(CongestionAlgorithm::Cubic);
    o.loss_detection =
        a->loss_detection == "dupthresh" ? LossDetection::DupThresh : LossDetection::Rack;
    o.tail_loss_probe = a->tlp;
    o.loss_probe_segments = a->loss_probe_segments;
    o.loss_probes = a->loss_probes;
    if (a->recovery_probe_on) o.recovery_probe = true;
    if (a->recovery_probe_off) o.recovery_probe = false;
    if (a->dsack_on) o.dsack = true;
    if (a->dsack_off) o.dsack = false;
    o.frto = a->frto;
    o.profile[0] = o.profile[1] = a->profile;
    if (!a->server_profile.empty()) o.profile[1] = a->server_profile;
    o.gso_max_bytes = a->gso;
    o.coalesce = a->gro;
    o.receive_buffer = a->rcvbuf;
    o.send_buffer = a->sndbuf;
    o.pcap = a->pcap;
    std::unique_ptr<JsonTraceWriter> trace;
    if (!a->trace.empty()) {
      trace = std::make_unique<JsonTraceWriter>(a->trace, a->trace_segments);
      if (!trace->ok()) throw CLI::RuntimeError("synack sim bulk: cannot write " + a->trace, 2);
      o.trace = trace.get();
    }
    BulkResult r = run_bulk(o);
    if (!a->json) {
      double secs = std::chrono::duration<double>(r.transfer_time).count();
      std::printf(
          "bytes delivered      %llu of %llu%s\n", static_cast<unsigned long long>(r.delivered),
          static_cast<unsigned long long>(o.bytes),
          o.reverse_bytes ? (" (+" + std::to_string(r.reverse_delivered) + " reverse)").c_str()
                          : "");
      std::printf("intact               %s (FNV-1a %016llx)\n", r.intact ? "yes" : "NO",
                  static_cast<unsigned long long>(r.hash));
      std::printf(
          "retransmissions      %llu (fast retransmits %llu, RTO expirations %llu, undone "
          "as spurious %llu)\n",
          static_cast<unsigned long long>(r.retransmissions),
          static_cast<unsigned long long>(r.fast_retransmits),
          static_cast<unsigned long long>(r.rto_expirations),
          static_cast<unsigned long long>(r.undos));
      std::printf("recovered via SACK   %llu bytes\n",
                  static_cast<unsigned long long>(r.sack_recovered_bytes));
      std::printf("corrupt packets      %llu dropped by checksum\n",
                  static_cast<unsigned long long>(r.corrupted_dropped));
      if (o.gso_max_bytes > 0 || o.coalesce)
        std::printf("offloads             %llu bursts cut into packets, %llu segments coalesced\n",
                    static_cast<unsigned long long>(r.bursts_cut),
                    static_cast<unsigned long long>(r.segments_coalesced));
      std::printf("virtual duration     %.3f s (until both ends CLOSED: %.3f s)\n", secs,
                  std::chrono::duration<double>(r.total_time).count());
      std::printf("goodput              %.2f Mbit/s\n", r.goodput_bps / 1e6);
      std::printf("final states         client %s, server %s\n",
                  std::string(to_string(r.final_state[0])).c_str(),
                  std::string(to_string(r.final_state[1])).c_str());
      if (!r.failure.empty()) std::printf("failure              %s\n", r.failure.c_str());
    }
    if (a->json) std::printf("%s\n", bulk_json(o, r).c_str());
    exit_status() = r.intact && !r.hung ? 0 : 1;
  });
}

void register_sim(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  auto* cmd = app.add_subcommand("sim", "run a named TCP scenario on the simulated network");
  register_bulk(cmd);
  cmd->add_option("scenario", args->scenario, "scenario name (see --list)");
  cmd->add_flag("--list", args->list, "list the scenarios");
  add_common(cmd, *args);
  cmd->callback([args, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // sim bulk ran
    if (args->list || args->scenario.empty()) {
      for (const auto& s : all_scenarios())
        std::printf("  %-20s %s\n", s.name.c_str(), s.description.c_str());
      std::printf("  %-20s %s\n", "bulk", "a bulk transfer under faults (synack sim bulk --help)");
      exit_status() = args->list ? 0 : 2;
      return;
    }
    exit_status() = run_named(*args);
  });
}

}  // namespace synack::cli
