// kv_rows: the formats a KV cache stores its key and value rows in, shared by the cache
// (model/kv_cache.hpp), the attention kernels that read it and anything that moves rows.
//
// A row is one position's kv_dim keys (or values), in one of:
//  - f32: kv_dim floats;
//  - f16: kv_dim IEEE binary16 halves, rounded to nearest even (llama.cpp's default);
//  - q8_0: llama.cpp's q8_0 per 32 values — a scale d (f16 of amax / 127) and 32 int8 q,
//    value = d * q — laid out as the row's scales first (uint16, padded to 4 bytes), then
//    its kv_dim int8 values (padded to 4), so one head's values are contiguous.
// Invariants:
//  1. kv_row_bytes is a multiple of 4: rows stacked one after another stay float-aligned.
//  2. Decoding is exact: an f16 widens to its f32 value, and d * q (11 by 8 significant
//     bits) is exact in f32, so every kernel path reads the same numbers from a row.
// Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace corolla {

enum class kv_type { f32, f16, q8_0 };
const char* to_string(kv_type t);  // "f32", "f16", "q8_0"
std::optional<kv_type> kv_type_from_name(const std::string& name);

constexpr int64_t kKvQ8Block = 32;  // values per q8_0 scale

// Bytes of one row of kv_dim values.
size_t kv_row_bytes(int64_t kv_dim, kv_type t);
// Byte offset of a q8_0 row's int8 values (after its scales).
size_t kv_q8_values_offset(int64_t kv_dim);

// Stores kv_dim floats as one row of type t (kv_row_bytes(kv_dim, t) bytes at row).
void kv_encode_row(kv_type t, const float* x, int64_t kv_dim, void* row);
// Values [first, first + n) of a row of kv_dim values, as f32. REQUIRES: first + n <= kv_dim.
void kv_decode_row(kv_type t, const void* row, int64_t kv_dim, int64_t first, int64_t n,
                   float* out);

// A cache's rows from position 0, as the attention kernels read them.
struct kv_view {
  kv_type type = kv_type::f32;
  const void* keys = nullptr;    // [positions, kv_row_bytes]
  const void* values = nullptr;  // [positions, kv_row_bytes]
};

}  // namespace corolla
