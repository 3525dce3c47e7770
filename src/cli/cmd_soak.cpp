// `synack soak --seeds N`: the chaos suite for as many seeds as asked, with a progress bar;
// prints the seed (and what it chose) of every failure so it can be replayed with --seed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "sim/chaos.hpp"
#include "cli/commands.hpp"
#include "observe/json_trace.hpp"

namespace synack::cli {
using namespace synack::observe;
using namespace synack::sim;

void register_soak(CLI::App& app) {
  struct Args {
    std::uint64_t seeds = 1000;
    std::uint64_t first = 1;
    std::uint64_t seed = 0;
    std::string trace;
    std::string pcap;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "soak", "run random hostile networks (loss, reordering, duplication, corruption, tiny "
              "windows) until N seeds pass; print failing seeds");
  cmd->add_option("--seeds", a->seeds, "how many seeds to run (default 1000)");
  cmd->add_option("--first", a->first, "first seed (default 1)");
  cmd->add_option("--seed", a->seed, "replay one seed and describe it");
  cmd->add_option("--trace", a->trace, "with --seed: JSON lines of every segment and transition");
  cmd->add_option("--pcap", a->pcap, "with --seed: capture the replay");
  cmd->callback([a] {
    if (a->seed != 0) {
      BulkOptions o = chaos_options(a->seed);
      std::unique_ptr<JsonTraceWriter> trace;
      if (!a->trace.empty()) {
        trace = std::make_unique<JsonTraceWriter>(a->trace, true);
        o.trace = trace.get();
      }
      o.pcap = a->pcap;
      BulkResult r = run_bulk(o);
      std::printf("%s\n%s\n", describe_chaos(o).c_str(), bulk_json(o, r).c_str());
      exit_status() = r.intact && !r.hung ? 0 : 1;
      return;
    }
    bool tty = isatty(STDERR_FILENO);
    std::uint64_t failures = 0;
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < a->seeds; ++i) {
      std::uint64_t seed = a->first + i;
      BulkOptions o = chaos_options(seed);
      BulkResult r = run_bulk(o);
      bool ok = r.intact && !r.hung && r.final_state[0] == State::Closed &&
                r.final_state[1] == State::Closed;
      if (!ok) {
        ++failures;
        std::fprintf(stderr, "%sFAIL %s -> %s (replay: synack soak --seed %llu)\n",
                     tty ? "\r\x1b[K" : "", describe_chaos(o).c_str(), r.failure.c_str(),
                     static_cast<unsigned long long>(seed));
      }
      if (tty || (i + 1) % 100 == 0 || i + 1 == a->seeds) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        int width = 40;
        int filled = static_cast<int>(width * (i + 1) / a->seeds);
        std::fprintf(stderr, "%s[%s%s] %llu/%llu seeds, %llu failed, %.1f s%s",
                     tty ? "\r" : "", std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(),
                     static_cast<unsigned long long>(i + 1),
                     static_cast<unsigned long long>(a->seeds),
                     static_cast<unsigned long long>(failures), elapsed, tty ? "" : "\n");
      }
    }
    if (tty) std::fprintf(stderr, "\n");
    std::printf("%llu seeds, %llu failed\n", static_cast<unsigned long long>(a->seeds),
                static_cast<unsigned long long>(failures));
    exit_status() = failures == 0 ? 0 : 1;
  });
}

}  // namespace synack::cli
