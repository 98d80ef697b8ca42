// kv_cache: one block's keys and values for one session.
//
// Invariants:
//  1. The cache holds length() tokens, at positions 0 .. length() - 1, each a row of
//     kv_dim keys and kv_dim values (f32, after RoPE for keys).
//  2. A step of n tokens at `pos` is accepted when pos <= length() (pos == length()
//     appends; pos < length() first truncates to pos: replay, regeneration, edits) and
//     pos + n <= max_tokens(). pos > length() would leave a gap and is refused.
//  3. Storage grows by doubling up to max_tokens(), so a short session costs little.
// One owner (a block actor's session, or the single-process generator); not shared.
#pragma once

#include <cstdint>
#include <vector>

#include "model/status.hpp"

namespace corolla {

class kv_cache {
 public:
  kv_cache(int64_t kv_dim, int64_t max_tokens) : kv_dim_(kv_dim), max_tokens_(max_tokens) {}

  // Makes room for n tokens at pos, truncating first when pos < length().
  // Errors: out_of_range when pos > length() (a gap), pos < 0, n < 1, or
  // pos + n > max_tokens(), each naming the numbers.
  status prepare(int64_t pos, int64_t n);
  // Marks rows [0, end) as filled. REQUIRES: a successful prepare(pos, n), end == pos + n.
  void commit(int64_t end) { length_ = end; }
  void truncate(int64_t pos) { length_ = pos < length_ ? pos : length_; }

  float* keys(int64_t pos) { return keys_.data() + pos * kv_dim_; }
  float* values(int64_t pos) { return values_.data() + pos * kv_dim_; }
  const float* keys(int64_t pos) const { return keys_.data() + pos * kv_dim_; }
  const float* values(int64_t pos) const { return values_.data() + pos * kv_dim_; }

  int64_t length() const { return length_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_dim() const { return kv_dim_; }
  size_t bytes() const { return (keys_.capacity() + values_.capacity()) * sizeof(float); }

  // Bytes a full cache of max_tokens occupies (admission control budgets with it).
  static size_t bytes_for(int64_t kv_dim, int64_t max_tokens) {
    return 2 * size_t(kv_dim) * size_t(max_tokens) * sizeof(float);
  }

 private:
  int64_t kv_dim_;
  int64_t max_tokens_;
  int64_t length_ = 0;
  std::vector<float> keys_;    // [capacity, kv_dim]
  std::vector<float> values_;  // [capacity, kv_dim]
};

}  // namespace corolla
