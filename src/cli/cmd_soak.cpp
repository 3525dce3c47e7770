// SPDX-License-Identifier: MIT
// `synack soak --seeds N`: the chaos suite for as many seeds as asked, with a progress bar;
// prints the seed (and what it chose) of every failure so it can be replayed with --seed.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/commands.hpp"
#include "observe/json_trace.hpp"
#include "sim/chaos.hpp"

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
    double budget = kChaosBudgetFactor;
    double wall_limit = 60;
    std::size_t slowest = 5;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "soak",
      "run random hostile networks (loss, reordering, duplication, corruption, tiny "
      "windows) until N seeds pass; print failing seeds");
  cmd->add_option("--seeds", a->seeds, "how many seeds to run (default 1000)");
  cmd->add_option("--first", a->first, "first seed (default 1)");
  cmd->add_option("--seed", a->seed, "replay one seed and describe it");
  cmd->add_option("--trace", a->trace, "with --seed: JSON lines of every segment and transition");
  cmd->add_option("--pcap", a->pcap, "with --seed: capture the replay");
  cmd->add_option("--budget", a->budget,
                  "time budget per seed, as a multiple of the path model's transfer time "
                  "(default 10; 0 = none)");
  cmd->add_option("--wall-limit", a->wall_limit,
                  "real-time watchdog per seed in seconds (default 60; 0 = none)");
  cmd->add_option("--slowest", a->slowest, "report this many slowest seeds (default 5)");
  cmd->callback([a] {
    auto options_for = [a](std::uint64_t seed) {
      BulkOptions o = chaos_options(seed);
      o.budget_factor = a->budget;
      o.wall_limit = std::chrono::milliseconds(static_cast<std::int64_t>(a->wall_limit * 1000));
      return o;
    };
    auto passed = [](const BulkResult& r) {
      return r.intact && !r.hung && !r.too_slow && r.final_state[0] == State::Closed &&
             r.final_state[1] == State::Closed;
    };
    if (a->seed != 0) {
      BulkOptions o = options_for(a->seed);
      std::unique_ptr<JsonTraceWriter> trace;
      if (!a->trace.empty()) {
        trace = std::make_unique<JsonTraceWriter>(a->trace, true);
        o.trace = trace.get();
      }
      o.pcap = a->pcap;
      BulkResult r = run_bulk(o);
      std::printf("%s\n%s\n", describe_chaos(o).c_str(), bulk_json(o, r).c_str());
      exit_status() = passed(r) ? 0 : 1;
      return;
    }
    // The slowest seeds, by real time and by virtual time against their budgets.
    struct Timing {
      std::uint64_t seed;
      double wall;
      double budget_share;  // transfer time / budget
    };
    std::vector<Timing> timings;
    std::uint64_t livelocks = 0, watchdogs = 0, too_slow = 0, hung = 0, broken = 0;
    bool tty = isatty(STDERR_FILENO);
    std::uint64_t failures = 0;
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < a->seeds; ++i) {
      std::uint64_t seed = a->first + i;
      BulkOptions o = options_for(seed);
      BulkResult r = run_bulk(o);
      bool ok = passed(r);
      timings.push_back({seed, r.wall_seconds,
                         r.budget.count() > 0 ? static_cast<double>(r.transfer_time.count()) /
                                                    static_cast<double>(r.budget.count())
                                              : 0});
      if (!ok) {
        ++failures;
        if (r.livelock)
          ++livelocks;
        else if (r.watchdog)
          ++watchdogs;
        else if (r.too_slow)
          ++too_slow;
        else if (r.hung)
          ++hung;
        else
          ++broken;
        std::fprintf(stderr, "%sFAIL %s -> %s (replay: synack soak --seed %llu)\n",
                     tty ? "\r\x1b[K" : "", describe_chaos(o).c_str(), r.failure.c_str(),
                     static_cast<unsigned long long>(seed));
      }
      if (tty || (i + 1) % 100 == 0 || i + 1 == a->seeds) {
        double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        int width = 40;
        int filled = static_cast<int>(width * (i + 1) / a->seeds);
        std::fprintf(stderr, "%s[%s%s] %llu/%llu seeds, %llu failed, %.1f s%s", tty ? "\r" : "",
                     std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                     static_cast<unsigned long long>(i) + 1,
                     static_cast<unsigned long long>(a->seeds),
                     static_cast<unsigned long long>(failures), elapsed, tty ? "" : "\n");
      }
    }
    if (tty) std::fprintf(stderr, "\n");
    std::printf(
        "%llu seeds, %llu failed (livelock %llu, watchdog %llu, too slow %llu, hung %llu, "
        "other %llu)\n",
        static_cast<unsigned long long>(a->seeds), static_cast<unsigned long long>(failures),
        static_cast<unsigned long long>(livelocks), static_cast<unsigned long long>(watchdogs),
        static_cast<unsigned long long>(too_slow), static_cast<unsigned long long>(hung),
        static_cast<unsigned long long>(broken));
    const std::size_t n = std::min(a->slowest, timings.size());
    std::partial_sort(timings.begin(), timings.begin() + static_cast<std::ptrdiff_t>(n),
                      timings.end(),
                      [](const Timing& x, const Timing& y) { return x.wall > y.wall; });
    for (std::size_t i = 0; i < n; ++i)
      std::printf("slowest in real time: seed %llu, %.2f s\n",
                  static_cast<unsigned long long>(timings[i].seed), timings[i].wall);
    std::partial_sort(
        timings.begin(), timings.begin() + static_cast<std::ptrdiff_t>(n), timings.end(),
        [](const Timing& x, const Timing& y) { return x.budget_share > y.budget_share; });
    for (std::size_t i = 0; i < n; ++i)
      std::printf("closest to its budget: seed %llu, %.0f %% of it\n",
                  static_cast<unsigned long long>(timings[i].seed), 100 * timings[i].budget_share);
    exit_status() = failures == 0 ? 0 : 1;
  });
}

}  // namespace synack::cli
