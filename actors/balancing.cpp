#include "actors/balancing.hpp"

#include <algorithm>
#include <numeric>

namespace corolla {
namespace {

// Keeps a server taken out of its blocks slightly below zero there rather than at a
// rounding error above it (Petals' eps), so that it does not count itself.
constexpr double eps = 1e-3;

void add(std::vector<double>& t, const swarm_span& s, double amount) {
  for (int64_t b = s.start; b < s.end; ++b) t[size_t(b)] += amount;
}

double weakest(const std::vector<double>& t) {
  return t.empty() ? 0 : *std::min_element(t.begin(), t.end());
}

// Takes `s` out, moves it to its best window, puts it back; true when it moved.
bool move_to_best(std::vector<double>& t, swarm_span& s) {
  add(t, s, -s.throughput * (1 + eps));
  const int64_t best = choose_best_start(t, s.end - s.start);
  add(t, s, s.throughput * eps);
  const bool moved = best != s.start;
  if (moved) {
    const int64_t length = s.end - s.start;
    s.start = best;
    s.end = best + length;
  }
  add(t, s, s.throughput);
  return moved;
}

}  // namespace

std::vector<double> block_throughputs(const std::vector<swarm_span>& spans, int64_t n_blocks) {
  std::vector<double> t(size_t(std::max<int64_t>(n_blocks, 0)), 0.0);
  for (const swarm_span& s : spans) add(t, s, s.throughput);
  return t;
}

int64_t unserved_blocks(const std::vector<double>& block_throughputs) {
  return std::count(block_throughputs.begin(), block_throughputs.end(), 0.0);
}

int64_t unserved_blocks(const std::vector<swarm_span>& spans, int64_t n_blocks) {
  return unserved_blocks(block_throughputs(spans, n_blocks));
}

double swarm_throughput(const std::vector<swarm_span>& spans, int64_t n_blocks) {
  return weakest(block_throughputs(spans, n_blocks));
}

int64_t choose_best_start(const std::vector<double>& throughputs, int64_t length) {
  const int64_t n = int64_t(throughputs.size());
  int64_t best = 0;
  std::vector<double> best_sorted, window;
  for (int64_t start = 0; start + length <= n; ++start) {
    window.assign(throughputs.begin() + start, throughputs.begin() + start + length);
    std::sort(window.begin(), window.end());
    if (best_sorted.empty() || window < best_sorted) {
      best_sorted = window;
      best = start;
    }
  }
  return best;
}

rebalance should_move(const std::vector<swarm_span>& spans, uint64_t self, int64_t n_blocks,
                      double balance_quality, std::mt19937_64& rng) {
  rebalance out;
  std::vector<swarm_span> sim = spans;
  auto me = std::find_if(sim.begin(), sim.end(),
                         [&](const swarm_span& s) { return s.server_id == self; });
  std::vector<double> t = block_throughputs(sim, n_blocks);
  out.swarm_now = weakest(t);
  if (me == sim.end()) return out;
  out.new_start = me->start;
  if (!move_to_best(t, *me)) return out;  // already at its best window
  out.new_start = me->start;
  // The others answer in turn, as they would at their own checks, until none moves.
  std::vector<size_t> order(sim.size());
  std::iota(order.begin(), order.end(), 0);
  bool moved = true;
  for (int round = 0; moved && round < 1000; ++round) {
    moved = false;
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) moved = move_to_best(t, sim[i]) || moved;
  }
  out.swarm_after = weakest(t);
  if (out.swarm_after < out.swarm_now || out.swarm_after < eps) return out;
  out.move = out.swarm_now / out.swarm_after < balance_quality - eps;
  return out;
}

bool move_limiter::allows(double now) const {
  return max_moves_ <= 0 || int(moves_.size()) < max_moves_ || now - moves_.front() >= window_;
}

double move_limiter::next_allowed(double now) const {
  return allows(now) ? now : moves_.front() + window_;
}

void move_limiter::moved(double now) {
  if (max_moves_ <= 0) return;
  moves_.push_back(now);
  while (int(moves_.size()) > max_moves_) moves_.pop_front();
}

}  // namespace corolla
