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
  const size_t rows = keys_.size() / std::max<int64_t>(kv_dim_, 1);
  if (size_t(pos + n) > rows) {
    const int64_t grown = std::min(max_tokens_, std::max<int64_t>(pos + n, 2 * int64_t(rows)));
    keys_.resize(size_t(grown) * kv_dim_);
    values_.resize(size_t(grown) * kv_dim_);
  }
  return status();
}

}  // namespace corolla
