// balance_sim: a seeded, deterministic swarm over simulated hours — servers of unequal
// throughput and memory joining and leaving, as in the Petals paper's experiment —
// driving the real balancing rules under four policies at once: no balancing (a joining
// server takes a random window), new servers only (rule 1 on join), full balancing in
// petals mode (rule 1, and rule 2 at each server's jittered checks: actors/balancing.hpp)
// and in plan mode (rule 1, and at each check the swarm's one plan:
// actors/balance_plan.hpp). Beside them, two yardsticks: the even-spread upper bound and
// the exact best placement of the live servers (bench/exact_placement.hpp). What
// `corolla sim` prints.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace corolla {

struct balance_sim_options {
  uint64_t seed = 1;
  int64_t n_blocks = 32;
  int servers = 24;                // present at the start (joining over the first hour)
  double hours = 6;                // simulated
  double mean_lifetime_h = 3;      // a server's time in the swarm (exponential)
  double check_period_s = 60;      // mean balance check period (jittered)
  double balance_quality = 0.75;   // petals mode's
  double plan_quality = 0.95;      // plan mode's balance_quality
  int plan_checks_per_period = 1;  // plan mode checks this many times as often
  int max_moves_per_hour = 2;      // per server (move_limiter); <= 0: no limit
  double sample_period_s = 60;
  double exact_time_limit_s = 0.5;  // per distinct set of live servers; 0: no exact yardstick
};

// A swarm to replay instead of the built-in random one (`corolla sim --scenario FILE`).
struct scenario_server {
  std::string name;
  double throughput = 1;  // steps per second through its whole span
  int64_t blocks = 1;     // its span's length (what its memory holds)
  double join_s = 0;
  double leave_s = -1;  // < 0: never, or after a random lifetime when churn is on
};

struct balance_scenario {
  std::vector<scenario_server> servers;
  // Servers without a leave time leave after a random lifetime (mean_lifetime_h) and are
  // replaced by a server of the same throughput and memory within minutes.
  bool churn = false;
};

struct balance_sample {
  double hours = 0;
  int servers = 0;
  double none = 0, new_only = 0, petals = 0, plan = 0;  // swarm throughput per policy
  double optimum = 0;  // the exact best placement's (0 when not computed)
  bool optimum_proven = false;
  double upper_bound = 0;
};

// A full-balancing policy's record over the run.
struct policy_result {
  double of_bound = 0;    // share of the upper bound, averaged after the first hour
  double of_optimum = 0;  // share of the exact optimum, likewise (samples that have one)
  int64_t moves = 0;
  double max_moves_per_server_hour = 0;  // in any hour after the first, by any server
  // Blocks left without a server by a leave: how long until every block was served again,
  // in mean check periods (the worst and the mean over such leaves).
  int64_t holes = 0;
  double worst_hole_checks = 0, mean_hole_checks = 0;
};

struct balance_sim_result {
  std::vector<balance_sample> samples;
  double none_ratio = 0, new_only_ratio = 0;  // of the upper bound, averaged
  policy_result petals, plan;
  double optimum_of_bound = 0;  // the exact optimum's share of the upper bound
  int optimum_unproven = 0;     // samples whose optimum the solver did not prove in time
};

// The built-in swarm (options.servers random servers joining over the first hour, each
// leaver replaced), or `scenario`'s when given.
balance_sim_result run_balance_sim(const balance_sim_options& options,
                                   const balance_scenario* scenario = nullptr);

// The table (a row per simulated half hour) and the averages.
void print_balance_sim(const balance_sim_options& options, const balance_sim_result& r,
                       std::ostream& out, const balance_scenario* scenario = nullptr);
// Every sample, as CSV.
void write_balance_csv(const balance_sim_result& r, std::ostream& out);

}  // namespace corolla
