// route_planner: Petals' min_latency routing — the cheapest chain of servers that
// covers blocks [start, end).
//
// A graph over block boundaries start..end: a server whose span overlaps the range
// gives an edge s -> e for every start <= s < e <= end inside its span, costing its
// round trip plus its compute time for (e - s) blocks. Dijkstra finds the cheapest
// path; ties go to fewer hops, then to the lower server id, so a route is a pure
// function of the candidates (the simulator and the tests rely on it).
// Plain class, no CAF.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace corolla {

struct route_candidate {
  uint64_t server_id = 0;
  int64_t start_block = 0;  // the server's span
  int64_t end_block = 0;
  double rtt_ms = 0;
  double compute_ms_per_block = 0;
};

struct planned_hop {
  uint64_t server_id = 0;
  int64_t start_block = 0;  // the blocks this hop runs
  int64_t end_block = 0;
  bool operator==(const planned_hop& o) const {
    return server_id == o.server_id && start_block == o.start_block && end_block == o.end_block;
  }
};

// The hops in block order, or nullopt when the candidates leave a block uncovered.
std::optional<std::vector<planned_hop>> plan_min_latency_route(
    const std::vector<route_candidate>& candidates, int64_t start_block, int64_t end_block);

// What a step over `route` costs as the planner counts it, from the candidates' figures
// (hops whose server is not among them count nothing).
struct route_cost {
  double compute_ms = 0;  // each hop's blocks
  double rtt_ms = 0;      // each hop's round trip
  double total_ms() const { return compute_ms + rtt_ms; }
};
route_cost cost_of(const std::vector<planned_hop>& route,
                   const std::vector<route_candidate>& candidates);

}  // namespace corolla
