#include "actors/membership.hpp"

#include <algorithm>

#include "messages/protocol.hpp"

namespace corolla {

status membership::accepts(uint32_t protocol, const std::string& model_id) const {
  if (protocol != protocol_version) {
    return status::not_supported("the peer speaks protocol " + std::to_string(protocol) +
                                 ", this node " + std::to_string(protocol_version));
  }
  if (model_id != model_id_) {
    return status::not_supported("the peer serves model " + model_id + ", this node " + model_id_);
  }
  return status();
}

namespace {

// A record no honest server sends: a peer's lie or a mangled message, never held. The
// bounds are far outside what a server can do (a step through a span in under 100 ns).
status check_plausible(const server_record& r) {
  constexpr double kMaxThroughput = 1e7;  // steps per second
  constexpr double kMaxMs = 1e7;
  auto bad = [&](const std::string& what) {
    return status::corruption("record of server " + r.name + ": " + what + " is impossible");
  };
  if (!(r.throughput >= 0 && r.throughput <= kMaxThroughput)) {
    return bad("throughput " + std::to_string(r.throughput));
  }
  if (!(r.compute_ms_per_block >= 0 && r.compute_ms_per_block <= kMaxMs)) {
    return bad("compute_ms_per_block " + std::to_string(r.compute_ms_per_block));
  }
  if (!(r.rtt_ms >= 0 && r.rtt_ms <= kMaxMs)) return bad("rtt_ms " + std::to_string(r.rtt_ms));
  if (r.start_block < 0 || r.end_block <= r.start_block) {
    return bad("span [" + std::to_string(r.start_block) + ", " + std::to_string(r.end_block) + ")");
  }
  const bool no_move = r.next_start == -1 && r.next_end == -1;
  if (!no_move && (r.next_start < 0 || r.next_end <= r.next_start)) {
    return bad("next span [" + std::to_string(r.next_start) + ", " + std::to_string(r.next_end) +
               ")");
  }
  if (r.sessions < 0 || r.kv_rows < 0 || r.cache_bytes_free < 0 || r.block_restarts < 0) {
    return bad("a negative count");
  }
  return status();
}

}  // namespace

result<membership::merged> membership::merge(const server_record& record, time_point now) {
  COROLLA_RETURN_IF_ERROR(accepts(record.protocol_version, record.model_id));
  COROLLA_RETURN_IF_ERROR(check_plausible(record));
  auto buried = tombstones_.find(record.server_id);
  if (buried != tombstones_.end()) {
    if (record.version <= buried->second.version) return merged::stale;
    tombstones_.erase(buried);
  }
  auto it = records_.find(record.server_id);
  if (it != records_.end() && it->second.version >= record.version) return merged::stale;
  const merged outcome = it == records_.end() ? merged::added : merged::updated;
  if (it != records_.end()) sums_.toggle(record.server_id, it->second.version);
  sums_.toggle(record.server_id, record.version);
  records_[record.server_id] = record;
  refreshed_[record.server_id] = now;
  return outcome;
}

void membership::drop(uint64_t server_id, time_point now) {
  auto it = records_.find(server_id);
  if (it == records_.end()) return;
  tombstones_[server_id] = tombstone{it->second.version, now};
  sums_.toggle(server_id, it->second.version);
  records_.erase(it);
  refreshed_.erase(server_id);
}

bool membership::kill(const gossip_entry& notice, time_point now) {
  const std::optional<gossip_entry> held = entry(notice.server_id);
  if (!held || held->dead || !supersedes(notice, *held)) return false;
  drop(notice.server_id, now);
  return true;
}

std::optional<gossip_entry> membership::entry(uint64_t server_id) const {
  if (auto it = records_.find(server_id); it != records_.end()) {
    return gossip_entry{server_id, it->second.version, false};
  }
  if (auto it = tombstones_.find(server_id); it != tombstones_.end()) {
    return gossip_entry{server_id, it->second.version, true};
  }
  return std::nullopt;
}

std::vector<gossip_entry> membership::entries(const std::vector<int>& buckets) const {
  std::vector<bool> wanted(size_t(sums_.buckets()), buckets.empty());
  for (int b : buckets) {
    if (b >= 0 && b < sums_.buckets()) wanted[size_t(b)] = true;
  }
  std::vector<gossip_entry> out;
  for (const auto& [id, r] : records_) {
    if (wanted[size_t(sums_.bucket_of(id))]) out.push_back(gossip_entry{id, r.version, false});
  }
  for (const auto& [id, t] : tombstones_) {
    if (wanted[size_t(sums_.bucket_of(id))]) out.push_back(gossip_entry{id, t.version, true});
  }
  return out;
}

std::vector<uint64_t> membership::expire(time_point now) {
  std::vector<uint64_t> dropped;
  if (ttl_.count() == 0) return dropped;
  for (auto it = tombstones_.begin(); it != tombstones_.end();) {
    it = now - it->second.dropped > ttl_ ? tombstones_.erase(it) : std::next(it);
  }
  for (const auto& [id, at] : refreshed_) {
    if (now - at > ttl_) dropped.push_back(id);
  }
  for (uint64_t id : dropped) drop(id, now);
  return dropped;
}

const server_record* membership::find(uint64_t server_id) const {
  auto it = records_.find(server_id);
  return it == records_.end() ? nullptr : &it->second;
}

double median_ms_per_block(const std::map<uint64_t, server_record>& records) {
  std::vector<double> ms;
  for (const auto& [id, r] : records) {
    if (r.compute_ms_per_block > 0) ms.push_back(r.compute_ms_per_block);
  }
  if (ms.empty()) return 0;
  auto mid = ms.begin() + ptrdiff_t(ms.size() / 2);
  std::nth_element(ms.begin(), mid, ms.end());
  return *mid;
}

server_record checked_record(const server_record& r, double median_ms_per_block,
                             const server_observation* observed) {
  server_record out = r;
  const double blocks = double(r.end_block - r.start_block);
  double ms = std::max(r.compute_ms_per_block, median_ms_per_block / plausible_speedup);
  if (observed && observed->steps >= observed_min_steps &&
      observed->ms_per_block * blocks > observed_slowdown * ms * blocks + observed_slack_ms) {
    ms = observed->ms_per_block;
  }
  if (ms > out.compute_ms_per_block) {
    out.compute_ms_per_block = ms;
    if (blocks > 0) out.throughput = std::min(out.throughput, 1000.0 / (ms * blocks));
  }
  return out;
}

std::vector<int64_t> block_coverage(const std::vector<server_record>& records, int64_t n_blocks) {
  std::vector<int64_t> coverage(size_t(std::max<int64_t>(n_blocks, 0)), 0);
  for (const server_record& r : records) {
    if (r.state != uint8_t(serving_state::online)) continue;
    for (int64_t b = std::max<int64_t>(r.start_block, 0); b < std::min(r.end_block, n_blocks);
         ++b) {
      ++coverage[size_t(b)];
    }
  }
  return coverage;
}

std::vector<swarm_span> balancing_spans(const std::vector<server_record>& records) {
  std::vector<swarm_span> out;
  for (const server_record& r : records) {
    const auto state = serving_state(r.state);
    if (state == serving_state::online || state == serving_state::joining) {
      out.push_back(swarm_span{r.server_id, r.start_block, r.end_block, r.throughput, r.movable});
    } else if (state == serving_state::draining && r.next_start >= 0) {
      out.push_back(swarm_span{r.server_id, r.next_start, r.next_end, r.throughput, r.movable});
    }
  }
  return out;
}

route_candidate route_candidate_of(const server_record& r) {
  return route_candidate{r.server_id, r.start_block, r.end_block, r.rtt_ms, r.compute_ms_per_block};
}

}  // namespace corolla
