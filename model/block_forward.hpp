// block_forward: one transformer block over n tokens at explicit positions.
//
//   x += post_norm(wo . attention(rope(qk_norm(q)), rope(qk_norm(k)), v))
//        with q, k, v = qkv . rmsnorm(x) + bias
//   x += post_norm(down . act(gate_up . rmsnorm(x)))     act = swiglu or geglu
// where the biases, the q/k norms and the post-norms are there only for the families that
// have them (block_weights), and attention is the layer's (window, soft-cap, scale).
// The new keys and values are appended to the session's kv_cache at [pos, pos + n)
// (kv_cache's invariant 2: pos <= length, truncating first when pos < length).
// n > 1 is a prefill (or a replay); n == 1 is a decode step.
// The block's precision picks the kernels: native and int8 run the fast kernels, f32 the
// reference twins (kernels/reference.hpp) end to end.
// Shapes: x [n, dim]. Threads: the kernels' OpenMP teams of the caller. A workspace
// belongs to one caller and is reused across calls (it only grows).
//
// Batching: block_forward_batch runs several sessions' steps as one pass. Their rows
// are stacked into one x, so each matmul reads the weights once for all of them; the
// cache, RoPE and attention stay per sequence. Rows are independent in every matmul
// (per-row activation scales, exact int32 sums), so a sequence's output is bit for
// bit what it would be alone.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/matmul_int8.hpp"
#include "model/block_weights.hpp"
#include "model/kv_cache.hpp"
#include "model/status.hpp"

namespace corolla {

struct block_workspace {
  std::vector<float> xb;       // [n, dim]           normed input
  std::vector<float> qkv;      // [n, q_dim + 2 kv_dim]
  std::vector<float> q;        // [n, q_dim]         queries after RoPE
  std::vector<float> k, v;     // [n, kv_dim]        new keys (after RoPE) and values
  std::vector<float> kv_f32;   // an f16 cache widened for the reference kernels
  std::vector<float> att;      // [n, q_dim]         attention output
  std::vector<float> out;      // [n, dim]           projection back to the residual
  std::vector<float> gate_up;  // [n, 2 hidden]
  std::vector<float> hidden;   // [n, hidden]
  matmul_workspace matmul;
  attention_workspace attention;
};

// Runs block `w` on x [n, dim] in place. Errors: out_of_range from the cache (a gap,
// or more tokens than it may hold); nothing is changed then.
status block_forward(const block_weights& w, kv_cache& cache, float* x, int64_t pos, int64_t n,
                     block_workspace& ws);

// One session's part of a batch: n rows of x at positions [pos, pos + n) of `cache`.
struct sequence_step {
  kv_cache* cache = nullptr;
  int64_t pos = 0;
  int64_t n = 0;
};

// Runs block `w` on x [sum of n, dim] in place, the sequences' rows stacked in order.
// REQUIRES: every sequence's cache.prepare(pos, n) has succeeded (block_forward's
// check, done per sequence by the caller so that one bad step fails alone), and no two
// sequences share a cache.
void block_forward_batch(const block_weights& w, const std::vector<sequence_step>& seqs, float* x,
                         block_workspace& ws);

}  // namespace corolla
