// block_forward: one transformer block over n tokens at explicit positions.
//
//   x += wo . attention(rope(q), rope(k), v)   with q, k, v = qkv . rmsnorm(x)
//   x += down . swiglu(gate_up . rmsnorm(x))
// The new keys and values are appended to the session's kv_cache at [pos, pos + n)
// (kv_cache's invariant 2: pos <= length, truncating first when pos < length).
// n > 1 is a prefill (or a replay); n == 1 is a decode step.
// The block's precision picks the kernels: int8 runs the fast kernels, f32 the
// reference twins (kernels/reference.hpp) end to end.
// Shapes: x [n, dim]. Threads: the kernels' OpenMP teams of the caller. A workspace
// belongs to one caller and is reused across calls (it only grows).
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
  std::vector<float> qkv;      // [n, dim + 2 kv_dim]
  std::vector<float> q;        // [n, dim]           queries after RoPE
  std::vector<float> att;      // [n, dim]           attention output
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

}  // namespace corolla
