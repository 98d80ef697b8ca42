// balance_sim: a seeded, deterministic swarm over simulated hours — servers of unequal
// throughput and memory joining and leaving, as in the Petals paper's experiment —
// driving the real balancing rules (actors/balancing.hpp) under three policies at once:
// no balancing (a joining server takes a random window), new servers only (rule 1 on
// join), full balancing (rule 1, and rule 2 at each server's jittered checks). What
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
  int servers = 24;            // present at the start (joining over the first hour)
  double hours = 6;            // simulated
  double mean_lifetime_h = 3;  // a server's time in the swarm (exponential)
  double check_period_s = 60;  // mean balance check period (jittered)
  double balance_quality = 0.75;
  int max_moves_per_hour = 2;  // per server (move_limiter); <= 0: no limit
  double sample_period_s = 60;
};

struct balance_sample {
  double hours = 0;
  int servers = 0;
  double none = 0, new_only = 0, full = 0;  // swarm throughput per policy
  double upper_bound = 0;
};

struct balance_sim_result {
  std::vector<balance_sample> samples;
  double none_ratio = 0, new_only_ratio = 0, full_ratio = 0;  // of the upper bound, averaged
  int64_t moves = 0;                                          // rule 2 moves (full balancing)
  double max_moves_per_server_hour = 0;  // in any hour after the first, by any server
};

balance_sim_result run_balance_sim(const balance_sim_options& options);

// The table (a row per simulated half hour) and the averages.
void print_balance_sim(const balance_sim_options& options, const balance_sim_result& r,
                       std::ostream& out);
// Every sample, as CSV.
void write_balance_csv(const balance_sim_result& r, std::ostream& out);

}  // namespace corolla
