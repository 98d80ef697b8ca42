// `corolla sim`: the balancing simulator (bench/balance_sim.hpp) — a seeded swarm over
// simulated hours under no balancing, new servers only and full balancing, against the
// upper bound; a table, and every sample as CSV with --csv. `corolla sim gossip`: the
// membership gossip simulator (bench/gossip_sim.hpp) at 1,000 and 10,000 nodes.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_sim(const std::vector<std::string>& args, std::ostream& out);
int run_gossip_sim_command(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
