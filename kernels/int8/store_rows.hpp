// store_rows: the epilogue the avx2 and avx512bw kernels share, on SSE registers (every
// x86-64 has them). `static inline`: each ISA's translation unit keeps its own copy, so
// the linker never has two definitions to choose from (packed_int8.hpp).
#pragma once

#include <immintrin.h>

#include "kernels/int8/packed_int8.hpp"

namespace corolla::packed {

// out[i, row0 + r] = float(sums[r]) * x_scale[i] * w_scale[row0 + r] for the block's
// real rows (the last block may be partly padding).
static inline void store_rows(const gemm_args& g, int64_t i, int64_t row0, __m128i sums) {
  const int64_t live = g.rows - row0 < kRowBlock ? g.rows - row0 : kRowBlock;
  float* o = g.out + i * g.rows + row0;
  const __m128 scaled = _mm_mul_ps(_mm_cvtepi32_ps(sums), _mm_set1_ps(g.x_scale[i]));
  if (live == kRowBlock) {
    _mm_storeu_ps(o, _mm_mul_ps(scaled, _mm_loadu_ps(g.w_scale + row0)));
    return;
  }
  float lanes[4];
  _mm_storeu_ps(lanes, scaled);
  for (int64_t r = 0; r < live; ++r) o[r] = lanes[r] * g.w_scale[row0 + r];
}

}  // namespace corolla::packed
