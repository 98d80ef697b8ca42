// Scalar and row conversions between f32 and the 16-bit float formats GGUF uses.
//
// f16 is IEEE 754 binary16 (ggml's ggml_fp16_t); bf16 is the upper half of an
// f32 (ggml_bf16_t). Both are carried as uint16_t bit patterns.
// Invariants:
//  1. f16_to_f32 is exact for every input, subnormals, infinities and NaNs included.
//  2. f32_to_f16 and f32_to_bf16 round to nearest, ties to even; NaN stays NaN.
// Pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#ifndef COROLLA_F32_ISA
#define COROLLA_F32_ISA baseline
#endif

namespace corolla {
// The scalar conversions are inline, and kernels/f32/ compiles them into each ISA's copy:
// an inline namespace per ISA keeps each copy's symbols its own (vec_math.hpp says why).
inline namespace COROLLA_F32_ISA {

inline float bits_to_f32(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t f32_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return bits_to_f32(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return bits_to_f32(sign);
  // Subnormal: shift the mantissa up until its leading one becomes implicit.
  int e = -1;
  do {
    ++e;
    mantissa <<= 1;
  } while ((mantissa & 0x400) == 0);
  return bits_to_f32(sign | uint32_t(112 - e) << 23 | ((mantissa & 0x3ff) << 13));
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_to_bits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to or beyond infinity
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: value / 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t h = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1))) ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return uint16_t(sign | h);
}

inline float bf16_to_f32(uint16_t b) {
  return bits_to_f32(uint32_t(b) << 16);
}

inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = f32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

}  // namespace COROLLA_F32_ISA

// Row conversions: out[i] = convert(in[i]) for i in [0, n). `in` holds n
// little-endian 16-bit patterns and need not be aligned (GGUF data may not be).
// f16_to_f32_row uses the F16C instructions when the CPU has them (checked once at
// run time): 10x the scalar loop, and exact like it. OpenMP-free; callers
// parallelise over rows.
void f16_to_f32_row(float* out, const void* in, size_t n);
void bf16_to_f32_row(float* out, const void* in, size_t n);

}  // namespace corolla
