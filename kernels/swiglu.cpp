#include "kernels/swiglu.hpp"

#include "kernels/vec_math.hpp"

namespace corolla {

void swiglu(float* out, const float* gate_up, int64_t n, int64_t hidden) {
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t t = 0; t < n; ++t) {
    const float* g = gate_up + t * 2 * hidden;
    const float* u = g + hidden;
    float* o = out + t * hidden;
    for (int64_t j = 0; j < hidden; ++j) o[j] = g[j] / (1.0f + exp_approx(-g[j])) * u[j];
  }
}

}  // namespace corolla
