// The avx2 and vnni paths, one source built twice (kernels/CMakeLists.txt): with
// COROLLA_QUANT_VNNI = 0 for AVX2 + F16C, where u8 x s8 products go through maddubs and
// madd, and with COROLLA_QUANT_VNNI = 1 for AVX-512 VNNI on 256-bit registers
// (vpdpbusd). Both compute quant_layout.hpp's definition: a group's 8 interleaved rows
// are unpacked once into 8 registers (one per 4-value chunk, a row per 32-bit lane),
// multiplied by each activation row's chunks broadcast to every lane, which leaves the 8
// rows' exact int32 sums in one register, and combined into one f32 lane per row.
#include <immintrin.h>

#include <cstring>

#include "kernels/quant/quant_layout.hpp"

namespace corolla::quant {
namespace {

// Activation rows that share one unpacking of a tile's weights: their accumulators and
// quantised groups stay in L1 while the tile's groups go by.
constexpr int64_t kRowChunk = 32;

// How far ahead of the group being computed its successors are prefetched.
constexpr int64_t kPrefetchBytes = 4096;

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Chunk k (values 4k .. 4k + 3) of group g for the tile's 8 rows, one row per 32-bit lane.
template <format F>
inline void unpack(const uint8_t* rec, const tile_layout& l, __m256i w[8]) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const uint8_t* qs = rec;
  for (int c = 0; c < 4; ++c) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + c * 32));
    w[c] = _mm256_and_si256(v, low4);
    w[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
  }
  constexpr int planes = bits_of(F) - 4;
  for (int p = 0; p < planes; ++p) {
    const __m256i plane = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec + l.qh + p * 32));
    const __m256i bit = _mm256_set1_epi8(char(0x10 << p));
    // Bit k of each byte to bit 4 + p: the bits a 16-bit shift carries across a byte
    // boundary land below bit 4 + p, and the mask drops them.
    for (int k = 0; k < 8; ++k) {
      const int shift = 4 + p - k;
      const __m256i moved = shift > 0   ? _mm256_slli_epi16(plane, shift)
                            : shift < 0 ? _mm256_srli_epi16(plane, -shift)
                                        : plane;
      w[k] = _mm256_or_si256(w[k], _mm256_and_si256(moved, bit));
    }
  }
}

inline __m256i broadcast(const int8_t* x, int k) {
  return _mm256_set1_epi32(int32_t(load_u32(reinterpret_cast<const uint8_t*>(x) + 4 * k)));
}

// The 8 rows' exact sums over chunks [first, first + count) of activations x.
// Without VNNI, maddubs's int16 pairs of Bits-bit weights (at most 2 * (2^Bits - 1) * 127)
// are added in int16 for as many chunks as can not overflow (4 bits: 8, 5 bits: 4,
// 6 bits: 2) before madd widens them to int32.
template <int Bits>
inline __m256i chunk_sums(const __m256i w[8], const int8_t* x, int first, int count) {
#if COROLLA_QUANT_VNNI
  // Two chains of dpbusd, so that their latencies overlap.
  __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
  for (int k = first; k < first + count; k += 2) {
    even = _mm256_dpbusd_epi32(even, w[k], broadcast(x, k));
    odd = _mm256_dpbusd_epi32(odd, w[k + 1], broadcast(x, k + 1));
  }
  return _mm256_add_epi32(even, odd);
#else
  constexpr int per_madd = Bits == 4 ? 8 : Bits == 5 ? 4 : 2;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  for (int k0 = first; k0 < first + count; k0 += per_madd) {
    __m256i pairs = _mm256_maddubs_epi16(w[k0], broadcast(x, k0));
    for (int k = k0 + 1; k < k0 + per_madd && k < first + count; ++k) {
      pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(w[k], broadcast(x, k)));
    }
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  }
  return acc;
#endif
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
    const uint8_t* rec = group_at(l, tile, g);
    const uint8_t* header = super_at(l, tile, g / (kSuper / kGroup));
    // Decode reads each weight once: ask for the stream ahead of the hardware prefetcher.
    _mm_prefetch(reinterpret_cast<const char*>(rec + kPrefetchBytes), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(rec + kPrefetchBytes + 64), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(rec + kPrefetchBytes + 128), _MM_HINT_T0);
    __m256i w[8];
    unpack<F>(rec, l, w);
    __m256 s0, s1, m;
    if constexpr (F == format::q6_k) {
      const __m256 d = f16x8(header + l.super_d);
      s0 = _mm256_mul_ps(d, i8x8(rec + l.sc));
      s1 = _mm256_mul_ps(d, i8x8(rec + l.sc + kTileRows));
    } else if constexpr (is_k(F)) {
      s0 = _mm256_mul_ps(f16x8(header + l.super_d), u8x8(rec + l.sc));
      m = _mm256_xor_ps(_mm256_mul_ps(f16x8(header + l.super_m), u8x8(rec + l.mn)), sign);
    } else {
      s0 = f16x8(rec + l.d);
      if constexpr (has_min(F)) m = f16x8(rec + l.m);
    }
    for (int64_t i = i0; i < i1; ++i) {
      const int8_t* x = a.xq + i * a.cols + g * kGroup;
      const __m256 xs = _mm256_set1_ps(a.xs[i * l.groups + g]);
      const int32_t* xsum = a.xsum + i * 2 * l.groups + 2 * g;
      __m256& c = acc[i - i0];
      if constexpr (F == format::q6_k) {
        const __m256i low = chunk_sums<bits_of(F)>(w, x, 0, 4);   // values 0-15
        const __m256i high = chunk_sums<bits_of(F)>(w, x, 4, 4);  // values 16-31
        c = step(c, s0, xs, _mm256_sub_epi32(low, _mm256_set1_epi32(offset_of(F) * xsum[0])));
        c = step(c, s1, xs, _mm256_sub_epi32(high, _mm256_set1_epi32(offset_of(F) * xsum[1])));
      } else if constexpr (!has_min(F)) {
        const __m256i isum = chunk_sums<bits_of(F)>(w, x, 0, 8);
        c = step(c, s0, xs,
                 _mm256_sub_epi32(isum, _mm256_set1_epi32(offset_of(F) * (xsum[0] + xsum[1]))));
      } else {
        c = step(c, s0, xs, chunk_sums<bits_of(F)>(w, x, 0, 8));
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
  with_format(a.f, [&](auto f) { gemm_of<decltype(f)::value>(a, tile_begin, tile_end); });
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
