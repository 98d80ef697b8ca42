// kv_cache: one block's keys and values for one session.
//
// Invariants:
//  1. The cache holds length() tokens, at positions 0 .. length() - 1, each a row of
//     kv_dim keys and kv_dim values (keys after RoPE), stored as type(): f32, or f16
//     (llama.cpp's default cache type: half the bytes; rows are rounded to nearest even
//     when stored and read back exactly, so every kernel path sees the same numbers).
//  2. A step of n tokens at `pos` is accepted when pos <= length() (pos == length()
//     appends; pos < length() first truncates to pos: replay, regeneration, edits) and
//     pos + n <= max_tokens(). pos > length() would leave a gap and is refused.
//  3. Storage grows by doubling up to max_tokens(), so a short session costs little.
// One owner (a block actor's session, or the single-process generator); not shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/status.hpp"

namespace corolla {

enum class kv_type { f32, f16 };
const char* to_string(kv_type t);  // "f32", "f16"
std::optional<kv_type> kv_type_from_name(const std::string& name);

class kv_cache {
 public:
  kv_cache(int64_t kv_dim, int64_t max_tokens, kv_type type = kv_type::f32)
      : kv_dim_(kv_dim), max_tokens_(max_tokens), type_(type) {}

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

  // Every row from position 0, in the stored type. REQUIRES: type() is that type.
  const float* keys_f32() const { return keys_.data(); }
  const float* values_f32() const { return values_.data(); }
  const uint16_t* keys_f16() const { return keys16_.data(); }
  const uint16_t* values_f16() const { return values16_.data(); }

  kv_type type() const { return type_; }
  int64_t length() const { return length_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_dim() const { return kv_dim_; }
  size_t bytes() const {
    return (keys_.capacity() + values_.capacity()) * sizeof(float) +
           (keys16_.capacity() + values16_.capacity()) * sizeof(uint16_t);
  }

  // Bytes a full cache of max_tokens occupies (admission control budgets with it).
  static size_t bytes_for(int64_t kv_dim, int64_t max_tokens, kv_type type = kv_type::f32) {
    return 2 * size_t(kv_dim) * size_t(max_tokens) * (type == kv_type::f16 ? 2 : 4);
  }

 private:
  int64_t kv_dim_;
  int64_t max_tokens_;
  kv_type type_;
  int64_t length_ = 0;
  std::vector<float> keys_;  // [capacity, kv_dim], f32 caches
  std::vector<float> values_;
  std::vector<uint16_t> keys16_;  // [capacity, kv_dim], f16 caches
  std::vector<uint16_t> values16_;
};

}  // namespace corolla
