// balance_plan: `balance-mode = plan` — one target placement of the swarm's spans, computed
// alike by every balancer from its replica of the routing table, of which each server
// carries out only its own part. Plain functions, no CAF, no generator: the balancer
// actor, `corolla sim` and the tests drive them with their own swarms.
//
// A server's span length and throughput are its own (memory, speed); the plan chooses
// only where each span starts, so as to lift the swarm's weakest block (its throughput
// the sum of its servers'), moving as few servers as it can:
//  - from the placement the table shows, it takes the single-server move that raises
//    the weakest block most, or leaves fewer blocks at the weakest value, until none
//    does; then the best pair of moves whose second fixes what the first opens, and
//    singles again, until neither helps. Every move it takes improves the swarm, so a
//    plan is a short list of moves, not a reshuffle.
//  - it depends only on the set of spans: servers are visited in id order, candidate
//    starts in block order, and the first of equal candidates wins. Two replicas that
//    hold the same records compute the same plan, whatever order they hold them in.
// A server on its way to a new span counts there (membership's next span): a replica
// that sees another server already moving into a gap plans around it instead of
// following it in.
#pragma once

#include <cstdint>
#include <vector>

#include "actors/balancing.hpp"

namespace corolla {

struct placement {
  std::vector<int64_t> starts;  // for each span given, in the order given
  double throughput = 0;        // the weakest block's, placed so
  int moves = 0;                // spans whose start differs from today's
};

// The plan for these spans over n_blocks blocks. REQUIRES: each span's length in
// [1, n_blocks] and its start in [0, n_blocks - length].
placement plan_placement(const std::vector<swarm_span>& spans, int64_t n_blocks);

// A balance check in plan mode: server `self` moves when the plan moves it and the plan
// lifts the weakest block by more than 1 / balance_quality (or fills a block nobody
// serves). swarm_after is the plan's throughput.
rebalance plan_move(const std::vector<swarm_span>& spans, uint64_t self, int64_t n_blocks,
                    double balance_quality);
// The same with the plan of these spans already computed (the simulator computes it once
// per state of its swarm, as every server of it would).
rebalance plan_move(const std::vector<swarm_span>& spans, const placement& plan, uint64_t self,
                    int64_t n_blocks, double balance_quality);

}  // namespace corolla
