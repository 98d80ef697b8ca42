#include "http/swarm_view.hpp"

#include <algorithm>
#include <set>

#include "http/metrics.hpp"

namespace corolla {
namespace {

std::string address(const server_record& r) {
  return r.host.empty() ? std::string("in process") : r.host + ":" + std::to_string(r.port);
}

bool online(const server_record& r) {
  return serving_state(r.state) == serving_state::online;
}

}  // namespace

void swarm_view::event(int64_t now_ms, std::string kind, std::string text) {
  events_.push_front(swarm_event{now_ms, std::move(kind), std::move(text)});
  while (events_.size() > max_events_) events_.pop_back();
}

void swarm_view::observe(const std::vector<server_record>& records, int64_t now_ms) {
  std::vector<server_record> now;
  for (const server_record& r : records) {
    if (r.model_id.empty() || r.model_id == model_id_) now.push_back(r);
  }
  std::sort(now.begin(), now.end(), [](const server_record& a, const server_record& b) {
    return std::tie(a.start_block, a.end_block, a.name) <
           std::tie(b.start_block, b.end_block, b.name);
  });
  std::set<uint64_t> present;
  for (const server_record& r : now) {
    present.insert(r.server_id);
    auto it = seen_.find(r.server_id);
    if (it == seen_.end()) {
      event(now_ms, "join",
            r.name + " joined serving blocks " + span_text(r.start_block, r.end_block));
    } else if (it->second.start_block != r.start_block || it->second.end_block != r.end_block) {
      ++moves_;
      event(now_ms, "move",
            r.name + " moved from blocks " +
                span_text(it->second.start_block, it->second.end_block) + " to " +
                span_text(r.start_block, r.end_block));
    } else if (it->second.state != r.state) {
      event(now_ms, "state", r.name + " is " + to_string(serving_state(r.state)));
    }
    seen_[r.server_id] = r;
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (present.count(it->first) == 0) {
      event(now_ms, "leave",
            it->second.name + " left (blocks " +
                span_text(it->second.start_block, it->second.end_block) + ")");
      it = seen_.erase(it);
    } else {
      ++it;
    }
  }
  servers_ = std::move(now);
}

void swarm_view::recovery(const recovery_report& r, int64_t now_ms) {
  ++recoveries_;
  ++bans_;  // a session bans the server it fails over from
  std::string by;
  for (const std::string& s : r.replaced_by) by += (by.empty() ? "" : ", ") + s;
  event(now_ms, "recovery",
        "a session left " + r.failed_server + " (" + r.cause + ") for " + by + ": blocks " +
            span_text(r.start_block, r.end_block) + ", " +
            (r.handed_over_tokens > 0
                 ? std::to_string(r.handed_over_tokens) + " tokens' caches handed over"
                 : std::to_string(r.replayed_tokens) + " tokens replayed") +
            " in " + std::to_string(int64_t(r.reroute_ms + r.replay_ms)) + " ms");
}

std::vector<double> swarm_view::block_throughput() const {
  std::vector<double> blocks(size_t(std::max<int64_t>(n_blocks_, 0)), 0.0);
  for (const server_record& r : servers_) {
    if (!online(r)) continue;
    for (int64_t b = std::max<int64_t>(r.start_block, 0); b < std::min(r.end_block, n_blocks_);
         ++b) {
      blocks[size_t(b)] += r.throughput;
    }
  }
  return blocks;
}

bool swarm_view::covered() const {
  std::vector<bool> served(size_t(std::max<int64_t>(n_blocks_, 0)), false);
  for (const server_record& r : servers_) {
    if (!online(r)) continue;
    for (int64_t b = std::max<int64_t>(r.start_block, 0); b < std::min(r.end_block, n_blocks_);
         ++b) {
      served[size_t(b)] = true;
    }
  }
  return n_blocks_ > 0 && std::all_of(served.begin(), served.end(), [](bool s) { return s; });
}

nlohmann::json swarm_view::to_json() const {
  using json = nlohmann::json;
  json servers = json::array();
  for (const server_record& r : servers_) {
    servers.push_back({{"name", r.name},
                       {"id", std::to_string(r.server_id)},
                       {"address", address(r)},
                       {"start_block", r.start_block},
                       {"end_block", r.end_block},
                       {"state", to_string(serving_state(r.state))},
                       {"throughput", r.throughput},
                       {"compute_ms_per_block", r.compute_ms_per_block},
                       {"rtt_ms", r.rtt_ms},
                       {"sessions", r.sessions},
                       {"kv_rows", r.kv_rows},
                       {"cache_bytes_free", r.cache_bytes_free},
                       {"block_restarts", r.block_restarts},
                       {"next_start", r.next_start},
                       {"next_end", r.next_end}});
  }
  json events = json::array();
  for (const swarm_event& e : events_) {
    events.push_back({{"time_ms", e.time_ms}, {"kind", e.kind}, {"text", e.text}});
  }
  return json{{"model", model_id_}, {"n_blocks", n_blocks_},        {"covered", covered()},
              {"servers", servers}, {"blocks", block_throughput()}, {"events", events},
              {"moves", moves_},    {"recoveries", recoveries_}};
}

std::string swarm_view::prometheus() const {
  std::string out;
  auto gauge = [&](const char* name, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  auto labels = [](const server_record& r) {
    return "{server=\"" + prometheus_label(r.name) + "\",span=\"" +
           prometheus_label(span_text(r.start_block, r.end_block)) + "\"}";
  };
  gauge("corolla_server_sessions", "Sessions open on each server (as last announced).");
  for (const server_record& r : servers_) {
    out += "corolla_server_sessions" + labels(r) + " " + std::to_string(r.sessions) + "\n";
  }
  gauge("corolla_server_kv_rows", "Tokens held in each server's session caches.");
  for (const server_record& r : servers_) {
    out += "corolla_server_kv_rows" + labels(r) + " " + std::to_string(r.kv_rows) + "\n";
  }
  gauge("corolla_server_throughput", "Each server's announced decode steps per second.");
  for (const server_record& r : servers_) {
    out += "corolla_server_throughput" + labels(r) + " " + std::to_string(r.throughput) + "\n";
  }
  std::set<std::string> nodes;
  for (const server_record& r : servers_) nodes.insert(address(r));
  gauge("corolla_swarm_servers", "Servers of this model in the routing table.");
  out += "corolla_swarm_servers " + std::to_string(servers_.size()) + "\n";
  gauge("corolla_peers_connected", "Distinct nodes (addresses) serving this model.");
  out += "corolla_peers_connected " + std::to_string(nodes.size()) + "\n";
  gauge("corolla_swarm_covered", "1 when the online servers cover every block.");
  out += std::string("corolla_swarm_covered ") + (covered() ? "1" : "0") + "\n";
  out +=
      "# HELP corolla_balancer_moves_total Span changes of servers seen in the table.\n"
      "# TYPE corolla_balancer_moves_total counter\n"
      "corolla_balancer_moves_total " +
      std::to_string(moves_) + "\n";
  out +=
      "# HELP corolla_bans_total Servers banned by the gateway's sessions after a failure.\n"
      "# TYPE corolla_bans_total counter\n"
      "corolla_bans_total " +
      std::to_string(bans_) + "\n";
  return out;
}

}  // namespace corolla
