// The tensor element types a GGUF file may declare, with their block geometry.
//
// ggml stores quantised tensors as runs of fixed-size blocks along a row (ne0):
// a block of `block_size` values takes `block_bytes` bytes. A row of n values is
// therefore n / block_size * block_bytes bytes, and n must be a multiple of
// block_size. Ids and sizes follow ggml's `enum ggml_type` and `ggml-common.h`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace corolla {

enum class ggml_type : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
};

struct ggml_type_info {
  ggml_type type;
  const char* name;     // as gguf-dump prints it, e.g. "Q8_0"
  int64_t block_size;   // values per block
  int64_t block_bytes;  // bytes per block
  bool dequantizable;   // Corolla can turn its rows into f32
};

// The geometry of type id `id`, or nullopt when ggml defines no such type or
// Corolla does not know its layout.
std::optional<ggml_type_info> ggml_type_info_of(uint32_t id);

// "Q4_K", or "type 17" for an id Corolla does not know.
std::string ggml_type_name(uint32_t id);

// The type named `name` (case-insensitive: "q8_0", "F32"), or nullopt.
std::optional<ggml_type> ggml_type_from_name(const std::string& name);

}  // namespace corolla
