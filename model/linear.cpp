#include "model/linear.hpp"

#include "kernels/reference.hpp"

namespace corolla {

const char* to_string(precision p) {
  switch (p) {
    case precision::native:
      return "native";
    case precision::int8:
      return "int8";
    case precision::f32:
      break;
  }
  return "f32";
}

std::optional<precision> weights_from_name(const std::string& name) {
  if (name == "native") return precision::native;
  if (name == "int8") return precision::int8;
  return std::nullopt;
}

linear linear::load(precision p, int64_t rows, int64_t cols,
                    const int8_matrix::row_source& source) {
  linear l;
  l.form_ = p == precision::f32 ? form::f32 : form::int8;
  l.rows_ = rows;
  l.cols_ = cols;
  if (l.form_ == form::int8) {
    l.int8_ = int8_matrix::quantize(rows, cols, source);
  } else {
    l.f32_.resize(size_t(rows) * cols);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) source(r, &l.f32_[size_t(r) * cols]);
  }
  return l;
}

linear linear::native(quant_matrix w) {
  linear l;
  l.form_ = form::native;
  l.rows_ = w.rows();
  l.cols_ = w.cols();
  l.quant_ = std::move(w);
  return l;
}

void linear::forward(float* out, const float* x, int64_t m, matmul_workspace& ws) const {
  switch (form_) {
    case form::native:
      matmul_quant(out, x, m, quant_, ws);
      break;
    case form::int8:
      matmul_int8(out, x, m, int8_, ws);
      break;
    case form::f32:
      ref::matmul(out, x, m, f32_.data(), rows_, cols_);
      break;
  }
}

size_t linear::bytes() const {
  switch (form_) {
    case form::native:
      return quant_.bytes();
    case form::int8:
      return int8_.bytes();
    case form::f32:
      break;
  }
  return f32_.size() * sizeof(float);
}

}  // namespace corolla
