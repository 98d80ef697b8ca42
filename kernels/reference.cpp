#include "kernels/reference.hpp"

#include <cmath>
#include <vector>

#include "kernels/vec_math.hpp"

namespace corolla::ref {

void matmul(float* out, const float* x, int64_t m, const float* w, int64_t rows, int64_t cols) {
  // The time of the f32 path goes here: W is read once per call, all m rows against it.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < m; ++i) out[i * rows + r] = dot(x + i * cols, w + r * cols, cols);
  }
}

void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim,
             float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * dim;
    float* oi = out + i * dim;
    // mean of squares, in double so the reference does not lose digits on long rows
    double ss = 0.0;
    for (int64_t j = 0; j < dim; ++j) ss += double(xi[j]) * xi[j];
    const float scale = float(1.0 / std::sqrt(ss / dim + eps));
    for (int64_t j = 0; j < dim; ++j) oi[j] = xi[j] * scale * weight[j];
  }
}

void softmax(float* x, int64_t n) {
  // find max value (for numerical stability)
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  // exp and sum
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  // normalize
  for (int64_t i = 0; i < n; ++i) x[i] = float(x[i] / sum);
}

void rope(float* x, int64_t n, int64_t pos0, int64_t n_heads, int64_t head_dim, int64_t rope_dim,
          float freq_base, const float* factors, bool neox) {
  const int64_t pairs = rope_dim / 2;
  for (int64_t t = 0; t < n; ++t) {
    const double pos = double(pos0 + t);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* xh = x + (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < pairs; ++i) {
        const double theta = pos * std::pow(double(freq_base), -2.0 * i / rope_dim) /
                             (factors ? double(factors[i]) : 1.0);
        const float c = float(std::cos(theta));
        const float s = float(std::sin(theta));
        float& a = neox ? xh[i] : xh[2 * i];
        float& b = neox ? xh[i + pairs] : xh[2 * i + 1];
        const float x0 = a;
        const float x1 = b;
        a = x0 * c - x1 * s;
        b = x0 * s + x1 * c;
      }
    }
  }
}

void attention(float* out, const float* q, const float* k, const float* v, int64_t n, int64_t pos0,
               const attention_params& a) {
  const int64_t head_dim = a.head_dim;
  const int64_t dim = a.n_heads * head_dim;
  const int64_t kv_dim = a.n_kv_heads * head_dim;
  const int64_t group = a.n_heads / a.n_kv_heads;
  std::vector<float> scores(pos0 + n);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t i = pos0 + t;
    // causal, and inside the window: positions first .. i
    const int64_t first = a.window > 0 && i - a.window + 1 > 0 ? i - a.window + 1 : 0;
    const int64_t len = i + 1 - first;
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const float* qh = q + t * dim + h * head_dim;
      const int64_t kv_offset = (h / group) * head_dim;
      for (int64_t p = 0; p < len; ++p) {
        float s = dot(qh, k + (first + p) * kv_dim + kv_offset, head_dim) * a.scale;
        if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
        scores[p] = s;
      }
      softmax(scores.data(), len);
      // weighted sum of the values
      float* oh = out + t * dim + h * head_dim;
      for (int64_t d = 0; d < head_dim; ++d) oh[d] = 0.0f;
      for (int64_t p = 0; p < len; ++p) {
        const float* vp = v + (first + p) * kv_dim + kv_offset;
        for (int64_t d = 0; d < head_dim; ++d) oh[d] += scores[p] * vp[d];
      }
    }
  }
}

void swiglu(float* out, const float* gate_up, int64_t n, int64_t hidden) {
  for (int64_t t = 0; t < n; ++t) {
    const float* g = gate_up + t * 2 * hidden;
    const float* u = g + hidden;
    // F.silu(w1(x)) * w3(x)
    for (int64_t j = 0; j < hidden; ++j) {
      out[t * hidden + j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
    }
  }
}

}  // namespace corolla::ref
