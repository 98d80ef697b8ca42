#include "http/session_pool.hpp"

#include <algorithm>

namespace corolla {
namespace {

size_t shared_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

std::optional<session_pool::lease> session_pool::acquire(const std::vector<int32_t>& tokens) {
  if (active_ >= max_active_) return std::nullopt;
  ++active_;
  size_t best = idle_.size();
  size_t best_shared = min_shared_;
  for (size_t i = 0; i < idle_.size(); ++i) {
    const size_t shared = shared_prefix(idle_[i].context, tokens);
    if (shared > best_shared) {
      best = i;
      best_shared = shared;
    }
  }
  if (best == idle_.size()) return lease{next_id_++, true, 0};
  const lease out{idle_[best].id, false, best_shared};
  idle_.erase(idle_.begin() + std::ptrdiff_t(best));
  return out;
}

std::vector<uint64_t> session_pool::release(uint64_t id, std::vector<int32_t> context, bool keep) {
  if (active_ > 0) --active_;
  std::vector<uint64_t> closed;
  if (!keep || max_idle_ == 0) {
    closed.push_back(id);
    return closed;
  }
  idle_.push_back(kept{id, ++clock_, std::move(context)});
  while (idle_.size() > max_idle_) {
    if (auto evicted = evict_idle()) closed.push_back(*evicted);
  }
  return closed;
}

std::optional<uint64_t> session_pool::evict_idle() {
  if (idle_.empty()) return std::nullopt;
  auto oldest = std::min_element(idle_.begin(), idle_.end(), [](const kept& a, const kept& b) {
    return a.last_used < b.last_used;
  });
  const uint64_t id = oldest->id;
  idle_.erase(oldest);
  return id;
}

}  // namespace corolla
