#include "actors/failover_policy.hpp"

#include <algorithm>

namespace corolla {
namespace {

// base * 2^(k-1), at most `cap`, without overflowing for large k.
std::chrono::milliseconds doubled(std::chrono::milliseconds base, int k,
                                  std::chrono::milliseconds cap) {
  auto out = base;
  for (int i = 1; i < k && out < cap; ++i) out *= 2;
  return std::min(out, cap);
}

}  // namespace

failover_policy::time_point failover_policy::server_failed(uint64_t server_id, time_point now) {
  record& r = servers_[server_id];
  ++r.failures;
  r.banned_until =
      std::max(r.banned_until, now + doubled(settings_.ban_base, r.failures, settings_.ban_max));
  return r.banned_until;
}

void failover_policy::server_lied(uint64_t server_id, time_point now) {
  record& r = servers_[server_id];
  r.banned_until = std::max(r.banned_until, now + settings_.liar_ban);
}

void failover_policy::server_succeeded(uint64_t server_id) {
  auto it = servers_.find(server_id);
  if (it != servers_.end()) it->second.failures = 0;
}

bool failover_policy::banned(uint64_t server_id, time_point now) const {
  auto it = servers_.find(server_id);
  return it != servers_.end() && now < it->second.banned_until;
}

std::vector<uint64_t> failover_policy::banned_servers(time_point now) const {
  std::vector<uint64_t> out;
  for (const auto& [id, r] : servers_) {
    if (now < r.banned_until) out.push_back(id);
  }
  return out;
}

int failover_policy::failures(uint64_t server_id) const {
  auto it = servers_.find(server_id);
  return it == servers_.end() ? 0 : it->second.failures;
}

std::optional<std::chrono::milliseconds> failover_policy::next_attempt() {
  if (attempts_made_ >= settings_.attempts) return std::nullopt;
  const int k = attempts_made_++;
  if (k == 0) return std::chrono::milliseconds(0);
  const auto wait = doubled(settings_.backoff_base, k, settings_.backoff_max);
  std::uniform_real_distribution<double> spread(1.0 - settings_.jitter, 1.0 + settings_.jitter);
  return std::chrono::milliseconds(int64_t(double(wait.count()) * spread(rng_)));
}

}  // namespace corolla
