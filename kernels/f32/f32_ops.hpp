// f32_ops: the f32 element kernels (rmsnorm, softmax, swiglu, attention), compiled once
// per ISA from one source (f32_ops.cpp) and chosen at run time with the int8 path
// (cpu_isa.hpp): baseline (the build's SSE4.2), avx2 (+FMA) or avx512 (AVX-512F).
//
// Invariants:
//  1. The copies differ only in register width. The source fixes every summation order
//     and asks for each fused multiply-add it wants (std::fma, correctly rounded in
//     hardware and in glibc's software fallback alike); the build forbids contraction
//     (-ffp-contract=off). So every copy gives the same bits.
//  2. Each copy's symbols are its own (namespace corolla::f32::<isa>, vec_math.hpp's
//     inline namespace): no inline function built for a wider ISA can be linked into
//     code that runs on a narrower one. The copies call no std:: template.
// The public entry points are rmsnorm.hpp, softmax.hpp, swiglu.hpp and attention.hpp;
// they size the scratch (std::vector lives on the baseline side) and dispatch here.
// Any thread; OpenMP inside.
#pragma once

#include <cstdint>

#include "kernels/kv_rows.hpp"

namespace corolla::f32 {

// Attention's tiles: a task is up to kAttentionTokens new tokens of one KV head, walking
// the cache kAttentionPositions positions at a time (f32_ops.cpp).
constexpr int64_t kAttentionTokens = 16;
constexpr int64_t kAttentionPositions = 16;

struct attention_args {
  float* out;
  const float* q;
  kv_view cache;  // rows kv_row_bytes(n_kv_heads * head_dim, cache.type) apart
  int64_t n, pos0, n_heads, n_kv_heads, head_dim;
  float scale, softcap;  // attention_params's
  int64_t window;
  float* scratch;  // attention_scratch_floats(...) for each thread of the OpenMP team
};

// Floats of attention scratch one thread needs: the transposed keys of a tile
// [head_dim, positions], an f16 or q8_0 cache's tile rows as f32 [positions, head_dim], and per
// query row its running max, sum and output.
int64_t attention_scratch_floats(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

struct ops {
  void (*rmsnorm)(float* out, const float* x, const float* weight, int64_t rows, int64_t dim,
                  float eps);
  void (*softmax)(float* x, int64_t n);
  void (*swiglu)(float* out, const float* gate_up, int64_t n, int64_t hidden);
  void (*attention)(const attention_args& args);
};

const ops& baseline_ops();
const ops& avx2_ops();
const ops& avx512_ops();

// The copy for the process's int8 path: portable -> baseline, avx2 -> avx2, wider ->
// avx512.
const ops& process_ops();

}  // namespace corolla::f32
