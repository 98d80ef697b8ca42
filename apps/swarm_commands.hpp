// `corolla swarm key`: a new private swarm's key (actors/wire_guard.hpp), written to a
// file only its owner can read, for every node's `swarm-key` and actor-chat's
// --swarm-key.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_swarm_key(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
