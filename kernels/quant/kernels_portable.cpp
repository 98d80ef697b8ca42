// The portable path, and the definition the vector paths follow operation for operation
// (quant_layout.hpp): one row, one group at a time, in plain C++ at the build's baseline.
#include "kernels/half.hpp"
#include "kernels/quant/quant_layout.hpp"

namespace corolla::quant {
namespace {

float f16_at(const uint8_t* p) {
  return f16_to_f32(uint16_t(p[0] | (p[1] << 8)));
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
    for (int j = 0; j < kGroup; ++j) q[j] = value_at(l, tile, g, r, j);
    int32_t isum[2] = {0, 0};
    for (int j = 0; j < kGroup; ++j) isum[j / 16] += q[j] * int32_t(xq[g * kGroup + j]);
    const uint8_t* rec = group_at(l, tile, g);
    const uint8_t* header = super_at(l, tile, g / (kSuper / kGroup));
    if constexpr (F == format::q6_k) {
      const float d = f16_at(header + l.super_d + 2 * r);
      for (int h = 0; h < 2; ++h) {
        const float s = d * float(int8_t(rec[l.sc + h * kTileRows + r]));
        const int32_t v = isum[h] - offset_of(F) * xsum[2 * g + h];
        acc = acc + (s * xs[g]) * float(v);
      }
    } else if constexpr (!has_min(F)) {
      const float s = f16_at(rec + l.d + 2 * r);
      const int32_t v = isum[0] + isum[1] - offset_of(F) * (xsum[2 * g] + xsum[2 * g + 1]);
      acc = acc + (s * xs[g]) * float(v);
    } else {
      float s, m;
      if constexpr (is_k(F)) {
        s = f16_at(header + l.super_d + 2 * r) * float(rec[l.sc + r]);
        m = -(f16_at(header + l.super_m + 2 * r) * float(rec[l.mn + r]));
      } else {
        s = f16_at(rec + l.d + 2 * r);
        m = f16_at(rec + l.m + 2 * r);
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
  with_format(a.f, [&](auto f) { gemm_of<decltype(f)::value>(a, tile_begin, tile_end); });
}

}  // namespace

const kernels& portable_kernels() {
  static const kernels k{gemm};
  return k;
}

}  // namespace corolla::quant
