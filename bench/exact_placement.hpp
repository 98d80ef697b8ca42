// exact_placement: the best integer placement of a swarm's spans — the yardstick
// `corolla sim` measures the balancing policies against, next to the even-spread upper
// bound. Each server keeps its span's length and throughput; the placement chooses the
// starts that maximise the weakest block's throughput.
//
// A mixed-integer program solved with GLPK (branch and cut): a binary x[i][s] for server
// i starting at block s, each server at exactly one start, and for every block the
// throughput of the servers covering it >= z; maximise z. The solver proves the optimum
// or, when its time runs out, gives the best placement found and the bound it could not
// yet close (optimal false). Not used by live nodes: a time limit makes it depend on
// the machine, and the plan every balancer computes must not.
#pragma once

#include <cstdint>
#include <vector>

#include "actors/balancing.hpp"

namespace corolla {

struct exact_result {
  bool solved = false;          // the solver gave a placement at all
  bool optimal = false;         // ... and proved it best
  double throughput = 0;        // the weakest block's, placed at starts
  double bound = 0;             // no placement does better than this
  std::vector<int64_t> starts;  // for each span given
};

// REQUIRES: each span's length in [1, n_blocks].
exact_result exact_placement(const std::vector<swarm_span>& spans, int64_t n_blocks,
                             double time_limit_s);

}  // namespace corolla
