#include "model/kv_cache.hpp"

#include <algorithm>
#include <string>

namespace corolla {

status kv_cache::prepare(int64_t pos, int64_t n) {
  if (pos < 0 || n < 1) {
    return status::out_of_range("step of " + std::to_string(n) + " tokens at position " +
                                std::to_string(pos) + " is empty or negative");
  }
  if (pos > length_) {
    return status::out_of_range("step at position " + std::to_string(pos) +
                                " would leave a gap: the cache holds " + std::to_string(length_) +
                                " tokens");
  }
  if (pos + n > max_tokens_) {
    return status::out_of_range("step to position " + std::to_string(pos + n) +
                                " exceeds the cache's " + std::to_string(max_tokens_) + " tokens");
  }
  length_ = pos;
  const size_t rows = keys_.size() / std::max<size_t>(row_bytes_, 1);
  if (size_t(pos + n) > rows) {
    const int64_t grown = std::min(max_tokens_, std::max<int64_t>(pos + n, 2 * int64_t(rows)));
    keys_.resize(size_t(grown) * row_bytes_);
    values_.resize(size_t(grown) * row_bytes_);
  }
  return status();
}

void kv_cache::store(int64_t pos, const float* key, const float* value) {
  kv_encode_row(type_, key, kv_dim_, &keys_[size_t(pos) * row_bytes_]);
  kv_encode_row(type_, value, kv_dim_, &values_[size_t(pos) * row_bytes_]);
}

void kv_cache::read_f32(int64_t rows, float* keys, float* values) const {
  for (int64_t r = 0; r < rows; ++r) {
    kv_decode_row(type_, &keys_[size_t(r) * row_bytes_], kv_dim_, 0, kv_dim_, keys + r * kv_dim_);
    kv_decode_row(type_, &values_[size_t(r) * row_bytes_], kv_dim_, 0, kv_dim_,
                  values + r * kv_dim_);
  }
}

}  // namespace corolla
