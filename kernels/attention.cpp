#include "kernels/attention.hpp"

#include <omp.h>

#include <cmath>

#include "kernels/assert.hpp"
#include "kernels/softmax.hpp"
#include "kernels/vec_math.hpp"

namespace corolla {

void attention(float* out, const float* q, const float* k, const float* v, int64_t n, int64_t pos0,
               int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, attention_workspace& ws) {
  COROLLA_ASSERT(n > 0 && pos0 >= 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0);
  const int64_t dim = n_heads * head_dim;
  const int64_t kv_dim = n_kv_heads * head_dim;
  const int64_t group = n_heads / n_kv_heads;
  const int64_t context = pos0 + n;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  const size_t needed = size_t(omp_get_max_threads()) * context;
  if (ws.scores.size() < needed) ws.scores.resize(needed);

  const int64_t pairs = n * n_heads;
#pragma omp parallel for schedule(static, 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const int64_t t = pair / n_heads;
    const int64_t h = pair % n_heads;
    const int64_t len = pos0 + t + 1;
    float* scores = ws.scores.data() + size_t(omp_get_thread_num()) * context;
    const float* qh = q + t * dim + h * head_dim;
    const int64_t kv_offset = (h / group) * head_dim;
    for (int64_t p = 0; p < len; ++p) {
      scores[p] = dot(qh, k + p * kv_dim + kv_offset, head_dim) * scale;
    }
    softmax(scores, len);
    float* oh = out + t * dim + h * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) oh[d] = 0.0f;
    for (int64_t p = 0; p < len; ++p) {
      const float* vp = v + p * kv_dim + kv_offset;
      const float s = scores[p];
      for (int64_t d = 0; d < head_dim; ++d) oh[d] += s * vp[d];
    }
  }
}

}  // namespace corolla
