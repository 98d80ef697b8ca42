// linear: one weight matrix W [rows, cols] of the model and out = x W^T, on the int8
// kernel or the f32 reference, chosen when the matrix is loaded.
//
// The int8 form is what block actors run (DESIGN.md, Numerics: per-output-channel
// int8, converted at load whatever the GGUF held); the f32 form keeps W dequantised so
// that the whole model can run on the reference kernels to compare with llama.cpp.
// Immutable after load; forward() may run from several threads, each with its own
// matmul_workspace. Moves only: a matrix is hundreds of MB.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/matmul_int8.hpp"

namespace corolla {

enum class precision { int8, f32 };
const char* to_string(precision p);

class linear {
 public:
  linear() = default;
  linear(linear&&) = default;
  linear& operator=(linear&&) = default;

  // Builds W from rows given by `source` (called in parallel), in form `p`.
  static linear load(precision p, int64_t rows, int64_t cols,
                     const int8_matrix::row_source& source);

  // out [m, rows] = x [m, cols] W^T.
  void forward(float* out, const float* x, int64_t m, matmul_workspace& ws) const;

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  size_t bytes() const;  // resident weight bytes

 private:
  precision precision_ = precision::int8;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int8_matrix int8_;
  std::vector<float> f32_;  // [rows, cols], only for precision::f32
};

}  // namespace corolla
