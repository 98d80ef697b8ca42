// balancer: balance checks and moves of the node's server.
//
// Owns: the node's server (linked) and the span it serves; the generator of check
// jitter and of should_move's simulated order. Talks to: the routing table (records),
// its server (move, info, leave), the compute executor (loading a span).
//
//   idle ──check says move──▶ draining (move_atom polls sessions until none or grace)
//        ──▶ leaving (server ends) ──▶ loading ──▶ idle, serving the new span
//
// A drain (the node shutting down) stops checks; a move not yet past its grace period
// then stops where it is and the draining server is left for the node to retire. A
// server that does not answer a step of the move stays where it is, and checks go on.
#include "actors/balancer.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include <caf/actor_ostream.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/balance_plan.hpp"
#include "actors/balancing.hpp"
#include "actors/membership.hpp"

namespace corolla {

struct balancer_state {
  server_actor server;
  server_config server_cfg;  // the running server's, without its model (not kept alive)
  int64_t start = 0;         // its span
  int64_t end = 0;
  bool balancing = true;
  bool moving = false;
  int64_t next_start = 0;  // while moving
  std::chrono::steady_clock::time_point hand_over_at;
  move_limiter limiter;
  std::mt19937_64 rng;
  // When the scheduled check is due: a tick before it is one a hole's early check made
  // stale (max while a check waits for the table).
  std::chrono::steady_clock::time_point check_due;
  int64_t holes_at_check = 0;  // blocks nobody served at the last check
  bool confirming = false;     // the next check confirms a move the plan made wait its turn
  static inline const char* name = "balancer";
};

namespace {

using namespace std::chrono_literals;
using balancer_pointer = balancer_actor::stateful_pointer<balancer_state>;

constexpr auto ask_timeout = 10s;
constexpr auto session_poll = 50ms;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void schedule_check(balancer_pointer self, const balancer_config& cfg) {
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const auto wait = std::chrono::milliseconds(
      int64_t(double(cfg.settings.check_period.count()) * jitter(self->state.rng)));
  self->state.check_due = std::chrono::steady_clock::now() + wait;
  self->delayed_send(self, wait, tick_atom::value);
}

// Steps per second, for the log: "123.4".
std::string rate_text(double steps_per_s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", steps_per_s);
  return text;
}

const std::string& node_name(const balancer_pointer self) {
  return self->state.server_cfg.name;
}

// Loads [start, start + length) and starts a server for it, linked; false (and a line
// saying why) when the span could not be loaded.
bool serve(balancer_pointer self, const balancer_config& cfg, int64_t start,
           double compute_ms_per_block) {
  balancer_state& st = self->state;
  const int64_t length = st.end - st.start;
  auto loaded = load_span(*st.server_cfg.executor, st.server_cfg.weights, st.server_cfg.kv,
                          cfg.model_path, start, start + length);
  if (!loaded.ok()) {
    caf::aout(self) << node_name(self) << ": could not load blocks "
                    << span_text(start, start + length) << ": " << loaded.error().message()
                    << std::endl;
    return false;
  }
  st.server_cfg.server_id = random_id();
  // The record says from when this server may move again (plan mode plans around it).
  const double now = now_s();
  st.server_cfg.may_move_at =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(st.limiter.next_allowed(now) - now));
  server_config sc = st.server_cfg;
  sc.model = *loaded;
  sc.compute_ms_per_block = compute_ms_per_block;
  st.server = spawn_server(self->system(), std::move(sc));
  self->link_to(st.server);
  st.start = start;
  st.end = start + length;
  return true;
}

// A step of the move got no answer from the server (it is overloaded or stuck): the
// node stays where it is and checks again later.
void abandon_move(balancer_pointer self, const balancer_config& cfg, const caf::error& e) {
  caf::aout(self) << node_name(self) << ": the move stopped: its server did not answer ("
                  << self->system().render(e) << ")" << std::endl;
  self->state.moving = false;
  if (self->state.balancing) schedule_check(self, cfg);
}

// The grace period is over (or no session is left: their clients took them to other
// servers of the span, which took the caches over): the server leaves, ends, and the node
// serves the new span. Clients of sessions still open fail over and replay when it ends.
void finish_move(balancer_pointer self, const balancer_config& cfg, const server_record& last) {
  balancer_state& st = self->state;
  const int64_t from = st.start, to = st.next_start;
  const int64_t left = last.sessions;
  self->request(st.server, ask_timeout, leave_atom::value)
      .then(
          [self, cfg, from, to, left, last](const server_record&) {
            balancer_state& state = self->state;
            self->unlink_from(state.server);
            self->send_exit(state.server, caf::exit_reason::user_shutdown);
            state.server = nullptr;
            if (!serve(self, cfg, to, last.compute_ms_per_block) &&
                !serve(self, cfg, from, last.compute_ms_per_block)) {
              self->quit(make_error(errc::compute_failed,
                                    node_name(self) + " could not load a span to serve"));
              return;
            }
            caf::aout(self) << node_name(self) << ": now serving blocks "
                            << span_text(state.start, state.end) << " (" << left
                            << " sessions left to replay)" << std::endl;
            state.moving = false;
            if (state.balancing) schedule_check(self, cfg);
          },
          [self, cfg](const caf::error& e) { abandon_move(self, cfg, e); });
}

void poll_sessions(balancer_pointer self, const balancer_config& cfg) {
  self->request(self->state.server, ask_timeout, info_atom::value)
      .then(
          [self, cfg](const server_record& r) {
            balancer_state& st = self->state;
            if (!st.balancing) {
              st.moving = false;  // the node is shutting down: it retires this server
              return;
            }
            if (r.sessions > 0 && std::chrono::steady_clock::now() < st.hand_over_at) {
              self->delayed_send(self, session_poll, move_atom::value);
            } else {
              finish_move(self, cfg, r);
            }
          },
          [self, cfg](const caf::error& e) { abandon_move(self, cfg, e); });
}

void begin_move(balancer_pointer self, const balancer_config& cfg, const rebalance& r) {
  balancer_state& st = self->state;
  st.moving = true;
  st.limiter.moved(now_s());
  st.next_start = r.new_start;
  const int64_t next_end = r.new_start + (st.end - st.start);
  caf::aout(self) << node_name(self) << ": moving from blocks " << span_text(st.start, st.end)
                  << " to " << span_text(r.new_start, next_end) << " (swarm throughput "
                  << rate_text(r.swarm_now) << " -> " << rate_text(r.swarm_after)
                  << " steps/s expected)" << std::endl;
  self->request(st.server, ask_timeout, move_atom::value, r.new_start, next_end)
      .then(
          [self, cfg](const server_record&) {
            self->state.hand_over_at = std::chrono::steady_clock::now() + cfg.settings.grace;
            poll_sessions(self, cfg);
          },
          [self, cfg](const caf::error& e) { abandon_move(self, cfg, e); });
}

void check(balancer_pointer self, const balancer_config& cfg) {
  balancer_state& st = self->state;
  if (!st.balancing || st.moving) return;
  if (!st.limiter.allows(now_s())) {
    schedule_check(self, cfg);
    return;
  }
  st.check_due = std::chrono::steady_clock::time_point::max();
  self->request(st.server_cfg.routing_table, ask_timeout, list_atom::value)
      .then(
          [self, cfg](const std::vector<server_record>& records) {
            balancer_state& state = self->state;
            if (!state.balancing || state.moving) return;
            const std::vector<swarm_span> spans = balancing_spans(records);
            state.holes_at_check = unserved_blocks(spans, cfg.n_blocks);
            const uint64_t self_id = state.server_cfg.server_id;
            const bool confirming = std::exchange(state.confirming, false);
            if (!cfg.settings.plan_mode) {
              const rebalance r = should_move(spans, self_id, cfg.n_blocks,
                                              cfg.settings.balance_quality, state.rng);
              if (r.move) return begin_move(self, cfg, r);
              return schedule_check(self, cfg);
            }
            const placement plan = plan_placement(spans, cfg.n_blocks);
            const rebalance r =
                plan_move(spans, plan, self_id, cfg.n_blocks, cfg.settings.balance_quality);
            if (!r.move) return schedule_check(self, cfg);
            // The plan's movers go one after another, by server id, so that each sees the
            // moves before its own announced: replicas a gossip round apart (two
            // balancers woken by the same hole) would otherwise both fill one gap.
            int64_t before = 0;
            for (size_t i = 0; i < spans.size(); ++i) {
              before += spans[i].server_id < self_id && plan.starts[i] != spans[i].start;
            }
            if (confirming || before == 0 || cfg.settings.move_stagger.count() == 0) {
              return begin_move(self, cfg, r);
            }
            state.confirming = true;
            const auto wait = cfg.settings.move_stagger * before;
            state.check_due = std::chrono::steady_clock::now() + wait;
            self->delayed_send(self, wait, tick_atom::value);
          },
          [self, cfg](const caf::error&) { schedule_check(self, cfg); });
}

// Between checks: a block nobody serves makes the check due now.
void watch(balancer_pointer self, const balancer_config& cfg) {
  balancer_state& st = self->state;
  if (!st.balancing) return;
  self->delayed_send(self, cfg.settings.hole_watch, watch_atom::value);
  if (st.moving || st.check_due == std::chrono::steady_clock::time_point::max()) return;
  self->request(st.server_cfg.routing_table, ask_timeout, list_atom::value)
      .then(
          [self, cfg](const std::vector<server_record>& records) {
            // Only new holes: one the plan can not fill would otherwise replan every time.
            if (unserved_blocks(balancing_spans(records), cfg.n_blocks) >
                    self->state.holes_at_check &&
                self->state.check_due != std::chrono::steady_clock::time_point::max()) {
              check(self, cfg);
            }
          },
          [](const caf::error&) {});
}

balancer_actor::behavior_type balancer_behavior(balancer_pointer self, balancer_config cfg) {
  balancer_state& st = self->state;
  st.server = cfg.running;
  st.server_cfg = cfg.server;
  st.start = cfg.server.model->first_block();
  st.end = st.start + int64_t(cfg.server.model->blocks().size());
  st.server_cfg.model = nullptr;
  cfg.server.model = nullptr;
  st.rng.seed(cfg.settings.seed ? cfg.settings.seed : random_id());
  st.limiter = move_limiter(cfg.settings.max_moves_per_hour, 3600);
  self->link_to(st.server);
  schedule_check(self, cfg);
  if (cfg.settings.plan_mode && cfg.settings.hole_watch.count() > 0) {
    self->delayed_send(self, cfg.settings.hole_watch, watch_atom::value);
  }
  return {
      [self](info_atom) { return self->state.server; },
      [self](drain_atom) -> caf::result<server_record> {
        self->state.balancing = false;
        auto promise = self->make_response_promise<server_record>();
        self->request(self->state.server, ask_timeout, drain_atom::value)
            .then([promise](server_record& r) mutable { promise.deliver(std::move(r)); },
                  [promise](caf::error& e) mutable { promise.deliver(std::move(e)); });
        return promise;
      },
      [self, cfg](tick_atom) {
        if (std::chrono::steady_clock::now() >= self->state.check_due) check(self, cfg);
      },
      [self, cfg](watch_atom) { watch(self, cfg); },
      [self, cfg](move_atom) { poll_sessions(self, cfg); },
  };
}

}  // namespace

balancer_actor spawn_balancer(caf::actor_system& system, balancer_config cfg) {
  return system.spawn<caf::detached>(balancer_behavior, std::move(cfg));
}

}  // namespace corolla
