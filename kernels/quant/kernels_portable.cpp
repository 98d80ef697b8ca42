// The portable path, and the definition the vector paths follow operation for operation
// (quant_layout.hpp): one row, one group at a time, in plain C++ at the build's baseline.
#include <cstring>

#include "kernels/half.hpp"
#include "kernels/quant/quant_layout.hpp"

namespace corolla::quant {
namespace {

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

float f16_at(const uint8_t* p) {
  return f16_to_f32(uint16_t(p[0] | (p[1] << 8)));
}

// The 32 values of row r, group g of a tile.
void unpack(const uint8_t* tile, const tile_layout& l, int64_t g, int r, int q[kGroup]) {
  const uint8_t* qs = tile + l.qs + (g * kTileRows + r) * 16;
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + 16] = qs[j] >> 4;
  }
  for (int p = 0; p < l.planes; ++p) {
    const uint32_t bits = load_u32(tile + l.qh + ((g * l.planes + p) * kTileRows + r) * 4);
    for (int j = 0; j < kGroup; ++j) q[j] |= int((bits >> j) & 1) << (4 + p);
  }
}

template <format F>
float row_dot(const gemm_args& a, const uint8_t* tile, int r, int64_t i) {
  const tile_layout& l = a.layout;
  const int8_t* xq = a.xq + i * a.cols;
  const float* xs = a.xs + i * l.groups;
  const int32_t* xsum = a.xsum + i * 2 * l.groups;
  float acc = 0.0f;
  int q[kGroup];
  for (int64_t g = 0; g < l.groups; ++g) {
    unpack(tile, l, g, r, q);
    int32_t isum[2] = {0, 0};
    for (int j = 0; j < kGroup; ++j) isum[j / 16] += q[j] * int32_t(xq[g * kGroup + j]);
    const int64_t k = g / (kSuper / kGroup);
    if constexpr (F == format::q6_k) {
      const float d = f16_at(tile + l.d + (k * kTileRows + r) * 2);
      for (int h = 0; h < 2; ++h) {
        const auto sc = int8_t(tile[l.sc + ((2 * g + h) * kTileRows + r)]);
        const float s = d * float(sc);
        const int32_t v = isum[h] - offset_of(F) * xsum[2 * g + h];
        acc = acc + (s * xs[g]) * float(v);
      }
    } else if constexpr (!has_min(F)) {
      const float s = f16_at(tile + l.d + (g * kTileRows + r) * 2);
      const int32_t v = isum[0] + isum[1] - offset_of(F) * (xsum[2 * g] + xsum[2 * g + 1]);
      acc = acc + (s * xs[g]) * float(v);
    } else {
      float s, m;
      if constexpr (is_k(F)) {
        s = f16_at(tile + l.d + (k * kTileRows + r) * 2) * float(tile[l.sc + g * kTileRows + r]);
        m = -(f16_at(tile + l.m + (k * kTileRows + r) * 2) * float(tile[l.mn + g * kTileRows + r]));
      } else {
        s = f16_at(tile + l.d + (g * kTileRows + r) * 2);
        m = f16_at(tile + l.m + (g * kTileRows + r) * 2);
      }
      acc = acc + (s * xs[g]) * float(isum[0] + isum[1]);
      acc = acc + (m * xs[g]) * float(xsum[2 * g] + xsum[2 * g + 1]);
    }
  }
  return acc;
}

template <format F>
void gemm_of(const gemm_args& a, int64_t tile_begin, int64_t tile_end) {
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const uint8_t* tile = a.w + t * a.layout.bytes;
    for (int r = 0; r < kTileRows && t * kTileRows + r < a.rows; ++r) {
      for (int64_t i = 0; i < a.m; ++i) {
        a.out[i * a.ldo + t * kTileRows + r] = row_dot<F>(a, tile, r, i);
      }
    }
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

const kernels& portable_kernels() {
  static const kernels k{gemm};
  return k;
}

}  // namespace corolla::quant
