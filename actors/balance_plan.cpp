#include "actors/balance_plan.hpp"

#include <algorithm>
#include <numeric>

namespace corolla {
namespace {

// Petals' eps (balancing.cpp): a gain smaller than this share is no gain.
constexpr double kEps = 1e-3;
// Each round asks for a weakest block this much above the last round's.
constexpr double kStep = 0.005;
// The plan is the first round's placement within this share of the best round's.
constexpr double kKeep = 0.98;
// An improvement of the deficit smaller than this share of the target is none (float
// sums of the same throughputs in another order must not count).
constexpr double kSame = 1e-9;

struct candidate {
  size_t server = 0;
  int64_t start = 0;
};

// Finds the plan by raising a target: for target z, the deficit sum_b max(0, z - t_b) is
// brought down by single moves (the best first; among equal ones, the one that returns a
// server to its span of today, then the one moving a server that has moved already) and,
// where no single move helps, by pairs; when it reaches 0 every block has >= z, and the
// next round asks for z * (1 + kStep). The deficit, unlike the weakest block, tells how
// far each block is from the target, so a descent on it does not stall on plateaus.
class planner {
 public:
  // From `from` (today's spans, or another placement of them) with today's for the cost
  // of moves.
  planner(const std::vector<swarm_span>& from, const std::vector<swarm_span>& today,
          int64_t n_blocks)
      : spans_(from), today_(today), n_(n_blocks), t_(block_throughputs(from, n_blocks)) {}

  placement run() {
    // Each round's placement; the plan is the first within kKeep of the best, since
    // later rounds move more servers for the last percent.
    std::vector<std::pair<double, std::vector<swarm_span>>> rounds{{min_block(), spans_}};
    double spread = 0;  // the even-spread bound: no target above it can be met
    for (const swarm_span& s : spans_) spread += s.throughput * double(s.end - s.start);
    spread /= double(std::max<int64_t>(n_, 1));
    double target = rounds[0].first > 0 ? rounds[0].first * (1 + kStep) : spread * kStep;
    for (int round = 0; round < 2000 && target <= spread * (1 + kSame); ++round) {
      descend(target);
      if (deficit(t_, target) > kSame * target) {
        // Out of reach; but where blocks had no server, serving some of them counts.
        if (rounds.back().first <= 0 &&
            unserved_blocks(t_) < unserved_blocks(rounds.back().second, n_)) {
          rounds.emplace_back(0.0, spans_);
        }
        break;
      }
      rounds.emplace_back(min_block(), spans_);
      target = rounds.back().first * (1 + kStep);
    }
    const double best = rounds.back().first;
    const auto chosen = best <= 0 ? rounds.end() - 1
                                  : std::find_if(rounds.begin(), rounds.end(), [&](const auto& r) {
                                      return r.first >= best * kKeep;
                                    });
    placement p;
    p.throughput = swarm_throughput(chosen->second, n_);
    for (const swarm_span& s : chosen->second) p.starts.push_back(s.start);
    return p;
  }

 private:
  double min_block() const { return t_.empty() ? 0 : *std::min_element(t_.begin(), t_.end()); }

  static double deficit(const std::vector<double>& t, double target) {
    double d = 0;
    for (double v : t) d += v < target ? target - v : 0;
    return d;
  }

  // The deficit with span i of `spans` at `start` over t, without moving it.
  double deficit_moved(const std::vector<double>& t, const swarm_span& s, int64_t start,
                       double target) const {
    const int64_t end = start + (s.end - s.start);
    double d = 0;
    for (int64_t b = 0; b < n_; ++b) {
      double v = t[size_t(b)];
      if (b >= s.start && b < s.end) v -= s.throughput;
      if (b >= start && b < end) v += s.throughput;
      d += v < target ? target - v : 0;
    }
    return d;
  }

  static void move(std::vector<double>& t, swarm_span& s, int64_t start) {
    for (int64_t b = s.start; b < s.end; ++b) t[size_t(b)] -= s.throughput;
    s.end = start + (s.end - s.start);
    s.start = start;
    for (int64_t b = s.start; b < s.end; ++b) t[size_t(b)] += s.throughput;
  }

  // 0: back to today's span, 1: a server already moved moves on, 2: a new server moves.
  int cost(size_t i, int64_t start) const {
    if (start == today_[i].start) return 0;
    return spans_[i].start != today_[i].start ? 1 : 2;
  }

  // The best single move over t and spans (not of span `skip`) whose deficit beats
  // `floor` by more than `margin`; floor becomes its deficit.
  bool best_single(const std::vector<double>& t, const std::vector<swarm_span>& spans, size_t skip,
                   double target, double& floor, candidate& found) const {
    const double margin = kSame * target;
    bool any = false;
    int found_cost = 3;
    for (size_t i = 0; i < spans.size(); ++i) {
      if (i == skip || !spans[i].can_move) continue;
      const swarm_span& s = spans[i];
      for (int64_t start = 0; start + (s.end - s.start) <= n_; ++start) {
        if (start == s.start) continue;
        const double d = deficit_moved(t, s, start, target);
        const int c = cost(i, start);
        if (d < floor - margin || (any && d < floor + margin && c < found_cost)) {
          floor = std::min(floor, d);
          found = {i, start};
          found_cost = c;
          any = true;
        }
      }
    }
    return any;
  }

  void descend(double target) {
    for (int step = 0; step < 10000; ++step) {
      double floor = deficit(t_, target);
      if (floor <= kSame * target) return;
      candidate m;
      if (best_single(t_, spans_, spans_.size(), target, floor, m)) {
        move(t_, spans_[m.server], m.start);
        continue;
      }
      if (!best_pair(target)) return;
    }
  }

  // A move that alone does not help, followed by the best move of another server.
  bool best_pair(double target) {
    double floor = deficit(t_, target);
    candidate first, second;
    bool any = false;
    std::vector<double> t = t_;
    std::vector<swarm_span> spans = spans_;
    for (size_t i = 0; i < spans.size(); ++i) {
      if (!spans[i].can_move) continue;
      const int64_t from = spans[i].start;
      const int64_t length = spans[i].end - spans[i].start;
      for (int64_t start = 0; start + length <= n_; ++start) {
        // The first move must reach a block short of the target, or it only opens gaps.
        if (start == from || std::none_of(t_.begin() + start, t_.begin() + start + length,
                                          [&](double v) { return v < target; })) {
          continue;
        }
        move(t, spans[i], start);
        candidate next;
        if (best_single(t, spans, i, target, floor, next)) {
          first = {i, start};
          second = next;
          any = true;
        }
        move(t, spans[i], from);
      }
    }
    if (!any) return false;
    move(t_, spans_[first.server], first.start);
    move(t_, spans_[second.server], second.start);
    return true;
  }

  std::vector<swarm_span> spans_;
  const std::vector<swarm_span> today_;
  int64_t n_;
  std::vector<double> t_;
};

}  // namespace

placement plan_placement(const std::vector<swarm_span>& spans, int64_t n_blocks) {
  // By server id: the plan must not depend on the order a replica holds the records in
  // (not even in its float sums).
  std::vector<size_t> order(spans.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return spans[a].server_id != spans[b].server_id ? spans[a].server_id < spans[b].server_id
                                                    : spans[a].start < spans[b].start;
  });
  std::vector<swarm_span> sorted;
  for (size_t i : order) sorted.push_back(spans[i]);
  placement found = planner(sorted, sorted, n_blocks).run();
  // A descent from today's placement can end in a local optimum that a fresh start
  // avoids: rule 1 for every server in turn (the most throughput-blocks first; servers out
  // of moves stay), then the same descent. Taken only when clearly better, as it moves
  // more servers.
  std::vector<size_t> by_weight(sorted.size());
  std::iota(by_weight.begin(), by_weight.end(), size_t(0));
  std::stable_sort(by_weight.begin(), by_weight.end(), [&](size_t a, size_t b) {
    return sorted[a].throughput * double(sorted[a].end - sorted[a].start) >
           sorted[b].throughput * double(sorted[b].end - sorted[b].start);
  });
  std::vector<swarm_span> fresh = sorted;
  std::vector<swarm_span> placed;  // the spans rule 1 has placed so far, and those that stay
  for (const swarm_span& s : sorted) {
    if (!s.can_move) placed.push_back(s);
  }
  for (size_t i : by_weight) {
    if (!fresh[i].can_move) continue;
    const int64_t length = fresh[i].end - fresh[i].start;
    fresh[i].start = choose_best_start(block_throughputs(placed, n_blocks), length);
    fresh[i].end = fresh[i].start + length;
    placed.push_back(fresh[i]);
  }
  const placement other = planner(fresh, sorted, n_blocks).run();
  if (other.throughput * kKeep > found.throughput) found = other;
  placement p;
  p.throughput = found.throughput;
  p.starts.resize(spans.size());
  for (size_t k = 0; k < order.size(); ++k) p.starts[order[k]] = found.starts[k];
  for (size_t i = 0; i < spans.size(); ++i) p.moves += p.starts[i] != spans[i].start;
  return p;
}

rebalance plan_move(const std::vector<swarm_span>& spans, uint64_t self, int64_t n_blocks,
                    double balance_quality) {
  return plan_move(spans, plan_placement(spans, n_blocks), self, n_blocks, balance_quality);
}

rebalance plan_move(const std::vector<swarm_span>& spans, const placement& plan, uint64_t self,
                    int64_t n_blocks, double balance_quality) {
  rebalance out;
  out.swarm_now = swarm_throughput(spans, n_blocks);
  const auto me = std::find_if(spans.begin(), spans.end(),
                               [&](const swarm_span& s) { return s.server_id == self; });
  if (me == spans.end()) return out;
  out.new_start = me->start;
  out.swarm_after = plan.throughput;
  const int64_t planned = plan.starts[size_t(me - spans.begin())];
  if (planned == me->start) return out;
  out.new_start = planned;
  if (out.swarm_now <= 0) {  // blocks nobody serves: any plan that serves more of them
    std::vector<swarm_span> after = spans;
    for (size_t i = 0; i < after.size(); ++i) {
      after[i].end = plan.starts[i] + (after[i].end - after[i].start);
      after[i].start = plan.starts[i];
    }
    out.move = unserved_blocks(after, n_blocks) < unserved_blocks(spans, n_blocks);
    return out;
  }
  if (out.swarm_now / out.swarm_after >= balance_quality - kEps) return out;
  // The others carry out their parts at their own checks, or not at all (they may be out
  // of moves, or gone): this move alone must not weaken the swarm.
  std::vector<swarm_span> alone = spans;
  swarm_span& mine = alone[size_t(me - spans.begin())];
  mine.end = planned + (mine.end - mine.start);
  mine.start = planned;
  out.move = swarm_throughput(alone, n_blocks) >= out.swarm_now;
  return out;
}

}  // namespace corolla
