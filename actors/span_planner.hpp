// span_planner: how to cut a model's blocks into spans over heterogeneous nodes — the
// partition that maximises the swarm's bottleneck throughput within each node's memory
// (what `corolla plan` prints), and the move from the spans nodes serve now to a plan
// that keeps as many loaded blocks in place as possible (Kuhn-Munkres, as SpotServe
// reassigns pipeline stages). Plain functions, no CAF.
//
// Model: a node serving k blocks does throughput / k decode steps per second (its
// `throughput` is in block-steps per second); a chain of spans runs at the pace of its
// slowest node (the bottleneck). A node holds at most memory / block_bytes blocks.
// Every block is served by exactly one node of the plan; nodes may serve none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corolla {

struct plan_node {
  std::string name;
  int64_t memory_bytes = 0;  // for weights (and what a node keeps per block besides)
  double throughput = 0;     // block-steps per second on this node
  // The span it serves now, [start, end); start == end: none.
  int64_t start = 0;
  int64_t end = 0;
};

struct planned_span {
  size_t node = 0;  // index into the nodes given
  int64_t start = 0;
  int64_t end = 0;
};

struct span_plan {
  std::vector<planned_span> spans;  // in block order, covering [0, n_blocks) once
  double bottleneck = 0;            // min over the spans of throughput / blocks
  int64_t blocks_kept = 0;          // blocks a node already serves where the plan puts them
};

// The per-node block counts that maximise the bottleneck (exact: the best value is
// throughput_i / k for some node and count, and a value is reachable exactly when the
// counts it allows cover the blocks), or nullopt when the nodes' memory can not hold
// n_blocks. counts[i] blocks for node i.
std::optional<std::vector<int64_t>> best_block_counts(const std::vector<plan_node>& nodes,
                                                      int64_t n_blocks, int64_t block_bytes);

// What exo and llama.cpp do: counts proportional to memory (largest remainders), capped
// by memory; nullopt when the memory can not hold the blocks.
std::optional<std::vector<int64_t>> memory_proportional_counts(const std::vector<plan_node>& nodes,
                                                               int64_t n_blocks,
                                                               int64_t block_bytes);

// The bottleneck of `counts` (0 when a count exceeds its node's memory or they do not
// sum to n_blocks).
double bottleneck_of(const std::vector<plan_node>& nodes, const std::vector<int64_t>& counts,
                     int64_t n_blocks, int64_t block_bytes);

// Lays `counts` out as spans and assigns them to nodes so that the bottleneck stays the
// counts' while the blocks each node keeps (its current span overlapping its new one)
// are as many as possible: for each order of the spans along the chain (every order up
// to 7 spans; beyond, the nodes' present order), a maximum-weight assignment of nodes
// to the spans (Kuhn-Munkres), the best kept.
span_plan place_spans(const std::vector<plan_node>& nodes, const std::vector<int64_t>& counts,
                      int64_t n_blocks, int64_t block_bytes);

// Kuhn-Munkres: for a square matrix of weights, the column of each row in an
// assignment of maximum total weight. O(n^3).
std::vector<size_t> max_weight_assignment(const std::vector<std::vector<double>>& weight);

}  // namespace corolla
