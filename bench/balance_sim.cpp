#include "bench/balance_sim.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <queue>
#include <random>

#include "actors/balancing.hpp"

namespace corolla {
namespace {

struct server_spec {
  uint64_t id = 0;
  double throughput = 0;
  int64_t length = 0;  // blocks its memory holds
};

enum class event_kind { join, leave, check, sample };

struct event {
  double at = 0;  // seconds
  uint64_t order = 0;
  event_kind kind = event_kind::sample;
  uint64_t server = 0;
  bool operator>(const event& o) const { return at != o.at ? at > o.at : order > o.order; }
};

void remove(std::vector<swarm_span>& spans, uint64_t id) {
  spans.erase(std::remove_if(spans.begin(), spans.end(),
                             [&](const swarm_span& s) { return s.server_id == id; }),
              spans.end());
}

}  // namespace

balance_sim_result run_balance_sim(const balance_sim_options& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::exponential_distribution<double> lifetime(1.0 / (o.mean_lifetime_h * 3600));
  std::exponential_distribution<double> rejoin(1.0 / 300);  // a replacement within minutes
  std::priority_queue<event, std::vector<event>, std::greater<>> events;
  uint64_t order = 0;
  auto schedule = [&](double at, event_kind kind, uint64_t server) {
    events.push(event{at, order++, kind, server});
  };
  std::map<uint64_t, server_spec> specs;
  uint64_t next_id = 1;
  auto new_server = [&](double at) {
    server_spec s;
    s.id = next_id++;
    // Unequal machines: throughputs over a decade, memory for 1/8 to 1/2 of the model.
    s.throughput = std::pow(10.0, unit(rng));
    s.length = std::max<int64_t>(1, int64_t(double(o.n_blocks) * (0.125 + 0.375 * unit(rng))));
    specs[s.id] = s;
    schedule(at, event_kind::join, s.id);
    schedule(at + lifetime(rng), event_kind::leave, s.id);
  };
  for (int i = 0; i < o.servers; ++i) new_server(unit(rng) * 3600);
  const double end = o.hours * 3600;
  for (double t = 0; t <= end; t += o.sample_period_s) schedule(t, event_kind::sample, 0);

  // The three policies' swarms: the same servers, where each policy put them.
  std::vector<swarm_span> none, new_only, full;
  std::map<uint64_t, std::vector<double>> moves_at;  // full balancing's moves per server
  std::map<uint64_t, move_limiter> limiters;
  std::map<uint64_t, std::pair<double, double>> present;  // join, leave
  balance_sim_result r;
  std::mt19937_64 balance_rng(o.seed ^ 0x9e3779b97f4a7c15ULL);
  while (!events.empty() && events.top().at <= end) {
    const event e = events.top();
    events.pop();
    switch (e.kind) {
      case event_kind::join: {
        const server_spec& s = specs[e.server];
        const int64_t last = o.n_blocks - s.length;
        const int64_t random_start = int64_t(unit(rng) * double(last + 1));
        none.push_back({s.id, random_start, random_start + s.length, s.throughput});
        for (auto* spans : {&new_only, &full}) {
          const int64_t best = choose_best_start(block_throughputs(*spans, o.n_blocks), s.length);
          spans->push_back({s.id, best, best + s.length, s.throughput});
        }
        present[s.id] = {e.at, end};
        limiters.emplace(s.id, move_limiter(o.max_moves_per_hour, 3600));
        // Checks are jittered (uniform over half to one and a half periods).
        schedule(e.at + o.check_period_s * (0.5 + unit(rng)), event_kind::check, s.id);
        break;
      }
      case event_kind::leave:
        if (!present.count(e.server) || present[e.server].second < end) break;
        for (auto* spans : {&none, &new_only, &full}) remove(*spans, e.server);
        present[e.server].second = e.at;
        new_server(e.at + rejoin(rng));
        break;
      case event_kind::check: {
        if (!present.count(e.server) || present[e.server].second < end) break;
        if (!limiters[e.server].allows(e.at)) {
          schedule(e.at + o.check_period_s * (0.5 + unit(rng)), event_kind::check, e.server);
          break;
        }
        const rebalance decision =
            should_move(full, e.server, o.n_blocks, o.balance_quality, balance_rng);
        if (decision.move) {
          for (swarm_span& s : full) {
            if (s.server_id != e.server) continue;
            s.end = decision.new_start + (s.end - s.start);
            s.start = decision.new_start;
          }
          moves_at[e.server].push_back(e.at);
          limiters[e.server].moved(e.at);
          ++r.moves;
        }
        schedule(e.at + o.check_period_s * (0.5 + unit(rng)), event_kind::check, e.server);
        break;
      }
      case event_kind::sample: {
        balance_sample s;
        s.hours = e.at / 3600;
        s.servers = int(full.size());
        s.none = swarm_throughput(none, o.n_blocks);
        s.new_only = swarm_throughput(new_only, o.n_blocks);
        s.full = swarm_throughput(full, o.n_blocks);
        // Every server's throughput spread evenly over the blocks: no placement does better.
        for (const swarm_span& sp : full) {
          s.upper_bound += sp.throughput * double(sp.end - sp.start) / double(o.n_blocks);
        }
        r.samples.push_back(s);
        break;
      }
    }
  }
  // Averages over the part after the first hour, when the first servers have joined.
  int counted = 0;
  for (const balance_sample& s : r.samples) {
    if (s.hours < 1 || s.upper_bound <= 0) continue;
    r.none_ratio += s.none / s.upper_bound;
    r.new_only_ratio += s.new_only / s.upper_bound;
    r.full_ratio += s.full / s.upper_bound;
    ++counted;
  }
  if (counted > 0) {
    r.none_ratio /= counted;
    r.new_only_ratio /= counted;
    r.full_ratio /= counted;
  }
  // The most moves any server made within one hour, after the first hour.
  for (const auto& [id, times] : moves_at) {
    for (auto from = times.begin(); from != times.end(); ++from) {
      if (*from < 3600) continue;
      const auto within = std::upper_bound(from, times.end(), *from + 3600);
      r.max_moves_per_server_hour = std::max(r.max_moves_per_server_hour, double(within - from));
    }
  }
  return r;
}

void print_balance_sim(const balance_sim_options& o, const balance_sim_result& r,
                       std::ostream& out) {
  char line[400];
  std::snprintf(line, sizeof line,
                "seed %llu: %lld blocks, %d servers joining over the first hour, mean "
                "lifetime %.1f h (each leaver replaced), checks every %.0f s (jittered), "
                "balance_quality %.2f, at most %d moves per server in any hour\n\n",
                static_cast<unsigned long long>(o.seed), static_cast<long long>(o.n_blocks),
                o.servers, o.mean_lifetime_h, o.check_period_s, o.balance_quality,
                o.max_moves_per_hour);
  out << line
      << "| hours | servers | no balancing | new servers only | full balancing | upper bound |\n"
      << "| ---: | ---: | ---: | ---: | ---: | ---: |\n";
  double next = 0;
  for (const balance_sample& s : r.samples) {
    if (s.hours + 1e-9 < next) continue;
    next += 0.5;
    std::snprintf(line, sizeof line, "| %.1f | %d | %.2f | %.2f | %.2f | %.2f |\n", s.hours,
                  s.servers, s.none, s.new_only, s.full, s.upper_bound);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "\nswarm throughput as a share of the upper bound, averaged after the first "
                "hour:\n  no balancing %.1f%%, new servers only %.1f%%, full balancing %.1f%%\n"
                "rule 2 moves: %lld; the most any server moved within one hour (after the first): "
                "%.0f\n",
                100 * r.none_ratio, 100 * r.new_only_ratio, 100 * r.full_ratio,
                static_cast<long long>(r.moves), r.max_moves_per_server_hour);
  out << line;
}

void write_balance_csv(const balance_sim_result& r, std::ostream& out) {
  out << "hours,servers,none,new_only,full,upper_bound\n";
  for (const balance_sample& s : r.samples) {
    out << s.hours << "," << s.servers << "," << s.none << "," << s.new_only << "," << s.full << ","
        << s.upper_bound << "\n";
  }
}

}  // namespace corolla
