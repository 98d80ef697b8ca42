#include "model/linear.hpp"

#include "kernels/reference.hpp"

namespace corolla {

const char* to_string(precision p) {
  return p == precision::int8 ? "int8" : "f32";
}

linear linear::load(precision p, int64_t rows, int64_t cols,
                    const int8_matrix::row_source& source) {
  linear l;
  l.precision_ = p;
  l.rows_ = rows;
  l.cols_ = cols;
  if (p == precision::int8) {
    l.int8_ = int8_matrix::quantize(rows, cols, source);
  } else {
    l.f32_.resize(size_t(rows) * cols);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) source(r, &l.f32_[size_t(r) * cols]);
  }
  return l;
}

void linear::forward(float* out, const float* x, int64_t m, matmul_workspace& ws) const {
  if (precision_ == precision::int8) {
    matmul_int8(out, x, m, int8_, ws);
  } else {
    ref::matmul(out, x, m, f32_.data(), rows_, cols_);
  }
}

size_t linear::bytes() const {
  return precision_ == precision::int8 ? int8_.bytes() : f32_.size() * sizeof(float);
}

}  // namespace corolla
