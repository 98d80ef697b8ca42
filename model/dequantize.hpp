// Row dequantisation: ggml block formats to f32.
//
// Block layouts follow ggml's ggml-common.h (little-endian, f16 scales):
//   Q8_0  32 values: d:f16, q:int8[32]                       x = d * q
//   Q4_0  32 values: d:f16, q:u8[16] (low nibbles first)     x = d * (q - 8)
//   Q4_K 256 values: d,dmin:f16, scales:u8[12] (8 6-bit scale/min pairs), q:u8[128]
//                    x = d * sc_j * q - dmin * m_j, per 32-value sub-block j
//   Q6_K 256 values: ql:u8[128], qh:u8[64], scales:int8[16], d:f16
//                    x = d * sc_j * (q - 32), q 6 bits, per 16-value sub-block j
// F32, F16 and BF16 are converted element by element.
// Pure functions, callable from any thread; they neither allocate nor throw.
#pragma once

#include <cstdint>

#include "model/gguf_file.hpp"
#include "model/status.hpp"

namespace corolla {

// Writes the n values encoded at `src` in type `type` to out[0, n).
// Errors: not_supported when `type` is not dequantizable; invalid_argument when n
// is not a multiple of the type's block size. `src` must hold the whole row.
status dequantize_row(uint32_t type, const void* src, float* out, int64_t n);

// Row `row` of `tensor` into out[0, tensor.row_length()).
// Errors as above, naming the tensor; out_of_range for a bad row index.
status dequantize_tensor_row(const gguf_tensor& tensor, int64_t row, float* out);

}  // namespace corolla
