#include "kernels/rope.hpp"

#include <cmath>

#include "kernels/assert.hpp"

namespace corolla {

rope_table make_rope_table(int64_t head_dim, int64_t rope_dim, float freq_base,
                           const std::vector<float>& factors, bool neox) {
  COROLLA_ASSERT(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= head_dim && head_dim <= 1024);
  COROLLA_ASSERT(factors.empty() || int64_t(factors.size()) == rope_dim / 2);
  rope_table table;
  table.head_dim = head_dim;
  table.rope_dim = rope_dim;
  table.neox = neox;
  table.inv_freq.resize(rope_dim / 2);
  for (int64_t i = 0; i < rope_dim / 2; ++i) {
    table.inv_freq[i] = std::pow(double(freq_base), -2.0 * i / rope_dim) /
                        (factors.empty() ? 1.0 : double(factors[size_t(i)]));
  }
  return table;
}

void rope(float* x, int64_t n, int64_t pos0, int64_t n_heads, const rope_table& table) {
  const int64_t pairs = table.rope_dim / 2;
  const int64_t head_dim = table.head_dim;
  // Element strides of a pair: (a, b) = (x[a_step i], x[a_step i + b_offset]).
  const int64_t a_step = table.neox ? 1 : 2;
  const int64_t b_offset = table.neox ? pairs : 1;
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t t = 0; t < n; ++t) {
    float cos_theta[512];
    float sin_theta[512];
    const double pos = double(pos0 + t);
    for (int64_t i = 0; i < pairs; ++i) {
      const double theta = pos * table.inv_freq[i];
      cos_theta[i] = float(std::cos(theta));
      sin_theta[i] = float(std::sin(theta));
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* xh = x + (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < pairs; ++i) {
        float* a = xh + a_step * i;
        const float x0 = a[0];
        const float x1 = a[b_offset];
        a[0] = x0 * cos_theta[i] - x1 * sin_theta[i];
        a[b_offset] = x0 * sin_theta[i] + x1 * cos_theta[i];
      }
    }
  }
}

}  // namespace corolla
