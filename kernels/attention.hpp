// attention: causal grouped-query attention of n new tokens over a KV cache.
//
// Shapes: q, out [n, n_heads * head_dim]; k, v [pos0 + n, n_kv_heads * head_dim] hold
// every cached position, the n new ones included (the caller appends them first).
// Token t sits at position pos0 + t and attends to positions 0 .. pos0 + t (the last
// `window` of them on a sliding-window layer); query head h reads kv head
// h / (n_heads / n_kv_heads). See ref::attention for the maths (scale, soft-cap).
//
// The fast twin is tiled like flash attention (kernels/f32/f32_ops.cpp): tasks of one
// KV head and up to 16 new tokens run in parallel, each walking the cache in tiles of 16
// positions with an online softmax, vectorised across the tile's positions. Scratch
// lives in the caller's attention_workspace (a few KiB per thread, whatever the
// context). Any thread; a workspace belongs to one caller.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention_params.hpp"
#include "kernels/kv_rows.hpp"

namespace corolla {

struct attention_workspace {
  std::vector<float> scratch;  // [threads, f32::attention_scratch_floats(...)]
};

// REQUIRES: n_heads % n_kv_heads == 0; out does not overlap q, k or v.
void attention(float* out, const float* q, const float* k, const float* v, int64_t n, int64_t pos0,
               const attention_params& p, attention_workspace& ws);
// The same over a cache's stored rows (kv_rows.hpp), each row read back exactly as f32:
// the f32 kernel's results for the f32 values those rows hold, bit for bit.
void attention(float* out, const float* q, const kv_view& cache, int64_t n, int64_t pos0,
               const attention_params& p, attention_workspace& ws);

}  // namespace corolla
