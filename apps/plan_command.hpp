// `corolla plan`: the spans to give heterogeneous nodes so that the swarm's bottleneck
// is as fast as their memory allows (actors/span_planner.hpp), against the
// memory-proportional split exo and llama.cpp use, and the move from what nodes serve
// now that keeps the most loaded blocks. Prints a table and actor-node `span` lines.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_plan(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
