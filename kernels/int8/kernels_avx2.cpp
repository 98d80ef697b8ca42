// The avx2 path (compiled with -mavx2 -mfma): maddubs on |x| and sign(w, x), the sign
// trick packed_int8.hpp explains. Decode (m = 1) streams 4 weight rows at a time; for
// m > 1 two activation rows share every weight load (8 int32 accumulators, 15 of the 16
// ymm registers), and a block of weights is reused from L1 by all activation rows.
#include <immintrin.h>

#include "kernels/int8/packed_int8.hpp"
#include "kernels/int8/store_rows.hpp"

namespace corolla::packed {
namespace {

// One row as quantize_row does, 8 floats at a time; the same operations (max of |x|,
// one division, a multiply, round to nearest even), so the same bytes.
float quantize(const float* x, int64_t cols, int64_t kp, int8_t* q, uint8_t* a) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 vmax = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    vmax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + c)), vmax);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, vmax);
  float amax = 0.0f;
  for (float v : lanes) amax = v > amax ? v : amax;
  for (; c < cols; ++c) {
    const float v = x[c] < 0 ? -x[c] : x[c];
    amax = v > amax ? v : amax;
  }
  const float scale = amax / 127.0f;
  const float inverse = amax > 0.0f ? 1.0f / scale : 0.0f;
  const __m256 vinv = _mm256_set1_ps(inverse);
  c = 0;
  for (; c + 32 <= cols; c += 32) {
    __m256i n[4];
    for (int j = 0; j < 4; ++j) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + c + 8 * j), vinv);
      n[j] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // packs work within 128-bit lanes; the permute restores the element order.
    const __m256i w16a = _mm256_packs_epi32(n[0], n[1]);
    const __m256i w16b = _mm256_packs_epi32(n[2], n[3]);
    const __m256i b8 = _mm256_packs_epi16(w16a, w16b);
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + c), ordered);
  }
  for (; c < cols; ++c) {
    const float v = _mm_cvtss_f32(_mm_round_ss(_mm_setzero_ps(), _mm_set_ss(x[c] * inverse),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    q[c] = int8_t(int32_t(v));
  }
  for (; c < kp; ++c) q[c] = 0;
  if (!a) return scale;
  c = 0;
  for (; c + 32 <= kp; c += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + c));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + c), _mm256_abs_epi8(v));
  }
  for (; c < kp; ++c) a[c] = uint8_t(q[c] < 0 ? -q[c] : q[c]);
  return scale;
}

// Sum of the 8 int32 lanes of each of a0..a3, as [s0, s1, s2, s3].
inline __m128i reduce4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

inline __m256i dot32(__m256i xa, __m256i xq, __m256i w, __m256i ones) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(w, xq)), ones);
}

// Rows i0, i0 + 1 (or i0 alone) of x against the 4 rows of block b.
template <int kRows>
void block_kernel(const gemm_args& g, int64_t i0, int64_t b) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t chunks = g.kp / kColChunk;
  const int8_t* wb = g.w + b * chunks * kRowBlock * kColChunk;
  __m256i acc[kRows][kRowBlock];
  for (int i = 0; i < kRows; ++i) {
    for (int r = 0; r < kRowBlock; ++r) acc[i][r] = _mm256_setzero_si256();
  }
  for (int64_t c = 0; c < chunks; ++c) {
    const int8_t* wc = wb + c * kRowBlock * kColChunk;
    for (int half = 0; half < 2; ++half) {
      const int64_t k = c * kColChunk + half * 32;
      __m256i xa[kRows], xq[kRows];
      for (int i = 0; i < kRows; ++i) {
        xa[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.xa + (i0 + i) * g.kp + k));
        xq[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.xq + (i0 + i) * g.kp + k));
      }
      for (int r = 0; r < kRowBlock; ++r) {
        const __m256i w =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wc + r * kColChunk + half * 32));
        for (int i = 0; i < kRows; ++i) {
          acc[i][r] = _mm256_add_epi32(acc[i][r], dot32(xa[i], xq[i], w, ones));
        }
      }
    }
  }
  for (int i = 0; i < kRows; ++i) {
    store_rows(g, i0 + i, b * kRowBlock, reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
  }
}

void gemm(const gemm_args& g, int64_t block_begin, int64_t block_end) {
  int64_t i = 0;
  for (; i + 2 <= g.m; i += 2) {
    for (int64_t b = block_begin; b < block_end; ++b) block_kernel<2>(g, i, b);
  }
  if (i < g.m) {
    for (int64_t b = block_begin; b < block_end; ++b) block_kernel<1>(g, i, b);
  }
}

}  // namespace

const kernels& avx2_kernels() {
  static const kernels k{quantize, gemm};
  return k;
}

}  // namespace corolla::packed
