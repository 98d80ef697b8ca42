// The portable path: plain C++ at the build's baseline ISA, correct on any x86-64. The
// compiler vectorises the 64-byte inner loops with whatever the baseline allows; the
// sums are exact integers whatever it chooses.
#include <cmath>

#include "kernels/int8/packed_int8.hpp"

namespace corolla::packed {
namespace {

float quantize(const float* x, int64_t cols, int64_t kp, int8_t* q, uint8_t* a) {
  const float scale = quantize_row(q, x, cols);
  for (int64_t c = cols; c < kp; ++c) q[c] = 0;
  if (a) {
    for (int64_t c = 0; c < kp; ++c) a[c] = uint8_t(q[c] < 0 ? -q[c] : q[c]);
  }
  return scale;
}

void gemm(const gemm_args& g, int64_t block_begin, int64_t block_end) {
  const int64_t chunks = g.kp / kColChunk;
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int8_t* wb = g.w + b * chunks * kRowBlock * kColChunk;
    const int64_t row0 = b * kRowBlock;
    const int64_t live = g.rows - row0 < kRowBlock ? g.rows - row0 : kRowBlock;
    for (int64_t i = 0; i < g.m; ++i) {
      const int8_t* xi = g.xq + i * g.kp;
      int32_t acc[kRowBlock] = {};
      for (int64_t c = 0; c < chunks; ++c) {
        const int8_t* xc = xi + c * kColChunk;
        const int8_t* wc = wb + c * kRowBlock * kColChunk;
        for (int64_t r = 0; r < kRowBlock; ++r) {
          int32_t sum = 0;
          for (int64_t k = 0; k < kColChunk; ++k) sum += int32_t(xc[k]) * wc[r * kColChunk + k];
          acc[r] += sum;
        }
      }
      float* oi = g.out + i * g.rows + row0;
      for (int64_t r = 0; r < live; ++r) {
        oi[r] = float(acc[r]) * g.x_scale[i] * g.w_scale[row0 + r];
      }
    }
  }
}

}  // namespace

float quantize_row(int8_t* q, const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f;
  const float inverse = amax > 0.0f ? 1.0f / scale : 0.0f;
  for (int64_t i = 0; i < n; ++i) q[i] = int8_t(std::nearbyint(x[i] * inverse));
  return scale;
}

void pack(int8_t* out, const int8_t* w, int64_t rows, int64_t cols) {
  const int64_t kp = padded_cols(cols);
  const int64_t rp = padded_rows(rows);
  const int64_t chunks = kp / kColChunk;
  for (int64_t r = 0; r < rp; ++r) {
    for (int64_t c = 0; c < kp; ++c) {
      const int64_t at = ((r / kRowBlock) * chunks + c / kColChunk) * kRowBlock * kColChunk +
                         (r % kRowBlock) * kColChunk + c % kColChunk;
      out[at] = r < rows && c < cols ? w[r * cols + c] : 0;
    }
  }
}

const kernels& portable_kernels() {
  static const kernels k{quantize, gemm};
  return k;
}

}  // namespace corolla::packed
