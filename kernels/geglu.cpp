#include "kernels/geglu.hpp"

#include <cmath>
#include <vector>

#include "kernels/half.hpp"

namespace corolla {
namespace {

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefficient = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefficient * x * x)));
}

const std::vector<uint16_t>& gelu_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = f32_to_f16(gelu_tanh(f16_to_f32(uint16_t(i))));
    return t;
  }();
  return table;
}

// The table lookup, with ggml's cut-offs.
inline float gelu_from(const std::vector<uint16_t>& table, float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return f16_to_f32(table[f32_to_f16(x)]);
}

}  // namespace

float gelu(float x) {
  return gelu_from(gelu_table(), x);
}

void geglu(float* out, const float* gate_up, int64_t n, int64_t hidden) {
  const std::vector<uint16_t>& table = gelu_table();  // built before the threads start
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t t = 0; t < n; ++t) {
    const float* g = gate_up + t * 2 * hidden;
    const float* u = g + hidden;
    for (int64_t j = 0; j < hidden; ++j) out[t * hidden + j] = gelu_from(table, g[j]) * u[j];
  }
}

}  // namespace corolla
