// linear: one weight matrix W [rows, cols] of the model and out = x W^T, on the native
// quantised kernels, the int8 kernels or the f32 reference, chosen when it is loaded.
//
// Block actors run the first two (DESIGN.md, Numerics). native keeps a matrix stored in
// Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K at those bits (kernels/matmul_quant.hpp) and
// converts any other type to int8 per output channel; int8 converts every matrix; the f32
// form keeps W dequantised so that the whole model can run on the reference kernels to
// compare with llama.cpp.
// Immutable after load; forward() may run from several threads, each with its own
// matmul_workspace. Moves only: a matrix is hundreds of MB.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/matmul_int8.hpp"
#include "kernels/matmul_quant.hpp"

namespace corolla {

enum class precision { native, int8, f32 };
const char* to_string(precision p);  // "native", "int8", "f32"
// The weights a user may choose (`--weights`, config key `weights`): native or int8.
std::optional<precision> weights_from_name(const std::string& name);

class linear {
 public:
  linear() = default;
  linear(linear&&) = default;
  linear& operator=(linear&&) = default;

  // Builds W from rows given by `source` (called in parallel): int8 unless `p` is f32.
  static linear load(precision p, int64_t rows, int64_t cols,
                     const int8_matrix::row_source& source);
  // W kept in its quantised blocks.
  static linear native(quant_matrix w);

  // out [m, rows] = x [m, cols] W^T.
  void forward(float* out, const float* x, int64_t m, matmul_workspace& ws) const;

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  size_t bytes() const;  // resident weight bytes
  bool is_native() const { return form_ == form::native; }

 private:
  enum class form { native, int8, f32 };
  form form_ = form::int8;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int8_matrix int8_;
  quant_matrix quant_;
  std::vector<float> f32_;  // [rows, cols], only for form::f32
};

}  // namespace corolla
