#include "model/kv_cache.hpp"

#include <algorithm>
#include <string>

#include "kernels/half.hpp"

namespace corolla {

const char* to_string(kv_type t) {
  return t == kv_type::f16 ? "f16" : "f32";
}

std::optional<kv_type> kv_type_from_name(const std::string& name) {
  if (name == "f32") return kv_type::f32;
  if (name == "f16") return kv_type::f16;
  return std::nullopt;
}

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
  const size_t stored = type_ == kv_type::f16 ? keys16_.size() : keys_.size();
  const size_t rows = stored / size_t(std::max<int64_t>(kv_dim_, 1));
  if (size_t(pos + n) > rows) {
    const int64_t grown = std::min(max_tokens_, std::max<int64_t>(pos + n, 2 * int64_t(rows)));
    if (type_ == kv_type::f16) {
      keys16_.resize(size_t(grown * kv_dim_));
      values16_.resize(size_t(grown * kv_dim_));
    } else {
      keys_.resize(size_t(grown * kv_dim_));
      values_.resize(size_t(grown * kv_dim_));
    }
  }
  return status();
}

void kv_cache::store(int64_t pos, const float* key, const float* value) {
  const size_t at = size_t(pos * kv_dim_);
  if (type_ == kv_type::f16) {
    for (int64_t i = 0; i < kv_dim_; ++i) {
      keys16_[at + size_t(i)] = f32_to_f16(key[i]);
      values16_[at + size_t(i)] = f32_to_f16(value[i]);
    }
  } else {
    std::copy_n(key, kv_dim_, &keys_[at]);
    std::copy_n(value, kv_dim_, &values_[at]);
  }
}

}  // namespace corolla
