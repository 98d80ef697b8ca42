// The f32 element kernels, compiled once per ISA (kernels/CMakeLists.txt defines
// COROLLA_F32_ISA as baseline, avx2 or avx512 and the matching -m flags); f32_ops.hpp
// says why the copies agree bit for bit.
//
// Attention is tiled the way flash attention is: a task is one KV head and a block of up
// to 16 new tokens (each with the query heads that read that KV head); it walks the
// cache in tiles of 16 positions, transposes the tile's keys once into scratch so that
// the 16 scores of a query are 16 independent lanes of multiply-adds (no horizontal
// sums), and keeps a running maximum, sum and output per query (online softmax), so
// nothing grows with the context but the positions it reads. A query's result depends
// only on its own sequence of tiles: not on the task split, the thread count or the ISA.
#include <omp.h>

#include <cmath>

#include "kernels/f32/f32_ops.hpp"
#include "kernels/half.hpp"
#include "kernels/vec_math.hpp"

#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define COROLLA_CAT2(a, b) a##b
#define COROLLA_CAT(a, b) COROLLA_CAT2(a, b)

namespace corolla::f32 {
namespace COROLLA_F32_ISA {
namespace {

constexpr int64_t kTokenBlock = kAttentionTokens;
constexpr int64_t kPosTile = kAttentionPositions;

void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim,
             float eps) {
#pragma omp parallel for schedule(static) if (rows > 1)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * dim;
    float* oi = out + i * dim;
    const float scale = 1.0f / std::sqrt(dot(xi, xi, dim) / float(dim) + eps);
    for (int64_t j = 0; j < dim; ++j) oi[j] = xi[j] * scale * weight[j];
  }
}

void softmax(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = exp_approx(x[i] - max);
    sum += x[i];
  }
  const float inverse = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inverse;
}

void swiglu(float* out, const float* gate_up, int64_t n, int64_t hidden) {
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t t = 0; t < n; ++t) {
    const float* g = gate_up + t * 2 * hidden;
    const float* u = g + hidden;
    float* o = out + t * hidden;
    for (int64_t j = 0; j < hidden; ++j) o[j] = g[j] / (1.0f + exp_approx(-g[j])) * u[j];
  }
}

// One query against positions [p0 + first, p0 + valid) of a tile whose keys are kt
// [head_dim, kPosTile] (first > 0 where a sliding window starts inside the tile):
// updates the query's running max m, sum l and output o [head_dim].
inline void attend_tile(const float* qh, const float* kt, const float* v, int64_t kv_dim,
                        int64_t head_dim, int64_t first, int64_t valid, float scale, float softcap,
                        float& m, float& l, float* o) {
  float s[kPosTile] = {};
  for (int64_t d = 0; d < head_dim; ++d) {
    const float qd = qh[d];
    const float* kd = kt + d * kPosTile;
    for (int64_t i = 0; i < kPosTile; ++i) s[i] = std::fma(qd, kd[i], s[i]);
  }
  for (int64_t i = first; i < valid; ++i) s[i] *= scale;
  if (softcap > 0) {
    for (int64_t i = first; i < valid; ++i) s[i] = softcap * std::tanh(s[i] / softcap);
  }
  float tile_max = m;
  for (int64_t i = first; i < valid; ++i) tile_max = s[i] > tile_max ? s[i] : tile_max;
  const float alpha = exp_approx(m - tile_max);  // rescales what came before
  m = tile_max;
  float sum = 0.0f;
  for (int64_t i = first; i < valid; ++i) {
    s[i] = exp_approx(s[i] - tile_max);
    sum += s[i];
  }
  l = l * alpha + sum;
  for (int64_t d = 0; d < head_dim; ++d) o[d] *= alpha;
  for (int64_t i = first; i < valid; ++i) {
    const float* vp = v + i * kv_dim;
    const float p = s[i];
    for (int64_t d = 0; d < head_dim; ++d) o[d] = std::fma(p, vp[d], o[d]);
  }
}

// n halves to floats, exactly (F16C where this copy is built for it).
inline void widen_f16(const uint16_t* h, float* out, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  }
#endif
  for (; i < n; ++i) out[i] = f16_to_f32(h[i]);
}

// Values [first, first + n) of a q8_0 row (kv_rows.hpp): each d * q is exact in f32, so
// the vector and scalar loops agree. values_at: kv_q8_values_offset of the row's kv_dim.
inline void widen_q8(const unsigned char* row, size_t values_at, int64_t first, int64_t n,
                     float* out) {
  const uint16_t* scales = reinterpret_cast<const uint16_t*>(row);
  const int8_t* q = reinterpret_cast<const int8_t*>(row + values_at) + first;
  int64_t i = 0;
  while (i < n) {
    const int64_t block = (first + i) / kKvQ8Block;
    const int64_t run_end =
        (block + 1) * kKvQ8Block - first < n ? (block + 1) * kKvQ8Block - first : n;
    const float d = f16_to_f32(scales[block]);
#if defined(__AVX2__)
    for (; i + 8 <= run_end; i += 8) {
      const __m256i q32 =
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
      _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(q32), _mm256_set1_ps(d)));
    }
#endif
    for (; i < run_end; ++i) out[i] = d * float(q[i]);
  }
}

// One head's slice of a stored row as f32 (not called for f32 caches, read in place).
inline void widen(kv_type type, const void* base, size_t row_bytes, int64_t position,
                  size_t q8_values_at, int64_t first, int64_t n, float* out) {
  const unsigned char* row = static_cast<const unsigned char*>(base) + size_t(position) * row_bytes;
  if (type == kv_type::f16) {
    widen_f16(reinterpret_cast<const uint16_t*>(row) + first, out, n);
  } else {
    widen_q8(row, q8_values_at, first, n, out);
  }
}

void attention(const attention_args& a) {
  const int64_t head_dim = a.head_dim;
  const int64_t group = a.n_heads / a.n_kv_heads;
  const int64_t dim = a.n_heads * head_dim;
  const int64_t kv_dim = a.n_kv_heads * head_dim;
  const int64_t token_blocks = (a.n + kTokenBlock - 1) / kTokenBlock;
  const int64_t tasks = token_blocks * a.n_kv_heads;
  const int64_t per_thread = attention_scratch_floats(a.n_heads, a.n_kv_heads, head_dim);
  const int64_t work = a.n * (a.pos0 + a.n) * dim;
  const bool in_place = a.cache.type == kv_type::f32;
  const size_t row_bytes = kv_row_bytes(kv_dim, a.cache.type);
  const size_t q8_values_at = kv_q8_values_offset(kv_dim);
  // Later token blocks see more of the cache: they go first, so the last tasks are short.
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && work > (int64_t(1) << 17))
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t tb = token_blocks - 1 - task / a.n_kv_heads;
    const int64_t kh = task % a.n_kv_heads;
    float* kt = a.scratch + omp_get_thread_num() * per_thread;
    float* rows16 = kt + head_dim * kPosTile;
    float* m = rows16 + head_dim * kPosTile;
    float* l = m + kTokenBlock * group;
    float* o = l + kTokenBlock * group;
    const int64_t t0 = tb * kTokenBlock;
    const int64_t t1 = t0 + kTokenBlock < a.n ? t0 + kTokenBlock : a.n;
    const int64_t rows = (t1 - t0) * group;
    for (int64_t j = 0; j < rows; ++j) {
      m[j] = -3.0e38f;
      l[j] = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) o[j * head_dim + d] = 0.0f;
    }
    const int64_t max_len = a.pos0 + t1;
    // The first position any of the block's tokens sees, rounded down to a whole tile.
    const auto first_seen = [&](int64_t t) {
      const int64_t i = a.pos0 + t;
      return a.window > 0 && i - a.window + 1 > 0 ? i - a.window + 1 : 0;
    };
    for (int64_t p0 = first_seen(t0) / kPosTile * kPosTile; p0 < max_len; p0 += kPosTile) {
      const int64_t pn = max_len - p0 < kPosTile ? max_len - p0 : kPosTile;
      // An f16 or q8_0 cache's tile is widened into rows of its own first (exactly), then
      // read as an f32 cache's with rows head_dim apart.
      const float* kp = rows16;
      const float* vp = rows16;
      int64_t stride = head_dim;
      if (in_place) {
        kp = static_cast<const float*>(a.cache.keys) + p0 * kv_dim + kh * head_dim;
        vp = static_cast<const float*>(a.cache.values) + p0 * kv_dim + kh * head_dim;
        stride = kv_dim;
      } else {
        for (int64_t i = 0; i < pn; ++i) {
          widen(a.cache.type, a.cache.keys, row_bytes, p0 + i, q8_values_at, kh * head_dim,
                head_dim, rows16 + i * head_dim);
        }
      }
      for (int64_t d = 0; d < head_dim; ++d) {
        for (int64_t i = 0; i < kPosTile; ++i) {
          kt[d * kPosTile + i] = i < pn ? kp[i * stride + d] : 0.0f;
        }
      }
      if (!in_place) {
        for (int64_t i = 0; i < pn; ++i) {
          widen(a.cache.type, a.cache.values, row_bytes, p0 + i, q8_values_at, kh * head_dim,
                head_dim, rows16 + i * head_dim);
        }
      }
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t len = a.pos0 + t + 1;
        if (len <= p0) continue;
        const int64_t valid = len - p0 < pn ? len - p0 : pn;
        const int64_t first = first_seen(t) > p0 ? first_seen(t) - p0 : 0;
        if (first >= valid) continue;
        for (int64_t g = 0; g < group; ++g) {
          const int64_t j = (t - t0) * group + g;
          const float* qh = a.q + t * dim + (kh * group + g) * head_dim;
          attend_tile(qh, kt, vp, stride, head_dim, first, valid, a.scale, a.softcap, m[j], l[j],
                      o + j * head_dim);
        }
      }
    }
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t g = 0; g < group; ++g) {
        const int64_t j = (t - t0) * group + g;
        const float inverse = 1.0f / l[j];
        float* oh = a.out + t * dim + (kh * group + g) * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) oh[d] = o[j * head_dim + d] * inverse;
      }
    }
  }
}

}  // namespace
}  // namespace COROLLA_F32_ISA

const ops& COROLLA_CAT(COROLLA_F32_ISA, _ops)() {
  static const ops table{COROLLA_F32_ISA::rmsnorm, COROLLA_F32_ISA::softmax,
                         COROLLA_F32_ISA::swiglu, COROLLA_F32_ISA::attention};
  return table;
}

}  // namespace corolla::f32
