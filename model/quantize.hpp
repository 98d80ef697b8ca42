// Row quantisation: f32 to the types the GGUF writer emits (F32, F16, BF16, Q8_0, and
// Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K for the model maker's quantised models).
//
// Q8_0 follows ggml's quantize_row_q8_0_ref: per 32 values, d = max|x| / 127 stored
// as f16, q = round(x / d). The 4- to 6-bit types fit each block's scale (and minimum)
// from its extremes, without llama.cpp's search for better ones: good enough for random
// demo weights, and the bytes are ggml's layouts. Pure functions, callable from any thread.
#pragma once

#include <cstdint>

#include "model/ggml_type.hpp"
#include "model/status.hpp"

namespace corolla {

// True for the types quantize_row can produce.
bool is_writable_type(ggml_type type);

// Encodes in[0, n) as `type` into `out`, which must hold the row's bytes.
// Errors: not_supported for other types; invalid_argument when n is not a
// multiple of the block size.
status quantize_row(ggml_type type, const float* in, int64_t n, void* out);

}  // namespace corolla
