// dot and exp_approx: the f32 element math the kernels share.
//
// Both are written so that a loop calling them vectorises without -ffast-math:
//  - dot sums in 16 independent lanes with fused multiply-adds, then folds the lanes
//    in halves. A compiler may not reorder a single running sum, so the plain loop would
//    run one add at a time. 16 lanes fill an AVX-512 register; the order is the one
//    ggml's f32 GEMM (llamafile's tinyBLAS) uses, so rounding stays close to llama.cpp's.
//  - exp_approx is branch-free (range reduction by 2^k, degree-6 polynomial), relative
//    error below 3e-7 for x in [-87, 88] and clamped outside it (exp(-87) ~ 1.6e-38, so
//    a softmax loses nothing). std::exp is a library call per element; the softmax of a
//    512-token prefill calls it ~10^8 times.
// Both live in an inline namespace named by COROLLA_F32_ISA (baseline unless a
// translation unit says otherwise): kernels/f32/ compiles its code once per ISA, and each
// copy must get its own symbols, or the linker could hand an AVX-512 copy to code that
// runs on an older CPU. For the same reason they call no std:: template.
// Pure; any thread.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef COROLLA_F32_ISA
#define COROLLA_F32_ISA baseline
#endif

namespace corolla {
inline namespace COROLLA_F32_ISA {

inline float dot(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] = std::fma(a[i + l], b[i + l], lanes[l]);
  }
  for (int w = kLanes / 2; w >= 1; w /= 2) {
    for (int l = 0; l < w; ++l) lanes[l] += lanes[l + w];
  }
  float sum = lanes[0];
  for (; i < n; ++i) sum = std::fma(a[i], b[i], sum);
  return sum;
}

inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // k = round(x / ln 2) by the 1.5 * 2^23 trick: the sum's low mantissa bits hold k.
  constexpr float kRound = 12582912.0f;
  const float kf = x * 1.44269504088896341f + kRound;
  int32_t k_bits;
  std::memcpy(&k_bits, &kf, sizeof k_bits);
  const int32_t k = k_bits - 0x4B400000;
  const float kr = kf - kRound;
  // r = x - k ln 2 in two parts (Cody-Waite), |r| <= ln(2) / 2
  const float r = (x - kr * 0.693145751953125f) - kr * 1.428606765330187045e-06f;
  const float p =
      1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 +
                                          r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  const int32_t scale_bits = (k + 127) << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

}  // namespace COROLLA_F32_ISA
}  // namespace corolla
