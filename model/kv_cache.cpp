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

void kv_cache::append_rows(int64_t from, int64_t to, std::string& out) const {
  const size_t begin = size_t(from) * row_bytes_;
  const size_t end = size_t(to) * row_bytes_;
  out.append(reinterpret_cast<const char*>(keys_.data()) + begin, end - begin);
  out.append(reinterpret_cast<const char*>(values_.data()) + begin, end - begin);
}

status kv_cache::put_rows(int64_t pos, int64_t n, const char* bytes, size_t size) {
  if (size != 2 * size_t(std::max<int64_t>(n, 0)) * row_bytes_) {
    return status::invalid_argument(std::to_string(size) + " bytes for " + std::to_string(n) +
                                    " cache rows of " + std::to_string(row_bytes_) + " bytes");
  }
  COROLLA_RETURN_IF_ERROR(prepare(pos, n));
  const size_t half = size / 2;
  std::copy(bytes, bytes + half, keys_.begin() + ptrdiff_t(size_t(pos) * row_bytes_));
  std::copy(bytes + half, bytes + size, values_.begin() + ptrdiff_t(size_t(pos) * row_bytes_));
  commit(pos + n);
  return status();
}

}  // namespace corolla
