// routing_table: the actor that knows which server serves which blocks — one replica
// of the swarm's records per process, kept in sync with its peers by push-pull gossip.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/head_transfer.hpp"
#include "messages/interfaces.hpp"
#include "model/status.hpp"

namespace corolla {

struct routing_table_config {
  std::string model_id;  // the swarm's: records and peers of another model are refused
  // Connects to peers' announced host:port (the plain or the TLS middleman's actor);
  // null for a swarm inside one process.
  caf::io::middleman_actor network;
  std::chrono::milliseconds gossip_period{500};
  std::chrono::milliseconds record_ttl{0};       // 0: records never expire
  std::chrono::milliseconds peer_timeout{2000};  // connect, gossip and ping requests
  uint64_t seed = 0;                             // the choice of gossip partner
  head_offer head;  // the head file handed to clients without a model (none: refused)
};

routing_table_actor spawn_routing_table(caf::actor_system& system, routing_table_config cfg = {});

// "host:port" split at its last colon; false unless the port is a number in 1..65535.
bool split_address(const std::string& address, std::string& host, uint16_t& port);

struct joined_swarm {
  std::string through;  // the peer that answered
  uint64_t servers_known = 0;
};

// Has `table` join the swarm through the first of `peers` ("host:port") that answers.
// Blocking (a program's start-up, not an actor). Errors: io_error listing every peer's
// failure (unreachable, not a Corolla node, another model or protocol version).
result<joined_swarm> join_swarm(caf::actor_system& system, const routing_table_actor& table,
                                const std::vector<std::string>& peers,
                                std::chrono::milliseconds timeout);

}  // namespace corolla
