// The avx2 and vnni paths, one source built twice (kernels/CMakeLists.txt): with
// COROLLA_QUANT_VNNI = 0 for AVX2 + F16C, where u8 x s8 products go through maddubs and
// madd, and with COROLLA_QUANT_VNNI = 1 for AVX-512 VNNI on 256-bit registers
// (vpdpbusd). Both compute quant_layout.hpp's definition: a group's 8 rows are unpacked
// once into 8 registers of 32 u8 values, multiplied by each activation row's 32 int8
// values, the exact int32 sums of the 8 rows gathered into one register by a tree of
// hadds, and combined into one f32 lane per row.
#include <immintrin.h>

#include <cstring>

#include "kernels/quant/quant_layout.hpp"

namespace corolla::quant {
namespace {

// Activation rows that share one unpacking of a tile's weights: their accumulators and
// quantised groups stay in L1 while the tile's groups go by.
constexpr int64_t kRowChunk = 32;

inline __m256i dot(__m256i w, __m256i x) {
#if COROLLA_QUANT_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
#endif
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 0xff in byte j where bit j of `bits` is set.
inline __m256i expand_bits(uint32_t bits) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i select = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(int32_t(bits)), spread);
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, select), select);
}

// The 32 values of each of the tile's 8 rows in group g.
template <format F>
inline void unpack(const uint8_t* tile, const tile_layout& l, int64_t g, __m256i w[kTileRows]) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const uint8_t* qs = tile + l.qs + g * kTileRows * 16;
  for (int r = 0; r < kTileRows; ++r) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + r * 16));
    w[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), low4);
  }
  constexpr int planes = bits_of(F) - 4;
  for (int p = 0; p < planes; ++p) {
    const __m256i bit = _mm256_set1_epi8(char(0x10 << p));
    const uint8_t* qh = tile + l.qh + (g * planes + p) * kTileRows * 4;
    for (int r = 0; r < kTileRows; ++r) {
      w[r] = _mm256_or_si256(w[r], _mm256_and_si256(expand_bits(load_u32(qh + r * 4)), bit));
    }
  }
}

// Lane r of `low` / `high`: row r's sum over values 0-15 / 16-31, from its products p[r]
// (lane k of p[r] holds values 4k .. 4k + 3).
inline void gather_rows(const __m256i p[kTileRows], __m256i& low, __m256i& high) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
  low = _mm256_permute2x128_si256(a, b, 0x20);
  high = _mm256_permute2x128_si256(a, b, 0x31);
}

inline __m256 f16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 u8x8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 i8x8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// acc + (s * xs) * float(v), the definition's one step.
inline __m256 step(__m256 acc, __m256 s, __m256 xs, __m256i v) {
  return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(s, xs), _mm256_cvtepi32_ps(v)));
}

template <format F>
void tile_rows(const gemm_args& a, int64_t t, int64_t i0, int64_t i1) {
  const tile_layout& l = a.layout;
  const uint8_t* tile = a.w + t * l.bytes;
  __m256 acc[kRowChunk];
  for (int64_t i = i0; i < i1; ++i) acc[i - i0] = _mm256_setzero_ps();
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t g = 0; g < l.groups; ++g) {
    __m256i w[kTileRows];
    unpack<F>(tile, l, g, w);
    const int64_t k = g / (kSuper / kGroup);
    __m256 s0, s1, m;
    if constexpr (F == format::q6_k) {
      const __m256 d = f16x8(tile + l.d + k * kTileRows * 2);
      s0 = _mm256_mul_ps(d, i8x8(tile + l.sc + (2 * g) * kTileRows));
      s1 = _mm256_mul_ps(d, i8x8(tile + l.sc + (2 * g + 1) * kTileRows));
    } else if constexpr (is_k(F)) {
      s0 = _mm256_mul_ps(f16x8(tile + l.d + k * kTileRows * 2), u8x8(tile + l.sc + g * kTileRows));
      m = _mm256_xor_ps(
          _mm256_mul_ps(f16x8(tile + l.m + k * kTileRows * 2), u8x8(tile + l.mn + g * kTileRows)),
          sign);
    } else {
      s0 = f16x8(tile + l.d + g * kTileRows * 2);
      if constexpr (has_min(F)) m = f16x8(tile + l.m + g * kTileRows * 2);
    }
    for (int64_t i = i0; i < i1; ++i) {
      const __m256i x =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.xq + i * a.cols + g * kGroup));
      __m256i p[kTileRows];
      for (int r = 0; r < kTileRows; ++r) p[r] = dot(w[r], x);
      __m256i low, high;
      gather_rows(p, low, high);
      const __m256 xs = _mm256_set1_ps(a.xs[i * l.groups + g]);
      const int32_t* xsum = a.xsum + i * 2 * l.groups + 2 * g;
      __m256& c = acc[i - i0];
      if constexpr (F == format::q6_k) {
        c = step(c, s0, xs, _mm256_sub_epi32(low, _mm256_set1_epi32(offset_of(F) * xsum[0])));
        c = step(c, s1, xs, _mm256_sub_epi32(high, _mm256_set1_epi32(offset_of(F) * xsum[1])));
      } else if constexpr (!has_min(F)) {
        const __m256i isum = _mm256_add_epi32(low, high);
        c = step(c, s0, xs,
                 _mm256_sub_epi32(isum, _mm256_set1_epi32(offset_of(F) * (xsum[0] + xsum[1]))));
      } else {
        c = step(c, s0, xs, _mm256_add_epi32(low, high));
        c = step(c, m, xs, _mm256_set1_epi32(xsum[0] + xsum[1]));
      }
    }
  }
  const int64_t r0 = t * kTileRows;
  const int64_t valid = a.rows - r0 < kTileRows ? a.rows - r0 : kTileRows;
  for (int64_t i = i0; i < i1; ++i) {
    float* out = a.out + i * a.ldo + r0;
    if (valid == kTileRows) {
      _mm256_storeu_ps(out, acc[i - i0]);
    } else {
      float lanes[kTileRows];
      _mm256_storeu_ps(lanes, acc[i - i0]);
      std::memcpy(out, lanes, size_t(valid) * sizeof(float));
    }
  }
}

template <format F>
void gemm_of(const gemm_args& a, int64_t tile_begin, int64_t tile_end) {
  for (int64_t i0 = 0; i0 < a.m; i0 += kRowChunk) {
    const int64_t i1 = a.m - i0 < kRowChunk ? a.m : i0 + kRowChunk;
    for (int64_t t = tile_begin; t < tile_end; ++t) tile_rows<F>(a, t, i0, i1);
  }
}

void gemm(const gemm_args& a, int64_t tile_begin, int64_t tile_end) {
  switch (a.f) {
    case format::q4_0:
      return gemm_of<format::q4_0>(a, tile_begin, tile_end);
    case format::q4_1:
      return gemm_of<format::q4_1>(a, tile_begin, tile_end);
    case format::q5_0:
      return gemm_of<format::q5_0>(a, tile_begin, tile_end);
    case format::q5_1:
      return gemm_of<format::q5_1>(a, tile_begin, tile_end);
    case format::q4_k:
      return gemm_of<format::q4_k>(a, tile_begin, tile_end);
    case format::q5_k:
      return gemm_of<format::q5_k>(a, tile_begin, tile_end);
    case format::q6_k:
      return gemm_of<format::q6_k>(a, tile_begin, tile_end);
  }
}

}  // namespace

#if COROLLA_QUANT_VNNI
const kernels& vnni_kernels() {
#else
const kernels& avx2_kernels() {
#endif
  static const kernels k{gemm};
  return k;
}

}  // namespace corolla::quant
