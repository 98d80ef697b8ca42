// client_session: a route through the swarm and, per hop, the inputs sent to it.
//
// Owns: the route (servers and the blocks each runs for this session), the input
// history of every hop (what a replacement server would be replayed: issue 587 of
// Petals is why positions are explicit), the queue of steps.
// Talks to: the routing table (one route request at open), the route's servers
// (open, step, close), its client (session_step).
//
//   idle ──open_atom──▶ opening ──all servers opened──▶ open ──close_atom──▶ (quit)
//                          └──any error──▶ idle (the error is the open's reply)
//
// Steps run one at a time, hop after hop (or, in push mode, handed from server to
// server, each also sending the session its output); up to max_queued_steps more wait in order,
// more than that are refused (busy): mailboxes must not grow without bound. A server
// that dies or times out fails the step in flight with an error naming it.
//
// Timeouts: a watchdog tick every step_timeout / 4 while a step runs fails a hop that
// has gone step_timeout without a reply (so within 1.25 x step_timeout), rather than a
// timeout per request: each one wakes CAF's clock thread, and at several per token
// those wake-ups preempting the kernels cost ~2% of decode tokens/s.
#include "actors/client_session.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace corolla {

struct client_session_state {
  struct running_step {
    caf::typed_response_promise<session_step_result> promise;
    session_step step;
    uint64_t id = 0;  // replies to an earlier step (timed out, failed) are ignored
    std::vector<hop_timing> timing;
    size_t hop = 0;  // the hop waited for, since hop_sent
    std::chrono::steady_clock::time_point hop_sent;
    // Push mode: outputs may arrive in any order (each server sends its own).
    struct received {
      std::chrono::steady_clock::time_point at;
      int64_t compute_us = 0;
      int64_t inbound_us = 0;
    };
    std::chrono::steady_clock::time_point started;
    std::vector<std::optional<received>> outputs;  // per hop
  };
  std::vector<route_hop> route;
  std::vector<std::vector<float>> history;  // per hop: [tokens, dim] inputs sent
  bool open = false;
  bool watching = false;  // a tick_atom is on its way
  uint64_t next_step_id = 1;
  std::unique_ptr<running_step> running;
  std::deque<std::pair<caf::typed_response_promise<session_step_result>, session_step>> queue;
  static inline const char* name = "client_session";
};

namespace {

using session_pointer = client_session_actor::stateful_pointer<client_session_state>;

std::vector<hop_timing> describe_route(const std::vector<route_hop>& route) {
  std::vector<hop_timing> out;
  for (const route_hop& h : route) {
    out.push_back(hop_timing{h.server.name, h.start_block, h.end_block, 0, 0, 0});
  }
  return out;
}

void start_next(session_pointer self, const client_session_config& cfg);
void on_reply(session_pointer self, const client_session_config& cfg, size_t hop, uint64_t step_id,
              std::chrono::steady_clock::time_point sent, step_reply& reply);

// Ends the running step with `outcome` and starts the next queued one.
template <class Outcome>
void finish_step(session_pointer self, const client_session_config& cfg, Outcome&& outcome) {
  auto done = std::move(self->state.running);
  done->promise.deliver(std::forward<Outcome>(outcome));
  start_next(self, cfg);
}

std::chrono::milliseconds watchdog_period(const client_session_config& cfg) {
  return std::max(cfg.step_timeout / 4, std::chrono::milliseconds(1));
}

std::string hop_name(const route_hop& h) {
  return "server " + h.server.name + " (blocks [" + std::to_string(h.start_block) + ", " +
         std::to_string(h.end_block) + "))";
}

// The watchdog: fails the hop in flight once it has waited step_timeout.
void check_step(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  st.watching = false;
  if (!st.running) return;  // the next hop re-arms it
  const auto waited = std::chrono::steady_clock::now() - st.running->hop_sent;
  if (waited >= cfg.step_timeout) {
    finish_step(self, cfg,
                make_error(errc::compute_failed,
                           hop_name(st.route[st.running->hop]) + ": no reply within " +
                               std::to_string(cfg.step_timeout.count()) + " ms"));
    return;
  }
  st.watching = true;
  self->delayed_send(self, watchdog_period(cfg), tick_atom::value);
}

// Keeps `hidden`, the input of `hop` at the step's position, for replay. False (and the
// step failed) when the position would leave a gap.
bool keep_input(session_pointer self, const client_session_config& cfg, size_t hop,
                const std::vector<float>& hidden) {
  client_session_state& st = self->state;
  const int64_t pos = st.running->step.pos;
  std::vector<float>& history = st.history[hop];
  const int64_t held = int64_t(history.size()) / cfg.dim;
  if (pos > held) {
    finish_step(self, cfg,
                make_error(errc::position_gap, "step at position " + std::to_string(pos) +
                                                   " but the session holds " +
                                                   std::to_string(held) + " tokens"));
    return false;
  }
  history.resize(size_t(pos * cfg.dim));
  history.insert(history.end(), hidden.begin(), hidden.end());
  return true;
}

void watch(session_pointer self, const client_session_config& cfg, size_t hop) {
  client_session_state& st = self->state;
  st.running->hop = hop;
  st.running->hop_sent = std::chrono::steady_clock::now();
  if (!st.watching) {
    st.watching = true;
    self->delayed_send(self, watchdog_period(cfg), tick_atom::value);
  }
}

// Push mode: the step goes to the first server with the rest of the route.
void run_push(session_pointer self, const client_session_config& cfg, uint64_t step_id) {
  client_session_state& st = self->state;
  const session_step& step = st.running->step;
  if (!keep_input(self, cfg, 0, step.hidden)) return;
  std::vector<caf::actor> chain;
  for (size_t i = 1; i < st.route.size(); ++i) {
    chain.push_back(caf::actor_cast<caf::actor>(st.route[i].handle));
  }
  st.running->started = std::chrono::steady_clock::now();
  st.running->outputs.assign(st.route.size(), std::nullopt);
  watch(self, cfg, 0);
  self->send(st.route[0].handle,
             push_step{step_request{cfg.session_id, step_id, step.pos,
                                    encode_tensor(cfg.codec, step.hidden.data(), step.n, cfg.dim)},
                       0, push_clock_ns(), std::move(chain), caf::actor_cast<caf::actor>(self)});
}

// Push mode: one server's output. Kept as the next hop's input; after every hop has
// reported, the last one's output is the step's result.
void on_hop_output(session_pointer self, const client_session_config& cfg, hop_output& out) {
  client_session_state& st = self->state;
  if (!st.running || st.running->id != out.step_id || out.hop >= st.route.size() ||
      st.running->outputs.size() != st.route.size() || st.running->outputs[out.hop]) {
    return;
  }
  auto& running = *st.running;
  if (out.error_code != 0) {
    finish_step(
        self, cfg,
        make_error(errc::compute_failed, hop_name(st.route[out.hop]) + ": " + out.error_text));
    return;
  }
  std::vector<float> hidden;
  if (status s = decode_tensor(out.hidden, cfg.dim, running.step.n, hidden); !s.ok()) {
    finish_step(self, cfg, to_error(s));
    return;
  }
  const size_t hop = out.hop;
  if (hop + 1 < st.route.size() && !keep_input(self, cfg, hop + 1, hidden)) return;
  if (hop + 1 == st.route.size()) running.step.hidden = std::move(hidden);
  running.outputs[hop] = client_session_state::running_step::received{
      std::chrono::steady_clock::now(), out.compute_us, out.inbound_us};
  size_t missing = 0;
  while (missing < running.outputs.size() && running.outputs[missing]) ++missing;
  if (missing < running.outputs.size()) {
    watch(self, cfg, missing);
    return;
  }
  // Per hop: its compute, and the time between the previous hop's output reaching the
  // session and its own, less its compute (the hand-over and the copy to the session).
  auto previous = running.started;
  for (size_t h = 0; h < st.route.size(); ++h) {
    const auto& o = *running.outputs[h];
    const double compute_ms = double(o.compute_us) / 1000.0;
    const double gap_ms = std::chrono::duration<double, std::milli>(o.at - previous).count();
    previous = std::max(previous, o.at);
    running.timing.push_back(
        hop_timing{st.route[h].server.name, st.route[h].start_block, st.route[h].end_block,
                   compute_ms, std::max(0.0, gap_ms - compute_ms), double(o.inbound_us) / 1000.0});
  }
  finish_step(self, cfg,
              session_step_result{std::move(running.step.hidden), std::move(running.timing)});
}

void run_hop(session_pointer self, const client_session_config& cfg, size_t hop, uint64_t step_id) {
  client_session_state& st = self->state;
  const session_step& step = st.running->step;
  if (!keep_input(self, cfg, hop, step.hidden)) return;
  step_request req{cfg.session_id, step_id, step.pos,
                   encode_tensor(cfg.codec, step.hidden.data(), step.n, cfg.dim)};
  watch(self, cfg, hop);
  const auto sent = st.running->hop_sent;
  self->request(st.route[hop].handle, caf::infinite, std::move(req))
      .then([self, cfg, hop, step_id,
             sent](step_reply& reply) { on_reply(self, cfg, hop, step_id, sent, reply); },
            [self, cfg, hop, step_id](caf::error& err) {
              client_session_state& state = self->state;
              if (!state.running || state.running->id != step_id) return;
              finish_step(self, cfg,
                          make_error(errc::compute_failed,
                                     hop_name(state.route[hop]) + ": " + describe(err)));
            });
}

// A hop's output: the next hop's input, or the step's result after the last hop.
void on_reply(session_pointer self, const client_session_config& cfg, size_t hop, uint64_t step_id,
              std::chrono::steady_clock::time_point sent, step_reply& reply) {
  client_session_state& st = self->state;
  if (!st.running || st.running->id != step_id) return;
  session_step& step = st.running->step;
  if (status s = decode_tensor(reply.hidden, cfg.dim, step.n, step.hidden); !s.ok()) {
    finish_step(self, cfg, to_error(s));
    return;
  }
  const double rtt_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
  const route_hop& h = st.route[hop];
  const double compute_ms = double(reply.compute_us) / 1000.0;
  st.running->timing.push_back(
      hop_timing{h.server.name, h.start_block, h.end_block, compute_ms, rtt_ms - compute_ms, 0});
  if (hop + 1 < st.route.size()) {
    run_hop(self, cfg, hop + 1, step_id);
  } else {
    finish_step(self, cfg,
                session_step_result{std::move(step.hidden), std::move(st.running->timing)});
  }
}

void start_next(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  if (st.running || st.queue.empty()) return;
  auto [promise, step] = std::move(st.queue.front());
  st.queue.pop_front();
  if (step.n < 1 || int64_t(step.hidden.size()) != step.n * cfg.dim || step.pos < 0) {
    promise.deliver(make_error(errc::malformed_message,
                               "session step of " + std::to_string(step.hidden.size()) +
                                   " values for " + std::to_string(step.n) + " tokens of width " +
                                   std::to_string(cfg.dim)));
    start_next(self, cfg);
    return;
  }
  const uint64_t id = st.next_step_id++;
  st.running = std::make_unique<client_session_state::running_step>();
  st.running->promise = promise;
  st.running->step = std::move(step);
  st.running->id = id;
  if (cfg.push) {
    run_push(self, cfg, id);
  } else {
    run_hop(self, cfg, 0, id);
  }
}

caf::result<std::vector<hop_timing>> open_route(session_pointer self,
                                                const client_session_config& cfg) {
  auto promise = self->make_response_promise<std::vector<hop_timing>>();
  self->request(cfg.routing_table, cfg.open_timeout, route_request{0, cfg.n_blocks, {}})
      .then(
          [self, cfg, promise](std::vector<route_hop>& route) mutable {
            struct progress {
              size_t pending;
              bool failed = false;
            };
            auto p = std::make_shared<progress>(progress{route.size()});
            self->state.route = route;
            self->state.history.assign(route.size(), {});
            for (const route_hop& h : route) {
              self->monitor(h.handle);
              open_session_request req{protocol_version, cfg.session_id, h.start_block,
                                       h.end_block,      cfg.max_tokens, uint8_t(cfg.codec)};
              self->request(h.handle, cfg.open_timeout, req)
                  .then(
                      [self, promise, p](const open_session_reply&) mutable {
                        if (--p->pending == 0 && !p->failed) {
                          self->state.open = true;
                          promise.deliver(describe_route(self->state.route));
                        }
                      },
                      [promise, p, name = h.server.name](caf::error& err) mutable {
                        if (p->failed) return;
                        p->failed = true;
                        promise.deliver(make_error(
                            errc::no_route,
                            "server " + name + " refused the session: " + describe(err)));
                      });
            }
          },
          [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

client_session_actor::behavior_type client_session_behavior(session_pointer self,
                                                            client_session_config cfg) {
  self->set_down_handler([self, cfg](const caf::down_msg& down) {
    client_session_state& st = self->state;
    for (const route_hop& h : st.route) {
      if (h.handle.address() != down.source) continue;
      st.open = false;
      if (st.running) {
        finish_step(self, cfg,
                    make_error(errc::compute_failed, "server " + h.server.name + " is gone: " +
                                                         caf::to_string(down.reason)));
      }
      return;
    }
  });
  return {
      [self, cfg](open_atom) -> caf::result<std::vector<hop_timing>> {
        if (self->state.open || !self->state.route.empty()) {
          return make_error(errc::malformed_message, "the session is already open");
        }
        return open_route(self, cfg);
      },
      [self, cfg](session_step& step) -> caf::result<session_step_result> {
        client_session_state& st = self->state;
        if (!st.open) return make_error(errc::no_route, "the session has no open route");
        if (st.queue.size() >= cfg.max_queued_steps) {
          return make_error(errc::busy, std::to_string(st.queue.size()) +
                                            " steps are already queued in the session");
        }
        auto promise = self->make_response_promise<session_step_result>();
        st.queue.emplace_back(promise, std::move(step));
        start_next(self, cfg);
        return promise;
      },
      [self](route_atom) { return describe_route(self->state.route); },
      [self, cfg](tick_atom) { check_step(self, cfg); },
      [self, cfg](hop_output& out) { on_hop_output(self, cfg, out); },
      [self, cfg](close_atom) {
        for (const route_hop& h : self->state.route) {
          caf::anon_send(h.handle, close_session_request{cfg.session_id});
        }
        self->quit();
      },
  };
}

}  // namespace

client_session_actor spawn_client_session(caf::actor_system& system, client_session_config cfg) {
  return system.spawn(client_session_behavior, std::move(cfg));
}

}  // namespace corolla
