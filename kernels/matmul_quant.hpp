// matmul_quant: out = x W^T with W kept at the 4- to 6-bit quantisation it was stored in
// (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), on the kernel path the CPU allows.
//
// W is repacked once from ggml's blocks into kernels/quant/quant_layout.hpp's tiles
// (the file's size, give or take the K types' unpacked 6-bit scales: 148 bytes per 256
// Q4_K values against the file's 144). Each call quantises the activations x [m, cols]
// to int8 per 32 values, the path computes the exact int32 sums per group and combines
// them in f32 in one fixed order, so every path gives the same bits (quant_layout.hpp),
// and nodes on different CPUs compute one function, as on the int8 path.
//
// A matrix may stack parts of different formats (a Q4_K_M model stores attn_v and some
// ffn_down in Q6_K beside Q4_K), each part a run of output rows.
// Paths: portable; avx2 (also on avx512bw CPUs: without VNNI, 512-bit registers buy
// nothing for byte products here); vnni, 256-bit vpdpbusd, on the onednn_vnni path.
// Threads: the calling thread's OpenMP team, as matmul_int8. A quant_matrix is
// immutable once built and may be shared by threads; a matmul_workspace is per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kernels/cpu_isa.hpp"
#include "kernels/matmul_int8.hpp"
#include "kernels/quant/quant_layout.hpp"

namespace corolla {

class quant_matrix {
 public:
  // The ggml blocks of one row (ggml_row_bytes of them). Called from several threads.
  using row_bytes = std::function<const uint8_t*(int64_t row)>;
  struct part {
    quant::format format;
    int64_t rows = 0;
    row_bytes source;
  };

  // Repacks the parts, stacked in order, each row `cols` values. REQUIRES: parts not
  // empty, every part's rows > 0, cols % row_multiple(format) == 0 for each,
  // int8_path_available(path).
  static quant_matrix pack(int64_t cols, const std::vector<part>& parts,
                           int8_path path = process_int8_path());

  quant_matrix();
  quant_matrix(quant_matrix&&) noexcept;
  quant_matrix& operator=(quant_matrix&&) noexcept;
  ~quant_matrix();

  int64_t rows() const;
  int64_t cols() const;
  int8_path path() const;
  size_t bytes() const;  // resident bytes of the tiles
  // Row `row` of W as f32, bit for bit ggml's dequantisation of the stored blocks.
  void dequantize_row(int64_t row, float* out) const;

  struct impl;

 private:
  friend void matmul_quant(float*, const float*, int64_t, const quant_matrix&, matmul_workspace&);
  std::unique_ptr<impl> impl_;
};

// out [m, w.rows()] = x [m, w.cols()] W^T. REQUIRES: m > 0; out and x do not overlap.
void matmul_quant(float* out, const float* x, int64_t m, const quant_matrix& w,
                  matmul_workspace& ws);

// Bytes quant_matrix takes for `rows` rows of `cols` values in format f.
size_t quant_matrix_bytes(quant::format f, int64_t rows, int64_t cols);

// "q4_0" ... "q6_k".
const char* to_string(quant::format f);

}  // namespace corolla
