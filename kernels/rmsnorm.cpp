#include "kernels/rmsnorm.hpp"

#include <cmath>

#include "kernels/vec_math.hpp"

namespace corolla {

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

}  // namespace corolla
