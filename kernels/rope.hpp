// rope: rotary position embedding of q or k, in either of llama.cpp's pairings: NORM
// (GGUF's `llama` q/k layout, whose rows the converter permuted so that each rotated
// pair is adjacent) or NEOX (pair i is (i, i + rope_dim / 2): qwen2, qwen3, phi3, gemma).
// See ref::rope for the maths.
//
// The fast twin precomputes the inverse frequencies base^(-2i / rope_dim) once per
// model (rope_table) and each token's cos/sin once for all of its heads.
// x is [n, n_heads * head_dim]; positions are pos0 .. pos0 + n - 1. Tokens run in
// parallel when n > 1 (one OpenMP loop). A rope_table is immutable; any thread.
#pragma once

#include <cstdint>
#include <vector>

namespace corolla {

struct rope_table {
  int64_t head_dim = 0;
  int64_t rope_dim = 0;          // rotated dimensions per head, even, <= head_dim
  bool neox = false;             // pairs (i, i + rope_dim / 2) instead of (2i, 2i + 1)
  std::vector<double> inv_freq;  // [rope_dim / 2], double so theta matches ref::rope
};

// factors: empty, or rope_dim / 2 per-pair divisors of the frequencies (RoPE scaling, as
// ref::rope takes them). REQUIRES: rope_dim even, 0 < rope_dim <= head_dim <= 1024.
rope_table make_rope_table(int64_t head_dim, int64_t rope_dim, float freq_base,
                           const std::vector<float>& factors, bool neox);

void rope(float* x, int64_t n, int64_t pos0, int64_t n_heads, const rope_table& table);

}  // namespace corolla
