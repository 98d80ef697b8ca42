// balancer: a node's share of balancing the swarm — Petals' rule 2, run by the node
// itself. Every check period (jittered, so that nodes do not check in step) it reads
// the swarm's records from the node's routing table and asks should_move
// (actors/balancing.hpp) — or in plan mode the swarm's plan (actors/balance_plan.hpp) —
// whether moving its server would raise the swarm's throughput enough; if so, it moves
// the server:
//
//   move_atom: the server drains, announcing where it is going (balancers elsewhere
//   count it there) -> running sessions may finish within the grace period -> the
//   server leaves and ends; its remaining sessions' clients fail over and replay
//   elsewhere -> the new span is loaded -> a new server announces it online.
//
// The balancer owns the node's server (linked: a crashed server takes the balancer
// with it, and the balancer's end ends the server). Rule 1 is the node's choice at
// start (swarm_node). Healing needs nothing more: a dead node's records leave the
// table, its blocks' throughput drops to zero, and the next check of a node whose
// blocks others also cover moves it there. In plan mode that check comes early: the
// balancer looks for blocks nobody serves every hole_watch, and a mover the plan names
// waits its turn behind the movers of lower ids (move_stagger), so that replicas a
// gossip round apart do not send two servers into one gap.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "actors/server.hpp"
#include "messages/interfaces.hpp"

namespace corolla {

struct balancer_settings {
  // Mean time between checks; each wait is drawn from [0.5, 1.5] times it.
  std::chrono::milliseconds check_period{60000};
  // petals: Petals' rule 2 (should_move); plan: the swarm's one plan (balance_plan.hpp).
  bool plan_mode = false;
  // Move only when the swarm's throughput now / after the move (or the plan) < this
  // (actor-node's balance-quality in petals mode, plan-quality in plan mode).
  double balance_quality = 0.75;
  // Moves the server may make within any hour (move_limiter); <= 0: no limit.
  int max_moves_per_hour = 2;
  // Plan mode: how often the node looks at its table for blocks nobody serves between
  // checks, and checks at once when it sees some, so that a leave's hole waits for this
  // and a move, not for a check period. All replicas plan alike, so only the servers the
  // plan names move in. 0: only at checks.
  std::chrono::milliseconds hole_watch{0};
  // Plan mode: a server the plan moves waits this long for each mover of a lower id, then
  // checks again (and moves if the plan, now seeing theirs, still says so). 0: no waiting.
  std::chrono::milliseconds move_stagger{0};
  // How long a moving server's sessions may run on before they are handed over.
  std::chrono::milliseconds grace{5000};
  uint64_t seed = 0;  // the check jitter and should_move's order; 0: random
};

struct balancer_config {
  balancer_settings settings;
  std::string model_path;  // where a new span is loaded from
  int64_t n_blocks = 0;    // the model's
  // The running server's config (its id and model included): a move gives the new
  // server the same settings with a new id and the new span's model.
  server_config server;
  server_actor running;
};

// Spawned detached: loading a span takes its thread for seconds.
balancer_actor spawn_balancer(caf::actor_system& system, balancer_config cfg);

}  // namespace corolla
