// kv_cache: one block's keys and values for one session.
//
// Invariants:
//  1. The cache holds length() tokens, at positions 0 .. length() - 1, each a row of
//     kv_dim keys and kv_dim values (keys after RoPE), stored as type(): f32, f16
//     (llama.cpp's default cache type: half the bytes) or q8_0 (a little over a quarter),
//     in kernels/kv_rows.hpp's row formats: rounded once when stored, read back exactly,
//     so every kernel path sees the same numbers.
//  2. A step of n tokens at `pos` is accepted when pos <= length() (pos == length()
//     appends; pos < length() first truncates to pos: replay, regeneration, edits) and
//     pos + n <= max_tokens(). pos > length() would leave a gap and is refused.
//  3. Storage grows by doubling up to max_tokens(), so a short session costs little.
// One owner (a block actor's session, or the single-process generator); not shared.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kv_rows.hpp"
#include "model/status.hpp"

namespace corolla {

class kv_cache {
 public:
  kv_cache(int64_t kv_dim, int64_t max_tokens, kv_type type = kv_type::f32)
      : kv_dim_(kv_dim),
        max_tokens_(max_tokens),
        type_(type),
        row_bytes_(kv_row_bytes(kv_dim, type)) {}

  // Makes room for n tokens at pos, truncating first when pos < length().
  // Errors: out_of_range when pos > length() (a gap), pos < 0, n < 1, or
  // pos + n > max_tokens(), each naming the numbers.
  status prepare(int64_t pos, int64_t n);
  // Writes the key and value rows of position pos (kv_dim floats each).
  // REQUIRES: a successful prepare covering pos.
  void store(int64_t pos, const float* key, const float* value);
  // Marks rows [0, end) as filled. REQUIRES: a successful prepare(pos, n), end == pos + n.
  void commit(int64_t end) { length_ = end; }
  void truncate(int64_t pos) { length_ = pos < length_ ? pos : length_; }

  // Every row from position 0, as stored.
  kv_view view() const { return {type_, keys_.data(), values_.data()}; }
  // Rows [0, rows) as f32, exactly as stored, into [rows, kv_dim] each.
  void read_f32(int64_t rows, float* keys, float* values) const;

  // Rows [from, to) exactly as stored, keys then values ((to - from) * row_bytes() bytes
  // each), appended to `out`: a session handed to another server keeps its bits.
  // REQUIRES: 0 <= from <= to <= length().
  void append_rows(int64_t from, int64_t to, std::string& out) const;
  // Writes n rows at pos from `bytes` (as append_rows gives them) and marks [0, pos + n)
  // filled. Errors: prepare's, or invalid_argument when `size` is not 2 * n rows.
  status put_rows(int64_t pos, int64_t n, const char* bytes, size_t size);
  size_t row_bytes() const { return row_bytes_; }

  kv_type type() const { return type_; }
  int64_t length() const { return length_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_dim() const { return kv_dim_; }
  size_t bytes() const { return keys_.capacity() + values_.capacity(); }

  // Bytes a full cache of max_tokens occupies (admission control budgets with it).
  static size_t bytes_for(int64_t kv_dim, int64_t max_tokens, kv_type type = kv_type::f32) {
    return 2 * size_t(max_tokens) * kv_row_bytes(kv_dim, type);
  }

 private:
  int64_t kv_dim_;
  int64_t max_tokens_;
  kv_type type_;
  size_t row_bytes_;
  int64_t length_ = 0;
  // [capacity, row_bytes_]; operator new's alignment keeps f32 rows aligned (kv_rows.hpp 1).
  std::vector<unsigned char> keys_;
  std::vector<unsigned char> values_;
};

}  // namespace corolla
