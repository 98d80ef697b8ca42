#include "bench/balance_sim.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <queue>
#include <random>

#include "actors/balance_plan.hpp"
#include "actors/balancing.hpp"
#include "bench/exact_placement.hpp"

namespace corolla {
namespace {

struct server_spec {
  uint64_t id = 0;
  double throughput = 0;
  int64_t length = 0;  // blocks its memory holds
};

enum class event_kind { join, leave, check, plan_check, sample };

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

namespace {

// A full-balancing policy's swarm, its servers' move limits and its record.
struct balanced_swarm {
  std::vector<swarm_span> spans;
  std::map<uint64_t, move_limiter> limiters;
  std::map<uint64_t, std::vector<double>> moves_at;
  policy_result result;
  double hole_since = -1;  // a leave left blocks unserved at this time
  double hole_total = 0;
  uint64_t version = 0;  // bumped at every change of spans, for the plan's cache
  uint64_t planned = ~uint64_t(0);
  placement plan;

  bool has_hole(int64_t n_blocks) const { return unserved_blocks(spans, n_blocks) > 0; }
  // The plan of the spans as they are at `at`: every server of this swarm plans alike,
  // and plans around the servers out of moves then. Computed once per state.
  const placement& current_plan(double at, int64_t n_blocks) {
    for (swarm_span& sp : spans) {
      const bool can = limiters[sp.server_id].allows(at);
      if (can != sp.can_move) ++version;
      sp.can_move = can;
    }
    if (planned != version) {
      plan = plan_placement(spans, n_blocks);
      planned = version;
    }
    return plan;
  }
  // After any change at time `at`: a hole a leave opened may have closed.
  void changed(double at, int64_t n_blocks, double check_period_s) {
    ++version;
    if (hole_since >= 0 && !has_hole(n_blocks)) {
      const double checks = (at - hole_since) / check_period_s;
      ++result.holes;
      hole_total += checks;
      result.worst_hole_checks = std::max(result.worst_hole_checks, checks);
      hole_since = -1;
    }
  }
  void moved(uint64_t id, int64_t new_start, double at) {
    for (swarm_span& s : spans) {
      if (s.server_id != id) continue;
      s.end = new_start + (s.end - s.start);
      s.start = new_start;
    }
    moves_at[id].push_back(at);
    limiters[id].moved(at);
    ++result.moves;
  }
  void finish() {
    if (result.holes > 0) result.mean_hole_checks = hole_total / double(result.holes);
    // The most moves any server made within one hour, after the first hour.
    for (const auto& [id, times] : moves_at) {
      for (auto from = times.begin(); from != times.end(); ++from) {
        if (*from < 3600) continue;
        const auto within = std::upper_bound(from, times.end(), *from + 3600);
        result.max_moves_per_server_hour =
            std::max(result.max_moves_per_server_hour, double(within - from));
      }
    }
  }
};

}  // namespace

balance_sim_result run_balance_sim(const balance_sim_options& o, const balance_scenario* scenario) {
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
  std::map<uint64_t, bool> replaced;  // on leaving, by a server like it
  uint64_t next_id = 1;
  auto add_server = [&](double throughput, int64_t length, double at, double leave_at,
                        bool replace) {
    server_spec s;
    s.id = next_id++;
    s.throughput = throughput;
    s.length = length;
    specs[s.id] = s;
    replaced[s.id] = replace;
    schedule(at, event_kind::join, s.id);
    if (leave_at >= 0) schedule(leave_at, event_kind::leave, s.id);
  };
  // Unequal machines: throughputs over a decade, memory for 1/8 to 1/2 of the model.
  auto new_server = [&](double at) {
    const double throughput = std::pow(10.0, unit(rng));
    const int64_t length =
        std::max<int64_t>(1, int64_t(double(o.n_blocks) * (0.125 + 0.375 * unit(rng))));
    add_server(throughput, length, at, at + lifetime(rng), true);
  };
  auto replacement = [&](const server_spec& gone, double at) {
    if (scenario == nullptr) {
      new_server(at);
    } else {
      add_server(gone.throughput, gone.length, at, at + lifetime(rng), true);
    }
  };
  if (scenario == nullptr) {
    for (int i = 0; i < o.servers; ++i) new_server(unit(rng) * 3600);
  } else {
    for (const scenario_server& s : scenario->servers) {
      const bool churns = scenario->churn && s.leave_s < 0;
      add_server(s.throughput, s.blocks, s.join_s, churns ? s.join_s + lifetime(rng) : s.leave_s,
                 churns);
    }
  }
  const double end = o.hours * 3600;
  for (double t = 0; t <= end; t += o.sample_period_s) schedule(t, event_kind::sample, 0);

  // The policies' swarms: the same servers, where each policy put them.
  std::vector<swarm_span> none, new_only;
  balanced_swarm petals, plan;
  std::map<uint64_t, std::pair<double, double>> present;  // join, leave
  std::map<std::vector<uint64_t>, exact_result> optima;   // by the live servers' ids
  balance_sim_result r;
  std::mt19937_64 balance_rng(o.seed ^ 0x9e3779b97f4a7c15ULL);
  std::mt19937_64 plan_rng(o.seed ^ 0x5851f42d4c957f2dULL);
  std::uniform_real_distribution<double> plan_unit(0, 1);
  const double plan_period = o.check_period_s / double(std::max(1, o.plan_checks_per_period));
  while (!events.empty() && events.top().at <= end) {
    const event e = events.top();
    events.pop();
    switch (e.kind) {
      case event_kind::join: {
        const server_spec& s = specs[e.server];
        const int64_t last = o.n_blocks - s.length;
        const int64_t random_start = int64_t(unit(rng) * double(last + 1));
        none.push_back({s.id, random_start, random_start + s.length, s.throughput});
        const int64_t best = choose_best_start(block_throughputs(new_only, o.n_blocks), s.length);
        new_only.push_back({s.id, best, best + s.length, s.throughput});
        for (balanced_swarm* b : {&petals, &plan}) {
          const int64_t at = choose_best_start(block_throughputs(b->spans, o.n_blocks), s.length);
          b->spans.push_back({s.id, at, at + s.length, s.throughput});
          b->limiters.emplace(s.id, move_limiter(o.max_moves_per_hour, 3600));
          b->changed(e.at, o.n_blocks, o.check_period_s);
        }
        {
          // Plan mode: a joining server starts where the plan with it puts it.
          const int64_t planned = plan.current_plan(e.at, o.n_blocks).starts.back();
          swarm_span& mine = plan.spans.back();
          mine.start = planned;
          mine.end = mine.start + s.length;
          plan.changed(e.at, o.n_blocks, o.check_period_s);
        }
        present[s.id] = {e.at, end};
        // Checks are jittered (uniform over half to one and a half periods); plan mode's
        // have their own generator, so that petals mode's run is the same with or without.
        schedule(e.at + o.check_period_s * (0.5 + unit(rng)), event_kind::check, s.id);
        schedule(e.at + plan_period * (0.5 + plan_unit(plan_rng)), event_kind::plan_check, s.id);
        break;
      }
      case event_kind::leave:
        if (!present.count(e.server) || present[e.server].second < end) break;
        remove(none, e.server);
        remove(new_only, e.server);
        for (balanced_swarm* b : {&petals, &plan}) {
          const bool whole = !b->has_hole(o.n_blocks);
          remove(b->spans, e.server);
          b->changed(e.at, o.n_blocks, o.check_period_s);
          if (whole && b->has_hole(o.n_blocks)) b->hole_since = e.at;
        }
        present[e.server].second = e.at;
        if (replaced[e.server]) replacement(specs[e.server], e.at + rejoin(rng));
        break;
      case event_kind::check: {
        if (!present.count(e.server) || present[e.server].second < end) break;
        if (petals.limiters[e.server].allows(e.at)) {
          const rebalance d =
              should_move(petals.spans, e.server, o.n_blocks, o.balance_quality, balance_rng);
          if (d.move) {
            petals.moved(e.server, d.new_start, e.at);
            petals.changed(e.at, o.n_blocks, o.check_period_s);
          }
        }
        schedule(e.at + o.check_period_s * (0.5 + unit(rng)), event_kind::check, e.server);
        break;
      }
      case event_kind::plan_check: {
        if (!present.count(e.server) || present[e.server].second < end) break;
        if (plan.limiters[e.server].allows(e.at)) {
          const rebalance d = plan_move(plan.spans, plan.current_plan(e.at, o.n_blocks), e.server,
                                        o.n_blocks, o.plan_quality);
          if (d.move) {
            plan.moved(e.server, d.new_start, e.at);
            plan.changed(e.at, o.n_blocks, o.check_period_s);
          }
        }
        schedule(e.at + plan_period * (0.5 + plan_unit(plan_rng)), event_kind::plan_check,
                 e.server);
        break;
      }
      case event_kind::sample: {
        balance_sample s;
        s.hours = e.at / 3600;
        s.servers = int(petals.spans.size());
        s.none = swarm_throughput(none, o.n_blocks);
        s.new_only = swarm_throughput(new_only, o.n_blocks);
        s.petals = swarm_throughput(petals.spans, o.n_blocks);
        s.plan = swarm_throughput(plan.spans, o.n_blocks);
        // Every server's throughput spread evenly over the blocks: no placement does better.
        for (const swarm_span& sp : petals.spans) {
          s.upper_bound += sp.throughput * double(sp.end - sp.start) / double(o.n_blocks);
        }
        if (o.exact_time_limit_s > 0 && !petals.spans.empty()) {
          std::vector<uint64_t> ids;
          for (const swarm_span& sp : petals.spans) ids.push_back(sp.server_id);
          std::sort(ids.begin(), ids.end());
          auto known = optima.find(ids);
          if (known == optima.end()) {
            known =
                optima.emplace(ids, exact_placement(petals.spans, o.n_blocks, o.exact_time_limit_s))
                    .first;
          }
          // The solver's best, or a policy's placement when that is better still.
          s.optimum = std::max({known->second.throughput, s.petals, s.plan});
          s.optimum_proven = known->second.optimal;
        }
        r.samples.push_back(s);
        break;
      }
    }
  }
  petals.finish();
  plan.finish();
  r.petals = petals.result;
  r.plan = plan.result;
  // Averages over the part after the first hour, when the first servers have joined.
  int counted = 0, with_optimum = 0;
  for (const balance_sample& s : r.samples) {
    if (s.hours < 1 || s.upper_bound <= 0) continue;
    r.none_ratio += s.none / s.upper_bound;
    r.new_only_ratio += s.new_only / s.upper_bound;
    r.petals.of_bound += s.petals / s.upper_bound;
    r.plan.of_bound += s.plan / s.upper_bound;
    ++counted;
    if (s.optimum > 0) {
      r.petals.of_optimum += s.petals / s.optimum;
      r.plan.of_optimum += s.plan / s.optimum;
      r.optimum_of_bound += s.optimum / s.upper_bound;
      r.optimum_unproven += !s.optimum_proven;
      ++with_optimum;
    }
  }
  for (double* v : {&r.none_ratio, &r.new_only_ratio, &r.petals.of_bound, &r.plan.of_bound}) {
    if (counted > 0) *v /= counted;
  }
  for (double* v : {&r.petals.of_optimum, &r.plan.of_optimum, &r.optimum_of_bound}) {
    if (with_optimum > 0) *v /= with_optimum;
  }
  return r;
}

void print_balance_sim(const balance_sim_options& o, const balance_sim_result& r, std::ostream& out,
                       const balance_scenario* scenario) {
  char line[512];
  char swarm[160];
  if (scenario == nullptr) {
    std::snprintf(swarm, sizeof swarm,
                  "%d servers joining over the first hour, mean lifetime %.1f h (each leaver "
                  "replaced)",
                  o.servers, o.mean_lifetime_h);
  } else {
    std::snprintf(swarm, sizeof swarm, "the scenario's %zu servers%s", scenario->servers.size(),
                  scenario->churn ? ", churn on" : "");
  }
  std::snprintf(line, sizeof line,
                "seed %llu: %lld blocks, %s, checks every %.0f s (jittered), petals "
                "balance_quality %.2f, plan balance_quality %.2f, at most %d moves per server in "
                "any hour\n\n",
                static_cast<unsigned long long>(o.seed), static_cast<long long>(o.n_blocks), swarm,
                o.check_period_s, o.balance_quality, o.plan_quality, o.max_moves_per_hour);
  out << line
      << "| hours | servers | no balancing | new servers only | petals mode | plan mode | "
         "exact optimum | upper bound |\n"
      << "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  double next = 0;
  for (const balance_sample& s : r.samples) {
    if (s.hours + 1e-9 < next) continue;
    next += 0.5;
    std::snprintf(line, sizeof line, "| %.1f | %d | %.2f | %.2f | %.2f | %.2f | %.2f%s | %.2f |\n",
                  s.hours, s.servers, s.none, s.new_only, s.petals, s.plan, s.optimum,
                  s.optimum > 0 && !s.optimum_proven ? "*" : "", s.upper_bound);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "\nswarm throughput averaged after the first hour, as a share of the upper "
                "bound:\n  no balancing %.1f%%, new servers only %.1f%%\n",
                100 * r.none_ratio, 100 * r.new_only_ratio);
  out << line;
  const bool exact = o.exact_time_limit_s > 0;
  for (const auto& [name, p] : {std::pair{"petals", &r.petals}, std::pair{"plan", &r.plan}}) {
    char of_optimum[64] = "";
    if (exact)
      std::snprintf(of_optimum, sizeof of_optimum, ", %.1f%% of the exact optimum",
                    100 * p->of_optimum);
    std::snprintf(line, sizeof line,
                  "  %s mode: %.1f%% of the upper bound%s; %lld moves, at most %.0f by one server "
                  "in an hour (after the first); %lld leaves left blocks unserved, served again "
                  "within %.2f check periods at worst (%.2f mean)\n",
                  name, 100 * p->of_bound, of_optimum, static_cast<long long>(p->moves),
                  p->max_moves_per_server_hour, static_cast<long long>(p->holes),
                  p->worst_hole_checks, p->mean_hole_checks);
    out << line;
  }
  if (exact) {
    std::snprintf(line, sizeof line,
                  "  the exact optimum: %.1f%% of the upper bound (%d samples' optimum not proven "
                  "within %.1f s, marked *: the best placement found)\n",
                  100 * r.optimum_of_bound, r.optimum_unproven, o.exact_time_limit_s);
    out << line;
  }
}

void write_balance_csv(const balance_sim_result& r, std::ostream& out) {
  out << "hours,servers,none,new_only,petals,plan,optimum,optimum_proven,upper_bound\n";
  for (const balance_sample& s : r.samples) {
    out << s.hours << "," << s.servers << "," << s.none << "," << s.new_only << "," << s.petals
        << "," << s.plan << "," << s.optimum << "," << s.optimum_proven << "," << s.upper_bound
        << "\n";
  }
}

}  // namespace corolla
