// balancing: where a server should serve — Petals' two rules (paper, Appendix D) over
// the swarm's spans and announced throughputs. Plain functions, no CAF: the balancer
// actor, `corolla sim` and the tests drive them with their own swarms and generators.
//
// The swarm's throughput is that of its weakest block, a block's throughput being the
// sum of the throughputs of the servers that cover it.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace corolla {

struct swarm_span {
  uint64_t server_id = 0;
  int64_t start = 0;  // blocks [start, end)
  int64_t end = 0;
  double throughput = 0;  // requests per second the server announces
  bool can_move = true;   // false: out of moves for now (plan mode keeps it where it is)
};

// Per block: the summed throughput of the spans covering it.
std::vector<double> block_throughputs(const std::vector<swarm_span>& spans, int64_t n_blocks);

// Blocks no span covers, from the spans or from their block_throughputs.
int64_t unserved_blocks(const std::vector<swarm_span>& spans, int64_t n_blocks);
int64_t unserved_blocks(const std::vector<double>& block_throughputs);

// The swarm's throughput: its weakest block's (0 when a block has no server).
double swarm_throughput(const std::vector<swarm_span>& spans, int64_t n_blocks);

// Rule 1 (a server joining, or moving): the start of the window of `length` blocks
// whose throughputs, sorted, are lexicographically smallest — the window that lifts the
// weakest blocks. Ties go to the lowest start. REQUIRES: 1 <= length <= blocks.
int64_t choose_best_start(const std::vector<double>& throughputs, int64_t length);

struct rebalance {
  bool move = false;
  int64_t new_start = 0;
  double swarm_now = 0;    // the weakest block's throughput today
  double swarm_after = 0;  // after the simulated moves
};

// Rule 2 (every balance check): take server `self` out, let it choose its best window,
// then let every server (in a random order from `rng`) move to its own best window
// until none moves; move only if the swarm's throughput would grow by more than
// 1 / balance_quality (0.75: by a third), and never when a block would be left
// without a server. A server already at its best window stays.
rebalance should_move(const std::vector<swarm_span>& spans, uint64_t self, int64_t n_blocks,
                      double balance_quality, std::mt19937_64& rng);

// How often one server may move: at most `max_moves` within any `window` seconds —
// the guard against the thrashing Petals users report (its issue 389), where servers
// chase each other's moves. max_moves <= 0: no limit. Times are seconds on the caller's
// clock.
class move_limiter {
 public:
  move_limiter() = default;
  move_limiter(int max_moves, double window) : max_moves_(max_moves), window_(window) {}
  bool allows(double now) const;
  // The earliest time from `now` on at which allows() holds.
  double next_allowed(double now) const;
  void moved(double now);

 private:
  int max_moves_ = 2;
  double window_ = 3600;
  std::deque<double> moves_;  // the latest max_moves_ moves' times
};

}  // namespace corolla
