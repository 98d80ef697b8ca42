// The f32 reference twin of every kernel (namespace corolla::ref).
//
// Plain loops in the order the maths reads, as in llama2.c's run.c: tests compare the
// fast kernels against these, and the model's f32 path runs on them (selectable at run
// time) to compare with llama.cpp. Contracts use [rows, cols] shapes, row-major.
// Only ref::matmul is parallel (one OpenMP loop over output channels) so that the f32
// path of a 1B model stays usable; the rest run on the calling thread.
// They allocate what scratch they need. Pure functions; any thread.
#pragma once

#include <cstdint>

#include "kernels/attention_params.hpp"

namespace corolla::ref {

// out [m, rows] = x [m, cols] W^T, W [rows, cols].
void matmul(float* out, const float* x, int64_t m, const float* w, int64_t rows, int64_t cols);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight for each of `rows` rows of length dim.
// out may be x.
void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps);

// x[0, n) <- exp(x - max) / sum(exp(x - max)).
void softmax(float* x, int64_t n);

// Rotates q or k [n, n_heads * head_dim] in place for positions pos0 .. pos0 + n - 1.
// Pair i < rope_dim / 2 of a head turns by theta = pos * base^(-2i / rope_dim) / factors[i]:
//   (a, b) <- (a cos - b sin, a sin + b cos)
// where (a, b) = (x[2i], x[2i+1]) for llama.cpp's LLAMA_ROPE_TYPE_NORM (GGUF's `llama`
// q/k layout: the converter permuted the weights so that rotated pairs are adjacent), or
// (x[i], x[i + rope_dim/2]) for NEOX (qwen2, qwen3, phi3, gemma2/3).
// factors (rope_dim / 2 of them, or null for none) are RoPE scaling's per-pair divisors:
// Llama 3.1's rope_freqs, or linear scaling's factor for every pair.
// Dimensions from rope_dim to head_dim are left as they are.
void rope(float* x, int64_t n, int64_t pos0, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
          float freq_base, const float* factors, bool neox);

// Causal grouped-query attention for n new tokens at positions pos0 .. pos0 + n - 1.
// q [n, n_heads * head_dim]; k, v [pos0 + n, n_kv_heads * head_dim] hold every cached
// position including the new ones; query head h reads kv head h / (n_heads / n_kv_heads).
// out [n, n_heads * head_dim] = softmax(cap(scale * q k^T)) v over the positions a query
// sees: j <= i, and i - j < window when window > 0 (sliding-window layers); cap(s) =
// softcap * tanh(s / softcap) when softcap > 0 (Gemma 2), else s.
void attention(float* out, const float* q, const float* k, const float* v, int64_t n, int64_t pos0,
               const attention_params& p);

// out [n, hidden] = silu(gate) * up, where gate_up [n, 2 * hidden] holds each token's
// gate then up projection; silu(g) = g / (1 + exp(-g)).
void swiglu(float* out, const float* gate_up, int64_t n, int64_t hidden);

}  // namespace corolla::ref
