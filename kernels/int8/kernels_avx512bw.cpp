// The avx512bw path (compiled with -mavx512f -mavx512bw): the avx2 path's sign trick on
// 64-byte registers. AVX-512 has no byte sign instruction, so sign(w, x) is w with the
// lanes where x < 0 negated under a mask. Up to 4 activation rows share each weight load
// (16 zmm accumulators of the 32). Activations are quantised by the avx2 code: every
// AVX-512BW CPU has AVX2 and FMA, and one quantiser keeps the bytes identical.
#include <immintrin.h>

#include "kernels/int8/packed_int8.hpp"
#include "kernels/int8/store_rows.hpp"

namespace corolla::packed {
namespace {

// Sum of the 16 int32 lanes of each of a0..a3, as [s0, s1, s2, s3]. The zero-masked
// extract because GCC 12's plain one (and _mm512_reduce_add_epi32) starts from an
// "undefined" register (the cast too) that trips -Wuninitialized inside its own header.
inline __m128i reduce4(const __m512i* a) {
  __m256i half[4];
  for (int r = 0; r < 4; ++r) {
    half[r] = _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xFF, a[r], 0),
                               _mm512_maskz_extracti64x4_epi64(0xFF, a[r], 1));
  }
  const __m256i h =
      _mm256_hadd_epi32(_mm256_hadd_epi32(half[0], half[1]), _mm256_hadd_epi32(half[2], half[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

template <int kRows>
void block_kernel(const gemm_args& g, int64_t i0, int64_t b) {
  const __m512i ones = _mm512_set1_epi16(1);
  const __m512i zero = _mm512_setzero_si512();
  const int64_t chunks = g.kp / kColChunk;
  const int8_t* wb = g.w + b * chunks * kRowBlock * kColChunk;
  __m512i acc[kRows][kRowBlock];
  for (int i = 0; i < kRows; ++i) {
    for (int r = 0; r < kRowBlock; ++r) acc[i][r] = zero;
  }
  for (int64_t c = 0; c < chunks; ++c) {
    const int8_t* wc = wb + c * kRowBlock * kColChunk;
    __m512i xa[kRows];
    __mmask64 negative[kRows];
    for (int i = 0; i < kRows; ++i) {
      const int64_t at = (i0 + i) * g.kp + c * kColChunk;
      xa[i] = _mm512_loadu_si512(g.xa + at);
      negative[i] = _mm512_movepi8_mask(_mm512_loadu_si512(g.xq + at));
    }
    for (int r = 0; r < kRowBlock; ++r) {
      const __m512i w = _mm512_loadu_si512(wc + r * kColChunk);
      for (int i = 0; i < kRows; ++i) {
        const __m512i signed_w = _mm512_mask_sub_epi8(w, negative[i], zero, w);
        const __m512i pairs = _mm512_maddubs_epi16(xa[i], signed_w);
        acc[i][r] = _mm512_add_epi32(acc[i][r], _mm512_madd_epi16(pairs, ones));
      }
    }
  }
  for (int i = 0; i < kRows; ++i) store_rows(g, i0 + i, b * kRowBlock, reduce4(acc[i]));
}

void gemm(const gemm_args& g, int64_t block_begin, int64_t block_end) {
  int64_t i = 0;
  for (; i + 4 <= g.m; i += 4) {
    for (int64_t b = block_begin; b < block_end; ++b) block_kernel<4>(g, i, b);
  }
  const int64_t left = g.m - i;
  for (int64_t b = block_begin; b < block_end; ++b) {
    if (left == 3) block_kernel<3>(g, i, b);
    if (left == 2) block_kernel<2>(g, i, b);
    if (left == 1) block_kernel<1>(g, i, b);
  }
}

}  // namespace

const kernels& avx512bw_kernels() {
  static const kernels k{avx2_kernels().quantize, gemm};
  return k;
}

}  // namespace corolla::packed
