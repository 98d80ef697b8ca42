#include "actors/gossip_policy.hpp"

#include <algorithm>
#include <cmath>

namespace corolla {

std::chrono::milliseconds refresh_interval(size_t n_servers, const gossip_settings& s) {
  const double per_refresh = s.record_bytes + 2.0 * s.rumor_rounds * gossip_entry_bytes;
  const double ms = 1000.0 * double(n_servers) * per_refresh / std::max(s.refresh_budget, 1.0);
  return std::max(s.period, std::chrono::milliseconds(int64_t(std::ceil(ms))));
}

std::chrono::milliseconds record_ttl(size_t n_servers, const gossip_settings& s) {
  return std::max(s.min_ttl, 4 * refresh_interval(n_servers, s));
}

bool supersedes(const gossip_entry& e, const gossip_entry& held) {
  if (e.dead && !held.dead) return e.version >= held.version;
  return e.version > held.version;
}

void gossip_rumors::heard(const gossip_entry& e) {
  auto it = hot_.find(e.server_id);
  if (it != hot_.end() && !supersedes(e, it->second.entry)) return;
  hot_[e.server_id] = rumor{e, rounds_};
}

std::vector<gossip_entry> gossip_rumors::hot() const {
  std::vector<gossip_entry> out;
  out.reserve(hot_.size());
  for (const auto& [id, r] : hot_) out.push_back(r.entry);
  return out;
}

void gossip_rumors::round_done() {
  for (auto it = hot_.begin(); it != hot_.end();) {
    it = --it->second.rounds_left <= 0 ? hot_.erase(it) : std::next(it);
  }
}

namespace {

// splitmix64's finaliser: ids are random already, versions are small counters.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

int bucket_sums::bucket_of(uint64_t server_id) const {
  return int(mix(server_id) % buckets_);
}

void bucket_sums::toggle(uint64_t server_id, uint64_t version) {
  const size_t b = size_t(bucket_of(server_id));
  sums_[b] ^= mix(server_id);
  sums_[buckets_ + b] ^= mix(server_id ^ mix(version));
}

std::vector<int> bucket_sums::differing(const std::vector<uint64_t>& theirs, int most,
                                        std::mt19937_64& rng) const {
  std::vector<int> out;
  const size_t n = buckets_;
  const bool comparable = theirs.size() == sums_.size();
  const size_t from = size_t(random_below(rng, n));
  for (size_t half : {size_t(0), n}) {
    for (size_t i = 0; i < n && int(out.size()) < most; ++i) {
      const size_t b = (from + i) % n;
      const bool differs = !comparable || theirs[half + b] != sums_[half + b];
      if (differs && std::find(out.begin(), out.end(), int(b)) == out.end()) out.push_back(int(b));
    }
  }
  return out;
}

std::vector<size_t> pick_distinct(size_t n, size_t k, std::mt19937_64& rng) {
  std::vector<size_t> out;
  k = std::min(k, n);
  if (2 * k >= n) {
    // Many of few: a partial shuffle.
    std::vector<size_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = i;
    for (size_t i = 0; i < k; ++i) {
      std::swap(all[i], all[i + size_t(random_below(rng, n - i))]);
      out.push_back(all[i]);
    }
    return out;
  }
  while (out.size() < k) {
    const size_t i = size_t(random_below(rng, n));
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  }
  return out;
}

}  // namespace corolla
