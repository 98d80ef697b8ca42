#include "actors/route_planner.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace corolla {

std::optional<std::vector<planned_hop>> plan_min_latency_route(
    const std::vector<route_candidate>& candidates, int64_t start_block, int64_t end_block) {
  if (start_block >= end_block) return std::nullopt;
  const int64_t nodes = end_block - start_block + 1;
  // Per boundary: (cost, hops, server id of the last hop) compared lexicographically.
  using label = std::tuple<double, int64_t, uint64_t>;
  const label unreached{std::numeric_limits<double>::infinity(), 0, 0};
  std::vector<label> best(static_cast<size_t>(nodes), unreached);
  std::vector<planned_hop> via(static_cast<size_t>(nodes));
  std::vector<bool> done(static_cast<size_t>(nodes), false);
  best[0] = label{0.0, 0, 0};

  // The graph is tiny (blocks + 1 nodes): a linear scan beats a heap here.
  for (int64_t round = 0; round < nodes; ++round) {
    int64_t u = -1;
    for (int64_t i = 0; i < nodes; ++i) {
      if (!done[size_t(i)] && std::get<0>(best[size_t(i)]) < std::get<0>(unreached) &&
          (u < 0 || best[size_t(i)] < best[size_t(u)])) {
        u = i;
      }
    }
    if (u < 0) break;
    done[size_t(u)] = true;
    const int64_t s = start_block + u;
    for (const route_candidate& c : candidates) {
      if (c.start_block > s || c.end_block <= s) continue;
      const int64_t last = std::min(c.end_block, end_block);
      for (int64_t e = s + 1; e <= last; ++e) {
        const label through{
            std::get<0>(best[size_t(u)]) + c.rtt_ms + c.compute_ms_per_block * double(e - s),
            std::get<1>(best[size_t(u)]) + 1, c.server_id};
        const size_t v = size_t(e - start_block);
        if (through < best[v]) {
          best[v] = through;
          via[v] = planned_hop{c.server_id, s, e};
        }
      }
    }
  }
  if (!done[size_t(nodes - 1)]) return std::nullopt;
  std::vector<planned_hop> route;
  for (int64_t at = nodes - 1; at > 0;) {
    const planned_hop& hop = via[size_t(at)];
    route.push_back(hop);
    at = hop.start_block - start_block;
  }
  std::reverse(route.begin(), route.end());
  // Two hops in a row on one server cost the same as one in exact arithmetic, but a
  // measured (inexact) compute time can make the split a rounding error cheaper: one
  // hop it is (a session opens once per server).
  std::vector<planned_hop> merged;
  for (const planned_hop& hop : route) {
    if (!merged.empty() && merged.back().server_id == hop.server_id) {
      merged.back().end_block = hop.end_block;
    } else {
      merged.push_back(hop);
    }
  }
  return merged;
}

route_cost cost_of(const std::vector<planned_hop>& route,
                   const std::vector<route_candidate>& candidates) {
  route_cost cost;
  for (const planned_hop& h : route) {
    for (const route_candidate& c : candidates) {
      if (c.server_id != h.server_id) continue;
      cost.compute_ms += c.compute_ms_per_block * double(h.end_block - h.start_block);
      cost.rtt_ms += c.rtt_ms;
      break;
    }
  }
  return cost;
}

}  // namespace corolla
