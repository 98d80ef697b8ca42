#include "actors/span_planner.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

namespace corolla {
namespace {

int64_t capacity(const plan_node& node, int64_t n_blocks, int64_t block_bytes) {
  if (block_bytes <= 0) return n_blocks;
  return std::min(n_blocks, std::max<int64_t>(0, node.memory_bytes / block_bytes));
}

// The most blocks `node` can serve with throughput / blocks >= bottleneck. The ratio is
// computed the same way as the candidates', so a candidate's own node reaches it exactly.
int64_t blocks_at(const plan_node& node, int64_t cap, double bottleneck) {
  if (node.throughput <= 0) return 0;
  int64_t k = std::min<int64_t>(cap, int64_t(node.throughput / bottleneck));
  while (k < cap && node.throughput / double(k + 1) >= bottleneck) ++k;
  while (k > 0 && node.throughput / double(k) < bottleneck) --k;
  return k;
}

int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
  return std::max<int64_t>(0, std::min(a1, b1) - std::max(a0, b0));
}

}  // namespace

std::optional<std::vector<int64_t>> best_block_counts(const std::vector<plan_node>& nodes,
                                                      int64_t n_blocks, int64_t block_bytes) {
  std::vector<int64_t> caps;
  std::vector<double> candidates;
  for (const plan_node& node : nodes) {
    caps.push_back(node.throughput > 0 ? capacity(node, n_blocks, block_bytes) : 0);
    for (int64_t k = 1; k <= caps.back(); ++k) candidates.push_back(node.throughput / double(k));
  }
  if (std::accumulate(caps.begin(), caps.end(), int64_t(0)) < n_blocks || n_blocks <= 0) {
    return std::nullopt;
  }
  auto total_at = [&](double b) {
    int64_t total = 0;
    for (size_t i = 0; i < nodes.size(); ++i) total += blocks_at(nodes[i], caps[i], b);
    return total;
  };
  // Lower bottlenecks allow more blocks: the best is the highest candidate that covers.
  std::sort(candidates.begin(), candidates.end(), std::greater<>());
  size_t lo = 0, hi = candidates.size() - 1;  // candidates[hi] (the lowest) covers
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (total_at(candidates[mid]) >= n_blocks) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const double best = candidates[lo];
  std::vector<int64_t> counts;
  for (size_t i = 0; i < nodes.size(); ++i) counts.push_back(blocks_at(nodes[i], caps[i], best));
  // Too many blocks allowed: take the extra ones from the tightest nodes (fewer blocks
  // only raise a node's pace).
  int64_t extra = std::accumulate(counts.begin(), counts.end(), int64_t(0)) - n_blocks;
  while (extra-- > 0) {
    size_t tightest = nodes.size();
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (counts[i] == 0) continue;
      if (tightest == nodes.size() || nodes[i].throughput / double(counts[i]) <
                                          nodes[tightest].throughput / double(counts[tightest])) {
        tightest = i;
      }
    }
    --counts[tightest];
  }
  return counts;
}

std::optional<std::vector<int64_t>> memory_proportional_counts(const std::vector<plan_node>& nodes,
                                                               int64_t n_blocks,
                                                               int64_t block_bytes) {
  std::vector<int64_t> caps;
  double memory = 0;
  for (const plan_node& node : nodes) {
    caps.push_back(capacity(node, n_blocks, block_bytes));
    memory += double(node.memory_bytes);
  }
  if (std::accumulate(caps.begin(), caps.end(), int64_t(0)) < n_blocks || memory <= 0) {
    return std::nullopt;
  }
  std::vector<int64_t> counts(nodes.size());
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const double ideal = double(n_blocks) * double(nodes[i].memory_bytes) / memory;
    counts[i] = std::min(caps[i], int64_t(ideal));
    given += counts[i];
    remainders.emplace_back(ideal - double(counts[i]), i);
  }
  std::sort(remainders.begin(), remainders.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  // The rest by largest remainder, then wherever there is room.
  for (size_t r = 0; given < n_blocks; r = (r + 1) % remainders.size()) {
    const size_t i = remainders[r].second;
    if (counts[i] < caps[i]) {
      ++counts[i];
      ++given;
    }
  }
  return counts;
}

double bottleneck_of(const std::vector<plan_node>& nodes, const std::vector<int64_t>& counts,
                     int64_t n_blocks, int64_t block_bytes) {
  if (counts.size() != nodes.size()) return 0;
  double bottleneck = std::numeric_limits<double>::infinity();
  int64_t total = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (counts[i] < 0 || counts[i] > capacity(nodes[i], n_blocks, block_bytes)) return 0;
    if (counts[i] > 0) bottleneck = std::min(bottleneck, nodes[i].throughput / double(counts[i]));
    total += counts[i];
  }
  return total == n_blocks && total > 0 ? bottleneck : 0;
}

namespace {

struct slot {
  int64_t start = 0, end = 0;
};

// Nodes matched to `slots` (one per node; empty ones for nodes left out) so that the
// blocks kept are the most: a node may take a slot it can hold at `bottleneck`.
span_plan match_slots(const std::vector<plan_node>& nodes, std::vector<slot> slots,
                      int64_t n_blocks, int64_t block_bytes, double bottleneck) {
  slots.resize(nodes.size());
  constexpr double forbidden = -1e12;
  std::vector<std::vector<double>> weight(nodes.size(), std::vector<double>(nodes.size(), 0));
  for (size_t i = 0; i < nodes.size(); ++i) {
    const int64_t cap = capacity(nodes[i], n_blocks, block_bytes);
    for (size_t j = 0; j < slots.size(); ++j) {
      const int64_t size = slots[j].end - slots[j].start;
      if (size == 0) continue;
      const bool fits = size <= cap && nodes[i].throughput / double(size) >= bottleneck;
      weight[i][j] =
          fits ? double(overlap(nodes[i].start, nodes[i].end, slots[j].start, slots[j].end))
               : forbidden;
    }
  }
  const std::vector<size_t> slot_of = max_weight_assignment(weight);
  span_plan plan;
  plan.bottleneck = bottleneck;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const slot& s = slots[slot_of[i]];
    if (s.end == s.start) continue;
    if (weight[i][slot_of[i]] <= forbidden) return span_plan{};  // no match at this pace
    plan.spans.push_back({i, s.start, s.end});
    plan.blocks_kept += overlap(nodes[i].start, nodes[i].end, s.start, s.end);
  }
  std::sort(plan.spans.begin(), plan.spans.end(),
            [](const planned_span& a, const planned_span& b) { return a.start < b.start; });
  return plan;
}

std::vector<slot> lay_out(const std::vector<int64_t>& sizes) {
  std::vector<slot> slots;
  int64_t at = 0;
  for (int64_t size : sizes) {
    slots.push_back({at, at + size});
    at += size;
  }
  return slots;
}

}  // namespace

span_plan place_spans(const std::vector<plan_node>& nodes, const std::vector<int64_t>& counts,
                      int64_t n_blocks, int64_t block_bytes) {
  const double bottleneck = bottleneck_of(nodes, counts, n_blocks, block_bytes);
  // The chain order nodes have now (by current start; new nodes last) first: a plan
  // close to the present one keeps most blocks where they are.
  std::vector<size_t> order;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (counts[i] > 0) order.push_back(i);
  }
  auto current_start = [&](size_t i) {
    return nodes[i].end > nodes[i].start ? nodes[i].start : std::numeric_limits<int64_t>::max();
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return current_start(a) < current_start(b); });
  std::vector<int64_t> sizes;
  for (size_t i : order) sizes.push_back(counts[i]);
  span_plan best = match_slots(nodes, lay_out(sizes), n_blocks, block_bytes, bottleneck);
  // Small swarms: every order of the spans (7! = 5040 matchings at most).
  constexpr size_t exhaustive = 7;
  if (sizes.size() <= exhaustive) {
    std::sort(sizes.begin(), sizes.end());
    do {
      span_plan p = match_slots(nodes, lay_out(sizes), n_blocks, block_bytes, bottleneck);
      if (!p.spans.empty() && p.blocks_kept > best.blocks_kept) best = std::move(p);
    } while (std::next_permutation(sizes.begin(), sizes.end()));
  }
  return best;
}

std::vector<size_t> max_weight_assignment(const std::vector<std::vector<double>>& weight) {
  // The Hungarian method with potentials on costs (max - weight), rows and columns
  // numbered from 1; column 0 is the free row being placed.
  const size_t n = weight.size();
  double top = 0;
  for (const auto& row : weight) {
    for (double w : row) top = std::max(top, w);
  }
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0), v(n + 1, 0);
  std::vector<size_t> row_of(n + 1, 0), way(n + 1, 0);
  for (size_t r = 1; r <= n; ++r) {
    row_of[0] = r;
    size_t col = 0;
    std::vector<double> min_to(n + 1, inf);
    std::vector<bool> used(n + 1, false);
    do {
      used[col] = true;
      const size_t row = row_of[col];
      double delta = inf;
      size_t next = 0;
      for (size_t c = 1; c <= n; ++c) {
        if (used[c]) continue;
        const double reduced = (top - weight[row - 1][c - 1]) - u[row] - v[c];
        if (reduced < min_to[c]) {
          min_to[c] = reduced;
          way[c] = col;
        }
        if (min_to[c] < delta) {
          delta = min_to[c];
          next = c;
        }
      }
      for (size_t c = 0; c <= n; ++c) {
        if (used[c]) {
          u[row_of[c]] += delta;
          v[c] -= delta;
        } else {
          min_to[c] -= delta;
        }
      }
      col = next;
    } while (row_of[col] != 0);
    do {
      const size_t previous = way[col];
      row_of[col] = row_of[previous];
      col = previous;
    } while (col != 0);
  }
  std::vector<size_t> out(n);
  for (size_t c = 1; c <= n; ++c) {
    if (row_of[c] != 0) out[row_of[c] - 1] = c - 1;
  }
  return out;
}

}  // namespace corolla
