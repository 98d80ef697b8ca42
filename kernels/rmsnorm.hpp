// rmsnorm: out = x / sqrt(mean(x^2) + eps) * weight, per row of x [rows, dim].
//
// The fast twin of ref::rmsnorm: f32 sums in 16 lanes instead of a double, rows in
// parallel (one OpenMP loop, used when rows > 1). out may be x. Any thread.
#pragma once

#include <cstdint>

namespace corolla {

void rmsnorm(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, float eps);

}  // namespace corolla
