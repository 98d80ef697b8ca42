// client_session: a route through the swarm and, per hop, the inputs sent to it.
//
// Owns: the route (servers and the blocks each runs for this session), the input
// history of every hop (what a replacement server is replayed: issue 587 of Petals is
// why positions are explicit), the queue of steps, and the failover policy (bans and
// the retry budget, actors/failover_policy.hpp).
// Talks to: the routing table (a route at open, a route for a failed span), the route's
// servers (open, step, close; monitored), its client (session_step).
//
//   idle ──open_atom──▶ opening ──all servers opened──▶ open ──close_atom──▶ (quit)
//                          └──any error──▶ idle (the error is the open's reply)
//   open ──a server fails──▶ recovering ──its span rerouted and replayed──▶ open
//                                └──retry budget spent──▶ closed (steps get the error)
//
// Steps run one at a time, hop after hop (or, in push mode, handed from server to
// server, each also sending the session its output); up to max_queued_steps more wait in order,
// more than that are refused (busy): mailboxes must not grow without bound. In push mode a
// step of more than prefill_chunk rows goes down the route as chunks with consecutive ids,
// at most max_waiting_steps of them on the route at once (pipelined prefill); replays and
// spot checks' recomputations go to each server in such chunks too (chain_run).
//
// Failover: a hop's error, its timeout or its server's down_msg (a lost connection:
// heartbeats) bans the server and abandons the step's attempt (its replies are ignored
// from then on). The session asks the routing table for a route over exactly the
// failed hop's blocks without banned servers, opens sessions there, replays that hop's
// cached inputs [0, p) as one prefill (each replacement's output is the next one's
// input), splices the new hops into the route and runs the step again — with a new step
// id — from the first hop that has not computed it. Tries are bounded by the policy's
// budget with backoff; when it is spent the step fails naming the uncovered blocks.
//
// Timeouts: a watchdog tick every step_timeout / 4 while a step runs fails a hop that
// has gone step_timeout without a reply (so within 1.25 x step_timeout), rather than a
// timeout per request: each one wakes CAF's clock thread, and at several per token
// those wake-ups preempting the kernels cost ~2% of decode tokens/s.
#include "actors/client_session.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/failover_policy.hpp"

namespace corolla {

using steady = std::chrono::steady_clock;

struct client_session_state {
  struct running_step {
    caf::typed_response_promise<session_step_result> promise;
    session_step step;
    uint64_t id = 0;  // replies to another attempt (timed out, failed, abandoned) are ignored
    std::vector<hop_timing> timing;
    size_t hop = 0;  // the hop waited for, since hop_sent
    steady::time_point hop_sent;
    // Push mode: outputs may arrive in any order (each server sends its own).
    struct received {
      steady::time_point at;
      int64_t compute_us = 0;
      int64_t inbound_us = 0;
      uint64_t input_digest = 0;   // what the hop says it computed on
      uint64_t output_digest = 0;  // what it sent the session (and the next hop)
      bool reported = false;       // false: a hop before the first run this attempt
    };
    // Push mode: the step goes down the route in chunks of rows, chunk c as step id + c,
    // so that a server computes chunk c while the one before it computes chunk c + 1.
    struct chunk {
      int64_t pos = 0;
      int64_t n = 0;
      uint64_t sent_digest = 0;                      // the input the session sent hop `from`
      std::vector<std::optional<received>> outputs;  // per hop
    };
    std::vector<chunk> chunks;
    size_t from = 0;  // the hop this attempt started at
    size_t sent = 0;  // chunks sent to it
    steady::time_point started;
    size_t restart_hop = 0;  // after a failover: the first hop to run the step again
    std::vector<recovery_report> recoveries;
  };
  // A server of the route to replace, and what is known of its failure.
  struct failure {
    std::string cause;
    steady::time_point noticed;
    int64_t noticed_ns = 0;
    int64_t attempts = 0;
    bool planned = false;  // the server is leaving and hands its caches over
  };
  std::vector<route_hop> route;
  std::vector<std::vector<float>> history;  // per hop: [tokens, dim] inputs sent
  bool open = false;
  bool watching = false;  // a tick_atom is on its way
  uint64_t next_step_id = 1;
  std::unique_ptr<running_step> running;
  std::deque<std::pair<caf::typed_response_promise<session_step_result>, session_step>> queue;
  failover_policy policy;
  std::map<uint64_t, failure> failed;  // by server id
  bool recovering = false;
  // While the session opens: the open's reply. A server that fails to open is banned
  // and the whole route asked for again, within the failover budget (as a step's).
  std::optional<caf::typed_response_promise<std::vector<hop_timing>>> opening;
  std::string last_failure;                 // why the last try failed, for the final error
  std::vector<recovery_report> unreported;  // failovers while no step ran

  // Spot checks (actors/spot_check.hpp). A shadow recomputes one route server's part
  // of the route on other servers; shadows are keyed by that server and its blocks.
  struct shadow {
    uint64_t session_id = 0;      // the shadow's session on its checkers
    std::vector<route_hop> hops;  // the checkers; empty until opened
    int64_t verified = 0;         // outputs [0, verified) compared equal
    bool busy = false;            // a check is under way
    int64_t cut = INT64_MAX;      // the lowest position a step rewrote during that check
  };
  using shadow_key = std::tuple<uint64_t, int64_t, int64_t>;
  static shadow_key key_of(const route_hop& h) {
    return {h.server.server_id, h.start_block, h.end_block};
  }
  std::map<shadow_key, shadow> shadows;
  spot_check_schedule checks;
  spot_check_totals check_totals;
  std::mt19937_64 check_ids;         // session ids of shadows and referees
  std::vector<float> final_outputs;  // the last hop's outputs [tokens, dim], while checks are on
  // After a liar's replacement, the hops after it computed on its wrong outputs from this
  // position on: they are recomputed from the corrected inputs before the next step.
  struct refresh {
    uint64_t replaced = 0;  // the server whose replacement starts it
    int64_t from = 0;
    size_t hop = SIZE_MAX;  // set at the splice: the first hop to recompute
  };
  std::optional<refresh> pending_refresh;
  // Checkpoints: per route server (by id), its standby, which holds the session's rows
  // [0, rows) as the server held them at the last checkpoint.
  struct standby {
    route_hop hop;            // unset while it opens
    int64_t rows = 0;         // rows it holds that the route server still holds too
    bool busy = false;        // opening, or a checkpoint under way
    int64_t cut = INT64_MAX;  // the lowest position a step rewrote while it was busy
  };
  std::map<uint64_t, standby> standbys;
  // Decode steps' time through each server less the link's round trip, per block, summed
  // until they are told to the routing table (membership.hpp: claims checked against them).
  std::map<uint64_t, std::pair<double, int64_t>> observed;
  int64_t unreported_decode_steps = 0;
  static inline const char* name = "client_session";
};

namespace {

using session_pointer = client_session_actor::stateful_pointer<client_session_state>;
using running_step = client_session_state::running_step;

std::vector<hop_timing> describe_route(const std::vector<route_hop>& route) {
  std::vector<hop_timing> out;
  for (const route_hop& h : route) {
    out.push_back(hop_timing{h.server.name, h.start_block, h.end_block, 0, 0, 0});
  }
  return out;
}

std::string hop_name(const route_hop& h) {
  return "server " + h.server.name + " (blocks " + span_text(h.start_block, h.end_block) + ")";
}

void start_next(session_pointer self, const client_session_config& cfg);
void run_hop(session_pointer self, const client_session_config& cfg, size_t hop, uint64_t step_id);
void server_failed(session_pointer self, const client_session_config& cfg, uint64_t server_id,
                   std::string cause, bool planned = false);

// Ends the running step with an error and starts the next queued one.
void fail_step(session_pointer self, const client_session_config& cfg, caf::error err) {
  auto done = std::move(self->state.running);
  done->promise.deliver(std::move(err));
  start_next(self, cfg);
}

void check_route(session_pointer self, const client_session_config& cfg);
void keep_standbys(session_pointer self, const client_session_config& cfg);

constexpr int64_t observation_batch = 8;  // decode steps per report to the routing table

// What a decode step showed of each server's speed; reported every observation_batch.
void observe(session_pointer self, const client_session_config& cfg,
             const std::vector<hop_timing>& timing) {
  client_session_state& st = self->state;
  if (timing.size() != st.route.size()) return;
  for (size_t h = 0; h < timing.size(); ++h) {
    const route_hop& hop = st.route[h];
    const double blocks = double(hop.end_block - hop.start_block);
    const double wall = timing[h].compute_ms + timing[h].transfer_ms;
    auto& [sum, steps] = st.observed[hop.server.server_id];
    sum += std::max(0.0, wall - hop.server.rtt_ms) / blocks;
    ++steps;
  }
  if (++st.unreported_decode_steps < observation_batch) return;
  for (const auto& [id, seen] : st.observed) {
    self->send(cfg.routing_table, observe_atom::value, id, seen.first / double(seen.second),
               seen.second);
  }
  st.observed.clear();
  st.unreported_decode_steps = 0;
}

// Ends the running step with its output: the route's servers all did their part.
void complete_step(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  auto done = std::move(st.running);
  st.policy.step_succeeded();
  for (const route_hop& h : st.route) st.policy.server_succeeded(h.server.server_id);
  spot_check_totals& totals = st.check_totals;
  ++totals.steps;
  for (const hop_timing& t : done->timing) totals.route_compute_ms += t.compute_ms;
  if (done->step.n == 1 && done->recoveries.empty()) observe(self, cfg, done->timing);
  if (st.checks.enabled()) {
    st.final_outputs.resize(size_t(done->step.pos * cfg.dim));
    st.final_outputs.insert(st.final_outputs.end(), done->step.hidden.begin(),
                            done->step.hidden.end());
  }
  done->promise.deliver(session_step_result{std::move(done->step.hidden), std::move(done->timing),
                                            std::move(done->recoveries), totals});
  if (st.checks.due()) check_route(self, cfg);
  if (cfg.checkpoint_every > 0) keep_standbys(self, cfg);
  start_next(self, cfg);
}

std::chrono::milliseconds watchdog_period(const client_session_config& cfg) {
  return std::max(cfg.step_timeout / 4, std::chrono::milliseconds(1));
}

// The watchdog: a hop that has waited step_timeout has failed.
void check_step(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  st.watching = false;
  if (!st.running || st.recovering) return;  // the next hop re-arms it
  const auto waited = steady::now() - st.running->hop_sent;
  if (waited >= cfg.step_timeout) {
    const route_hop& h = st.route[st.running->hop];
    server_failed(
        self, cfg, h.server.server_id,
        hop_name(h) + ": no reply within " + std::to_string(cfg.step_timeout.count()) + " ms");
    return;
  }
  st.watching = true;
  self->delayed_send(self, watchdog_period(cfg), tick_atom::value);
}

// Keeps `hidden`, the input of `hop` at `pos`, for replay. False (and the step failed)
// when the position would leave a gap.
bool keep_input(session_pointer self, const client_session_config& cfg, size_t hop, int64_t pos,
                const std::vector<float>& hidden) {
  client_session_state& st = self->state;
  std::vector<float>& history = st.history[hop];
  const int64_t held = int64_t(history.size()) / cfg.dim;
  if (pos > held) {
    fail_step(self, cfg,
              make_error(errc::position_gap, "step at position " + std::to_string(pos) +
                                                 " but the session holds " + std::to_string(held) +
                                                 " tokens"));
    return false;
  }
  history.resize(size_t(pos * cfg.dim));
  history.insert(history.end(), hidden.begin(), hidden.end());
  return true;
}

void watch(session_pointer self, const client_session_config& cfg, size_t hop) {
  client_session_state& st = self->state;
  st.running->hop = hop;
  st.running->hop_sent = steady::now();
  if (!st.watching) {
    st.watching = true;
    self->delayed_send(self, watchdog_period(cfg), tick_atom::value);
  }
}

// Push mode: sends hop `from` the running step's next chunk, with the rest of the route;
// its input is what the session keeps for that hop.
void send_chunk(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  running_step& running = *st.running;
  const size_t c = running.sent++;
  running_step::chunk& ch = running.chunks[c];
  std::vector<caf::actor> chain;
  for (size_t i = running.from + 1; i < st.route.size(); ++i) {
    chain.push_back(caf::actor_cast<caf::actor>(st.route[i].handle));
  }
  const float* rows = st.history[running.from].data() + ch.pos * cfg.dim;
  tensor_bytes input = encode_tensor(cfg.codec, rows, ch.n, cfg.dim);
  ch.sent_digest = tensor_digest(input);
  self->send(st.route[running.from].handle,
             push_step{step_request{cfg.session_id, running.id + c, ch.pos, std::move(input)},
                       uint32_t(running.from), push_clock_ns(), std::move(chain),
                       caf::actor_cast<caf::actor>(self)});
}

// Rows a step of `n` rows goes to a server in: cfg.prefill_chunk, or all at once.
int64_t chunk_rows(const client_session_config& cfg, int64_t n) {
  return cfg.prefill_chunk > 0 ? cfg.prefill_chunk : n;
}

// Push mode: chunks go out while fewer than max_waiting_steps are on the route, so that
// no server holds more of the session's steps than it queues (more would be refused).
void send_chunks(session_pointer self, const client_session_config& cfg) {
  running_step& running = *self->state.running;
  const auto through = [](const running_step::chunk& ch) { return bool(ch.outputs.back()); };
  const size_t completed = size_t(std::count_if(
      running.chunks.begin(), running.chunks.begin() + ptrdiff_t(running.sent), through));
  while (running.sent < running.chunks.size() && running.sent - completed < max_waiting_steps) {
    send_chunk(self, cfg);
  }
}

// Push mode: the step goes down the route from hop `from`, whose input is `hidden`, in
// chunks of cfg.prefill_chunk rows (a decode step is one chunk).
void run_push(session_pointer self, const client_session_config& cfg, size_t from,
              const std::vector<float>& hidden) {
  client_session_state& st = self->state;
  running_step& running = *st.running;
  const session_step& step = running.step;
  if (!keep_input(self, cfg, from, step.pos, hidden)) return;
  const int64_t rows = chunk_rows(cfg, step.n);
  running.chunks.clear();
  for (int64_t p = 0; p < step.n; p += rows) {
    running.chunks.push_back({step.pos + p, std::min(rows, step.n - p), 0, {}});
  }
  running.id = st.next_step_id;
  st.next_step_id += running.chunks.size();
  running.from = from;
  running.sent = 0;
  running.started = steady::now();
  for (running_step::chunk& ch : running.chunks) {
    ch.outputs.assign(st.route.size(), std::nullopt);
    for (size_t i = 0; i < from; ++i) ch.outputs[i] = running_step::received{running.started};
  }
  watch(self, cfg, from);
  send_chunks(self, cfg);
}

// Push mode: the first hop of the step that has not reported every chunk: before it, the
// session holds the step's whole input of every hop.
size_t first_unfinished_hop(const running_step& running) {
  size_t first = SIZE_MAX;
  for (const running_step::chunk& ch : running.chunks) {
    size_t h = 0;
    while (h < ch.outputs.size() && ch.outputs[h]) ++h;
    first = std::min(first, h);
  }
  return first == SIZE_MAX ? 0 : first;
}

// Push mode: every hop computed on what the one before it sent the session (the session
// keeps that, and spot checks judge each hop by it). A mismatch means the sender handed
// the next server something else, or the receiver misreports what it got: both are
// banned as liars and replaced. False when the step is abandoned for that.
bool handed_over_as_sent(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  for (const running_step::chunk& ch : st.running->chunks) {
    std::optional<uint64_t> sent;  // what the previous hop of this attempt sent
    for (size_t h = 0; h < ch.outputs.size(); ++h) {
      const running_step::received& r = *ch.outputs[h];
      if (!r.reported) continue;
      const uint64_t expected = sent ? *sent : ch.sent_digest;
      if (r.input_digest != expected) {
        const route_hop& receiver = st.route[h];
        std::string why = hop_name(receiver) + " computed on another input than " +
                          (sent ? hop_name(st.route[h - 1]) + " sent the session"
                                : std::string("the session sent it")) +
                          " (push hand-over)";
        std::cerr << "corolla: session " << cfg.session_id << ": " << why << "\n";
        const auto now = steady::now();
        st.policy.server_lied(receiver.server.server_id, now);
        if (sent) {
          const uint64_t sender = st.route[h - 1].server.server_id;
          st.policy.server_lied(sender, now);
          server_failed(self, cfg, sender, why);
        }
        server_failed(self, cfg, receiver.server.server_id, why);
        return false;
      }
      sent = r.output_digest;
    }
  }
  return true;
}

// Push mode, all chunks in: per hop, its compute, and the time between the previous hop's
// last output reaching the session and its own, less its last chunk's compute (the
// hand-over and the copy to the session).
std::vector<hop_timing> push_timing(const std::vector<route_hop>& route,
                                    const running_step& running) {
  std::vector<hop_timing> out;
  auto previous = running.started;
  for (size_t h = 0; h < route.size(); ++h) {
    double compute_ms = 0;
    for (const running_step::chunk& ch : running.chunks) {
      compute_ms += double(ch.outputs[h]->compute_us) / 1000.0;
    }
    const running_step::received& last = *running.chunks.back().outputs[h];
    const double gap_ms = std::chrono::duration<double, std::milli>(last.at - previous).count();
    previous = std::max(previous, last.at);
    out.push_back(hop_timing{route[h].server.name, route[h].start_block, route[h].end_block,
                             compute_ms, std::max(0.0, gap_ms - double(last.compute_us) / 1000.0),
                             double(last.inbound_us) / 1000.0});
  }
  return out;
}

// Push mode: one server's output of one chunk. Kept as the next hop's input; the last
// hop's outputs, chunk by chunk, are the step's result.
void on_hop_output(session_pointer self, const client_session_config& cfg, hop_output& out) {
  client_session_state& st = self->state;
  if (!st.running || st.recovering || out.step_id < st.running->id ||
      out.step_id - st.running->id >= st.running->sent || out.hop >= st.route.size()) {
    return;
  }
  running_step& running = *st.running;
  running_step::chunk& ch = running.chunks[out.step_id - running.id];
  if (ch.outputs.size() != st.route.size() || ch.outputs[out.hop]) return;
  if (out.error_code != 0) {
    const route_hop& h = st.route[out.hop];
    server_failed(self, cfg, h.server.server_id, hop_name(h) + ": " + out.error_text);
    return;
  }
  std::vector<float> hidden;
  if (status s = decode_tensor(out.hidden, cfg.dim, ch.n, hidden); !s.ok()) {
    const route_hop& h = st.route[out.hop];
    server_failed(self, cfg, h.server.server_id, hop_name(h) + ": " + s.message());
    return;
  }
  const size_t hop = out.hop;
  const bool last_hop = hop + 1 == st.route.size();
  if (!last_hop && !keep_input(self, cfg, hop + 1, ch.pos, hidden)) return;
  if (last_hop) {
    std::copy(hidden.begin(), hidden.end(),
              running.step.hidden.begin() + (ch.pos - running.step.pos) * cfg.dim);
  }
  ch.outputs[hop] = running_step::received{
      steady::now(), out.compute_us, out.inbound_us, out.input_digest, tensor_digest(out.hidden),
      true};
  if (last_hop) send_chunks(self, cfg);
  // Hops report in any order (a later hop's output can overtake an earlier one's).
  if (const size_t waiting = first_unfinished_hop(running); waiting < st.route.size()) {
    watch(self, cfg, waiting);
    return;
  }
  if (!handed_over_as_sent(self, cfg)) return;
  running.timing = push_timing(st.route, running);
  complete_step(self, cfg);
}

// A hop's output: the next hop's input, or the step's result after the last hop.
void on_reply(session_pointer self, const client_session_config& cfg, size_t hop, uint64_t step_id,
              steady::time_point sent, step_reply& reply) {
  client_session_state& st = self->state;
  if (!st.running || st.recovering || st.running->id != step_id) return;
  session_step& step = st.running->step;
  const route_hop& h = st.route[hop];
  if (status s = decode_tensor(reply.hidden, cfg.dim, step.n, step.hidden); !s.ok()) {
    server_failed(self, cfg, h.server.server_id, hop_name(h) + ": " + s.message());
    return;
  }
  const double rtt_ms = std::chrono::duration<double, std::milli>(steady::now() - sent).count();
  const double compute_ms = double(reply.compute_us) / 1000.0;
  st.running->timing.push_back(
      hop_timing{h.server.name, h.start_block, h.end_block, compute_ms, rtt_ms - compute_ms, 0});
  if (hop + 1 < st.route.size()) {
    run_hop(self, cfg, hop + 1, step_id);
  } else {
    complete_step(self, cfg);
  }
}

void run_hop(session_pointer self, const client_session_config& cfg, size_t hop, uint64_t step_id) {
  client_session_state& st = self->state;
  const session_step& step = st.running->step;
  if (!keep_input(self, cfg, hop, step.pos, step.hidden)) return;
  step_request req{cfg.session_id, step_id, step.pos,
                   encode_tensor(cfg.codec, step.hidden.data(), step.n, cfg.dim)};
  watch(self, cfg, hop);
  const auto sent = st.running->hop_sent;
  self->request(st.route[hop].handle, caf::infinite, std::move(req))
      .then([self, cfg, hop, step_id,
             sent](step_reply& reply) { on_reply(self, cfg, hop, step_id, sent, reply); },
            [self, cfg, hop, step_id](caf::error& err) {
              client_session_state& state = self->state;
              if (!state.running || state.recovering || state.running->id != step_id) return;
              const route_hop& h = state.route[hop];
              server_failed(self, cfg, h.server.server_id, hop_name(h) + ": " + describe(err));
            });
}

// Runs the running step (again) from hop `from`, whose input for it the history holds.
void run_from(session_pointer self, const client_session_config& cfg, size_t from) {
  client_session_state& st = self->state;
  running_step& running = *st.running;
  const size_t row = size_t(running.step.pos * cfg.dim);
  const size_t count = size_t(running.step.n * cfg.dim);
  std::vector<float> input(st.history[from].begin() + ptrdiff_t(row),
                           st.history[from].begin() + ptrdiff_t(row + count));
  if (cfg.push) {
    running.timing.clear();
    run_push(self, cfg, from, input);
  } else {
    running.timing.resize(std::min(running.timing.size(), from));
    running.step.hidden = std::move(input);
    run_hop(self, cfg, from, running.id);
  }
}

void start_next(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  if (st.running || st.recovering || st.queue.empty()) return;
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
  for (auto& [key, sh] : st.shadows) {
    sh.verified = std::min(sh.verified, step.pos);
    if (sh.busy) sh.cut = std::min(sh.cut, step.pos);
  }
  for (auto& [id, sb] : st.standbys) {
    sb.rows = std::min(sb.rows, step.pos);
    if (sb.busy) sb.cut = std::min(sb.cut, step.pos);
  }
  st.running = std::make_unique<running_step>();
  st.running->promise = promise;
  st.running->step = std::move(step);
  st.running->id = st.next_step_id++;
  st.running->recoveries = std::move(st.unreported);
  st.unreported.clear();
  if (cfg.push) {
    run_push(self, cfg, 0, st.running->step.hidden);
  } else {
    run_hop(self, cfg, 0, st.running->id);
  }
}

// Runs `input` ([rows, dim] from position `pos`) through `hops` in order on session
// `session_id`, each hop's output the next one's input. To each hop the rows go as steps of
// at most cfg.prefill_chunk rows, up to max_waiting_steps of them on the way at once (the
// server queues them): the next chunk crosses the link while one computes, and no request
// carries more than a chunk's bytes, so step_timeout bounds a chunk, not the whole run — a
// long replay over a slow link is not taken for a hang. `done` gets the last output and the
// compute it took, or the index of the hop that failed and its error.
struct chain_run {
  uint64_t session_id = 0;
  std::vector<route_hop> hops;
  int64_t pos = 0;
  int64_t rows = 0;
  std::vector<float> data;  // the next hop's input; at the end, the output
  double compute_ms = 0;
  std::vector<std::vector<float>> inputs;  // per hop done, what it was sent
  std::function<void(chain_run&, std::optional<std::pair<size_t, caf::error>>)> done;
  // The hop under way.
  size_t hop = 0;
  std::vector<float> output;
  int64_t sent = 0;      // rows sent to it
  int64_t answered = 0;  // rows it answered
  bool failed = false;
};

void run_chain(session_pointer self, const client_session_config& cfg,
               std::shared_ptr<chain_run> run, size_t j);

// Sends hop run->hop its next chunks, while the window has room.
void send_chain_chunks(session_pointer self, const client_session_config& cfg,
                       const std::shared_ptr<chain_run>& run) {
  const int64_t chunk = chunk_rows(cfg, run->rows);
  while (run->sent < run->rows &&
         (run->sent - run->answered) < chunk * int64_t(max_waiting_steps)) {
    const int64_t at = run->sent;
    const int64_t n = std::min(chunk, run->rows - at);
    run->sent += n;
    const size_t j = run->hop;
    step_request req{run->session_id, self->state.next_step_id++, run->pos + at,
                     encode_tensor(cfg.codec, run->data.data() + at * cfg.dim, n, cfg.dim)};
    self->request(run->hops[j].handle, cfg.step_timeout, std::move(req))
        .then(
            [self, cfg, run, j, at, n](step_reply& reply) {
              if (run->failed) return;
              std::vector<float> out;
              if (status s = decode_tensor(reply.hidden, cfg.dim, n, out); !s.ok()) {
                run->failed = true;
                run->done(*run, std::make_pair(j, to_error(s)));
                return;
              }
              std::copy(out.begin(), out.end(), run->output.begin() + at * cfg.dim);
              run->compute_ms += double(reply.compute_us) / 1000.0;
              run->answered += n;
              if (run->answered < run->rows) {
                send_chain_chunks(self, cfg, run);
                return;
              }
              run->inputs.push_back(std::move(run->data));
              run->data = std::move(run->output);
              run_chain(self, cfg, run, j + 1);
            },
            [run, j](caf::error& err) {
              if (run->failed) return;
              run->failed = true;
              run->done(*run, std::make_pair(j, std::move(err)));
            });
  }
}

void run_chain(session_pointer self, const client_session_config& cfg,
               std::shared_ptr<chain_run> run, size_t j) {
  if (j == run->hops.size() || run->rows == 0) {
    run->done(*run, std::nullopt);
    return;
  }
  run->hop = j;
  run->output.assign(size_t(run->rows * cfg.dim), 0.0f);
  run->sent = 0;
  run->answered = 0;
  send_chain_chunks(self, cfg, run);
}

// ---- Checkpoints -----------------------------------------------------------------

void close_standby(session_pointer self, const client_session_config& cfg, uint64_t server_id) {
  auto it = self->state.standbys.find(server_id);
  if (it == self->state.standbys.end()) return;
  if (it->second.hop.handle) {
    self->demonitor(it->second.hop.handle.address());
    caf::anon_send(it->second.hop.handle, close_session_request{cfg.session_id});
  }
  self->state.standbys.erase(it);
}

// Opens a standby for the route server at `hop`: a server of exactly its blocks that is
// not on the route (the session id is the route's, so it must be free there).
void open_standby(session_pointer self, const client_session_config& cfg, size_t hop) {
  client_session_state& st = self->state;
  const route_hop& h = st.route[hop];
  const uint64_t id = h.server.server_id;
  st.standbys[id].busy = true;
  route_request req{h.start_block, h.end_block, st.policy.banned_servers(steady::now())};
  for (const route_hop& r : st.route) req.excluded.push_back(r.server.server_id);
  for (const auto& [failed, f] : st.failed) req.excluded.push_back(failed);
  self->request(cfg.routing_table, cfg.open_timeout, std::move(req))
      .then(
          [self, cfg, id](std::vector<route_hop>& hops) {
            client_session_state& state = self->state;
            auto it = state.standbys.find(id);
            if (it == state.standbys.end()) return;
            if (hops.size() != 1) {
              state.standbys.erase(it);  // no single server of those blocks: none for now
              return;
            }
            const route_hop standby = hops[0];
            open_session_request open{protocol_version,  cfg.session_id, standby.start_block,
                                      standby.end_block, cfg.max_tokens, uint8_t(cfg.codec)};
            self->request(standby.handle, cfg.open_timeout, open)
                .then(
                    [self, cfg, id, standby](const open_session_reply&) {
                      auto sb = self->state.standbys.find(id);
                      if (sb == self->state.standbys.end()) {
                        caf::anon_send(standby.handle, close_session_request{cfg.session_id});
                        return;
                      }
                      self->monitor(standby.handle);
                      sb->second.hop = standby;
                      sb->second.busy = false;
                      sb->second.cut = INT64_MAX;
                    },
                    [self, id](caf::error&) { self->state.standbys.erase(id); });
          },
          [self, id](caf::error&) { self->state.standbys.erase(id); });
}

// The standby of the route server at `hop` takes the server's rows [rows it holds, held)
// over.
void checkpoint(session_pointer self, const client_session_config& cfg, size_t hop, int64_t held) {
  client_session_state& st = self->state;
  const route_hop& h = st.route[hop];
  const uint64_t id = h.server.server_id;
  client_session_state::standby& sb = st.standbys[id];
  sb.busy = true;
  sb.cut = INT64_MAX;
  self->request(sb.hop.handle, cfg.open_timeout + cfg.step_timeout, adopt_atom::value,
                adopt_request{cfg.session_id, held, sb.rows}, caf::actor_cast<caf::actor>(h.handle))
      .then(
          [self, id, held](int64_t) {
            auto it = self->state.standbys.find(id);
            if (it == self->state.standbys.end()) return;
            it->second.rows = std::min(held, it->second.cut);
            it->second.busy = false;
          },
          [self, cfg, id](caf::error&) { close_standby(self, cfg, id); });
}

// After a step: every route server has a standby (opened when there is a server for it),
// and a standby checkpoint_every tokens behind its server takes the new rows over.
void keep_standbys(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  for (auto it = st.standbys.begin(); it != st.standbys.end();) {
    const uint64_t id = it->first;
    const bool on_route = std::any_of(st.route.begin(), st.route.end(),
                                      [&](const route_hop& h) { return h.server.server_id == id; });
    ++it;
    if (!on_route) close_standby(self, cfg, id);
  }
  for (size_t hop = 0; hop < st.route.size(); ++hop) {
    const uint64_t id = st.route[hop].server.server_id;
    const int64_t held = int64_t(st.history[hop].size()) / cfg.dim;
    auto it = st.standbys.find(id);
    if (it == st.standbys.end()) {
      if (held >= cfg.checkpoint_every) open_standby(self, cfg, hop);
    } else if (!it->second.busy && held - it->second.rows >= cfg.checkpoint_every) {
      checkpoint(self, cfg, hop, held);
    }
  }
}

// ---- Failover ---------------------------------------------------------------------

void schedule_recovery(session_pointer self, const client_session_config& cfg);
void attempt_recovery(session_pointer self, const client_session_config& cfg);

// A replacement in progress for the hop at `hop` (whose server is `old_id`).
struct replacement {
  size_t hop = 0;
  uint64_t old_id = 0;
  std::vector<route_hop> hops;
  size_t opening = 0;  // open requests not yet answered
  bool failed = false;
  steady::time_point opened;
  int64_t rows = 0;                        // tokens to replay
  std::vector<std::vector<float>> inputs;  // per new hop: its replay input, [rows, dim]
  std::vector<float> output;               // the last new hop's replay output, [rows, dim]
  bool adopted = false;                    // took the caches over instead of a replay
  int64_t from = 0;                        // a promoted standby: the rows it already holds
};

void close_shadow(session_pointer self, client_session_state::shadow_key key);

// This try failed: the replacements opened so far are closed, the next try waits.
void try_failed(session_pointer self, const client_session_config& cfg,
                const std::shared_ptr<replacement>& rep, std::string why) {
  client_session_state& st = self->state;
  if (rep) {
    rep->failed = true;
    for (const route_hop& h : rep->hops) {
      self->demonitor(h.handle.address());
      caf::anon_send(h.handle, close_session_request{cfg.session_id});
    }
  }
  st.last_failure = std::move(why);
  schedule_recovery(self, cfg);
}

// The replacement hops replace the failed one in the route, with their histories.
void splice(session_pointer self, const client_session_config& cfg,
            const std::shared_ptr<replacement>& rep) {
  client_session_state& st = self->state;
  const route_hop old = st.route[rep->hop];
  const client_session_state::failure& f = st.failed[rep->old_id];
  recovery_report report;
  report.failed_server = old.server.name;
  report.start_block = old.start_block;
  report.end_block = old.end_block;
  report.cause = f.cause;
  for (const route_hop& h : rep->hops) report.replaced_by.push_back(h.server.name);
  report.replayed_tokens = rep->adopted ? 0 : rep->rows - rep->from;
  report.handed_over_tokens = rep->adopted ? rep->rows - rep->from : 0;
  report.checkpoint_tokens = rep->from;
  report.planned = f.planned;
  report.attempts = f.attempts;
  report.noticed_ns = f.noticed_ns;
  report.reroute_ms = std::chrono::duration<double, std::milli>(rep->opened - f.noticed).count();
  report.replay_ms = std::chrono::duration<double, std::milli>(steady::now() - rep->opened).count();

  self->demonitor(old.handle.address());
  caf::anon_send(old.handle, close_session_request{cfg.session_id});
  // The first replacement takes over the failed hop's history (which also holds the
  // running step's input); the others start from their replay inputs.
  st.route.erase(st.route.begin() + ptrdiff_t(rep->hop));
  st.route.insert(st.route.begin() + ptrdiff_t(rep->hop), rep->hops.begin(), rep->hops.end());
  st.history.insert(st.history.begin() + ptrdiff_t(rep->hop + 1),
                    std::make_move_iterator(rep->inputs.begin() + 1),
                    std::make_move_iterator(rep->inputs.end()));
  // What the next hop holds as its inputs [0, rows) becomes the replacement's outputs:
  // the same bits when both servers are honest, and every output the session holds is
  // then its route's own, as spot checks assume.
  const size_t after = rep->hop + rep->hops.size();
  std::vector<float>& next_inputs = after < st.route.size() ? st.history[after] : st.final_outputs;
  const size_t offset = std::min(size_t(rep->from * cfg.dim), next_inputs.size());
  const size_t replayed = std::min(rep->output.size(), next_inputs.size() - offset);
  std::copy(rep->output.begin(), rep->output.begin() + ptrdiff_t(replayed),
            next_inputs.begin() + ptrdiff_t(offset));
  close_standby(self, cfg, rep->old_id);
  if (st.pending_refresh && st.pending_refresh->replaced == rep->old_id) {
    st.pending_refresh->hop = after;
  }
  for (auto it = st.shadows.begin(); it != st.shadows.end();) {
    auto key = (it++)->first;
    if (std::get<0>(key) == rep->old_id) close_shadow(self, key);
  }
  const bool still_used = std::any_of(st.route.begin(), st.route.end(), [&](const route_hop& h) {
    return h.server.server_id == rep->old_id;
  });
  if (!still_used) st.failed.erase(rep->old_id);
  if (st.running) {
    st.running->restart_hop = std::min(st.running->restart_hop, rep->hop);
    st.running->recoveries.push_back(std::move(report));
  } else {
    st.unreported.push_back(std::move(report));
  }
  attempt_recovery(self, cfg);  // progress: the next failed hop, if any, without backoff
}

// Replays the cached inputs through the replacement hops (each one's output is the next
// one's replay input), then splices them into the route.
void replay(session_pointer self, const client_session_config& cfg,
            const std::shared_ptr<replacement>& rep) {
  if (rep->rows == rep->from) {
    splice(self, cfg, rep);
    return;
  }
  auto run = std::make_shared<chain_run>();
  run->session_id = cfg.session_id;
  run->hops = rep->hops;
  run->pos = rep->from;
  run->rows = rep->rows - rep->from;
  run->data.assign(rep->inputs[0].begin() + ptrdiff_t(rep->from * cfg.dim), rep->inputs[0].end());
  run->done = [self, cfg, rep](chain_run& r, std::optional<std::pair<size_t, caf::error>> failed) {
    if (failed) {
      const route_hop& hop = rep->hops[failed->first];
      self->state.policy.server_failed(hop.server.server_id, steady::now());
      try_failed(self, cfg, rep, hop_name(hop) + ": replay: " + describe(failed->second));
      return;
    }
    rep->inputs = std::move(r.inputs);
    rep->output = std::move(r.data);
    splice(self, cfg, rep);
  };
  run_chain(self, cfg, run, 0);
}

// A replacement for the hop at `hop` (whose server is `old_id`): the rows to give it, the
// session's inputs of that hop.
std::shared_ptr<replacement> make_replacement(session_pointer self,
                                              const client_session_config& cfg, size_t hop,
                                              uint64_t old_id, std::vector<route_hop> hops) {
  const client_session_state& st = self->state;
  auto rep = std::make_shared<replacement>();
  rep->hop = hop;
  rep->old_id = old_id;
  rep->hops = std::move(hops);
  rep->rows = st.running ? st.running->step.pos : int64_t(st.history[hop].size()) / cfg.dim;
  rep->inputs.resize(rep->hops.size());
  rep->inputs[0].assign(st.history[hop].begin(),
                        st.history[hop].begin() + ptrdiff_t(rep->rows * cfg.dim));
  return rep;
}

void adopt(session_pointer self, const client_session_config& cfg,
           const std::shared_ptr<replacement>& rep);

// The opened replacement gets the rows it lacks, [from, rows): taken over from a leaving
// server (a planned leave to one server of the same blocks), else replayed.
void take_over(session_pointer self, const client_session_config& cfg,
               const std::shared_ptr<replacement>& rep) {
  const client_session_state& st = self->state;
  const route_hop& old = st.route[rep->hop];
  auto f = st.failed.find(rep->old_id);
  const bool handed_over = f != st.failed.end() && f->second.planned && rep->hops.size() == 1 &&
                           rep->rows > rep->from && rep->hops[0].start_block == old.start_block &&
                           rep->hops[0].end_block == old.end_block;
  if (handed_over) {
    adopt(self, cfg, rep);
  } else {
    replay(self, cfg, rep);
  }
}

// A planned leave: the replacement takes the session's caches over from the leaving
// server, and is spliced in without a replay; if that fails, it is replayed to.
void adopt(session_pointer self, const client_session_config& cfg,
           const std::shared_ptr<replacement>& rep) {
  const server_actor leaving = self->state.route[rep->hop].handle;
  // Bytes to move, not compute: each step's timeout covers a chunk (server.cpp's).
  const auto timeout = cfg.open_timeout + cfg.step_timeout;
  self->request(rep->hops[0].handle, timeout, adopt_atom::value,
                adopt_request{cfg.session_id, rep->rows, rep->from},
                caf::actor_cast<caf::actor>(leaving))
      .then(
          [self, cfg, rep](int64_t rows) {
            if (rep->failed) return;
            rep->adopted = rows == rep->rows;
            if (rep->adopted) {
              splice(self, cfg, rep);
            } else {
              replay(self, cfg, rep);
            }
          },
          [self, cfg, rep](caf::error&) {
            if (!rep->failed) replay(self, cfg, rep);
          });
}

// The failed hop's standby, when it has one open and usable, replaces it: it holds the
// rows of its last checkpoint, so a crash replays only the rest and a planned leave hands
// only the rest over. False when there is none.
bool promote_standby(session_pointer self, const client_session_config& cfg, size_t hop) {
  client_session_state& st = self->state;
  const route_hop& h = st.route[hop];
  auto it = st.standbys.find(h.server.server_id);
  if (it == st.standbys.end() || !it->second.hop.handle ||
      st.failed.count(it->second.hop.server.server_id)) {
    return false;
  }
  // A checkpoint under way fails with its server (the standby then holds what it held
  // before it, `rows`), or completed unseen: the replay from `rows` rewrites either way.
  auto rep = make_replacement(self, cfg, hop, h.server.server_id, {it->second.hop});
  rep->from = std::min(it->second.rows, rep->rows);
  rep->opened = steady::now();
  // Promoted: no longer a standby (splice would close its session).
  it->second.hop.handle = nullptr;
  take_over(self, cfg, rep);
  return true;
}

// Opens the session on every replacement hop, then has it adopt the caches (a planned
// leave to a server of the same blocks) or replays.
void open_replacement(session_pointer self, const client_session_config& cfg, size_t hop,
                      uint64_t old_id, std::vector<route_hop> hops) {
  auto rep = make_replacement(self, cfg, hop, old_id, std::move(hops));
  rep->opening = rep->hops.size();
  for (const route_hop& h : rep->hops) {
    self->monitor(h.handle);
    open_session_request req{protocol_version, cfg.session_id, h.start_block,
                             h.end_block,      cfg.max_tokens, uint8_t(cfg.codec)};
    self->request(h.handle, cfg.open_timeout, req)
        .then(
            [self, cfg, rep](const open_session_reply&) {
              if (rep->failed || --rep->opening > 0) return;
              rep->opened = steady::now();
              take_over(self, cfg, rep);
            },
            [self, cfg, rep, h](caf::error& err) {
              if (rep->failed) return;
              self->state.policy.server_failed(h.server.server_id, steady::now());
              try_failed(self, cfg, rep, hop_name(h) + " refused the session: " + describe(err));
            });
  }
}

void refresh_hop(session_pointer self, const client_session_config& cfg, size_t hop);

// No failed server left in the route: the hops after a liar's replacement recompute what
// it got wrong, then the running step runs again, or the next one.
void finish_recovery(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  if (st.pending_refresh && st.pending_refresh->hop != SIZE_MAX) {
    const size_t hop = st.pending_refresh->hop;
    if (hop < st.route.size()) {
      refresh_hop(self, cfg, hop);
      return;
    }
    st.pending_refresh.reset();
  }
  st.recovering = false;
  if (!st.running) {
    start_next(self, cfg);
    return;
  }
  st.running->id = st.next_step_id++;
  run_from(self, cfg, st.running->restart_hop);
}

// One try at replacing the first failed hop of the route.
void attempt_recovery(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  size_t hop = 0;
  while (hop < st.route.size() && !st.failed.count(st.route[hop].server.server_id)) ++hop;
  if (hop == st.route.size()) {
    finish_recovery(self, cfg);
    return;
  }
  const route_hop& h = st.route[hop];
  const uint64_t old_id = h.server.server_id;
  ++st.failed[old_id].attempts;
  if (promote_standby(self, cfg, hop)) return;
  route_request req{h.start_block, h.end_block, st.policy.banned_servers(steady::now())};
  for (const auto& [id, f] : st.failed) req.excluded.push_back(id);
  // Other hops' standbys hold this session's id: it can not be opened there again.
  for (const auto& [id, sb] : st.standbys) {
    if (sb.hop.handle) req.excluded.push_back(sb.hop.server.server_id);
  }
  self->request(cfg.routing_table, cfg.open_timeout, std::move(req))
      .then(
          [self, cfg, hop, old_id](std::vector<route_hop>& hops) {
            open_replacement(self, cfg, hop, old_id, std::move(hops));
          },
          [self, cfg](caf::error& err) { try_failed(self, cfg, nullptr, describe(err)); });
}

// The budget is spent: the session closes, and its steps get the error.
void give_up(session_pointer self) {
  client_session_state& st = self->state;
  std::string uncovered, causes;
  for (const route_hop& h : st.route) {
    auto failed = st.failed.find(h.server.server_id);
    if (failed == st.failed.end()) continue;
    uncovered += (uncovered.empty() ? "" : ", ") + span_text(h.start_block, h.end_block);
    causes += (causes.empty() ? "" : "; ") + failed->second.cause;
  }
  const caf::error err =
      make_error(errc::no_route, "blocks " + uncovered + " have no working server after " +
                                     std::to_string(st.policy.attempts_made()) +
                                     " tries to reroute: " + st.last_failure + " (" + causes + ")");
  st.recovering = false;
  st.open = false;
  if (auto done = std::move(st.running)) done->promise.deliver(err);
  for (auto& queued : st.queue) queued.first.deliver(err);
  st.queue.clear();
}

void schedule_recovery(session_pointer self, const client_session_config& cfg) {
  auto wait = self->state.policy.next_attempt();
  if (!wait) {
    give_up(self);
  } else if (wait->count() == 0) {
    attempt_recovery(self, cfg);
  } else {
    self->delayed_send(self, *wait, recover_atom::value);
  }
}

// A server of the route failed: it is banned and replaced; the step in flight is
// abandoned and runs again once the route works.
void server_failed(session_pointer self, const client_session_config& cfg, uint64_t server_id,
                   std::string cause, bool planned) {
  client_session_state& st = self->state;
  if (st.failed.count(server_id)) return;
  st.policy.server_failed(server_id, steady::now());
  st.failed[server_id] =
      client_session_state::failure{cause, steady::now(), push_clock_ns(), 0, planned};
  st.last_failure = std::move(cause);
  if (st.recovering) return;  // the recovery under way comes to it
  st.recovering = true;
  if (st.running) {
    running_step& running = *st.running;
    running.id = 0;
    running.restart_hop = cfg.push ? first_unfinished_hop(running) : running.hop;
  }
  schedule_recovery(self, cfg);
}

void try_open(session_pointer self, const client_session_config& cfg);

// This try at opening failed at `server`: what opened is closed, the server banned, and
// the next try waits its backoff, or the open fails once the budget is spent.
void open_failed(session_pointer self, const client_session_config& cfg, uint64_t server_id,
                 std::string why) {
  client_session_state& st = self->state;
  for (const route_hop& h : st.route) {
    self->demonitor(h.handle.address());
    caf::anon_send(h.handle, close_session_request{cfg.session_id});
  }
  st.route.clear();
  st.history.clear();
  st.policy.server_failed(server_id, steady::now());
  st.last_failure = std::move(why);
  const auto wait = st.policy.next_attempt();
  if (!wait) {
    st.opening->deliver(make_error(errc::no_route, st.last_failure + " (after " +
                                                       std::to_string(st.policy.attempts_made()) +
                                                       " tries to open the session)"));
    st.opening.reset();
  } else if (wait->count() == 0) {
    try_open(self, cfg);
  } else {
    self->delayed_send(self, *wait, recover_atom::value);
  }
}

void try_open(session_pointer self, const client_session_config& cfg) {
  route_request whole{0, cfg.n_blocks, self->state.policy.banned_servers(steady::now())};
  self->request(cfg.routing_table, cfg.open_timeout, std::move(whole))
      .then(
          [self, cfg](std::vector<route_hop>& route) {
            // Replies of an abandoned try find another route (or none) in the state.
            auto attempt = std::make_shared<size_t>(route.size());
            self->state.route = route;
            self->state.history.assign(route.size(), {});
            for (const route_hop& h : route) {
              self->monitor(h.handle);
              open_session_request req{protocol_version, cfg.session_id, h.start_block,
                                       h.end_block,      cfg.max_tokens, uint8_t(cfg.codec)};
              self->request(h.handle, cfg.open_timeout, req)
                  .then(
                      [self, attempt](const open_session_reply&) {
                        client_session_state& st = self->state;
                        if (*attempt == 0 || --*attempt > 0) return;
                        st.open = true;
                        st.policy.step_succeeded();
                        st.opening->deliver(describe_route(st.route));
                        st.opening.reset();
                      },
                      [self, cfg, attempt, h](caf::error& err) {
                        if (*attempt == 0) return;
                        *attempt = 0;
                        open_failed(
                            self, cfg, h.server.server_id,
                            "server " + h.server.name + " refused the session: " + describe(err));
                      });
            }
          },
          [self](caf::error& err) {
            client_session_state& st = self->state;
            if (!st.last_failure.empty()) {
              err = make_error(errc::no_route,
                               caf::to_string(err) + " (after: " + st.last_failure + ")");
            }
            st.opening->deliver(std::move(err));
            st.opening.reset();
          });
}

// ---- Spot checks ------------------------------------------------------------------

// Opens session `session_id` on every hop of `hops`; `done` gets the first refusal, if any.
void open_chain(session_pointer self, const client_session_config& cfg, uint64_t session_id,
                const std::vector<route_hop>& hops,
                std::function<void(std::optional<std::pair<size_t, caf::error>>)> done) {
  auto left = std::make_shared<size_t>(hops.size());
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  for (size_t j = 0; j < hops.size(); ++j) {
    const route_hop& h = hops[j];
    open_session_request req{protocol_version, session_id,     h.start_block,
                             h.end_block,      cfg.max_tokens, uint8_t(cfg.codec)};
    self->request(h.handle, cfg.open_timeout, req)
        .then(
            [left, shared_done](const open_session_reply&) {
              if (*left > 0 && --*left == 0) (*shared_done)(std::nullopt);
            },
            [left, shared_done, j](caf::error& err) {
              if (*left == 0) return;
              *left = 0;
              (*shared_done)(std::make_pair(j, std::move(err)));
            });
  }
}

void close_chain(const std::vector<route_hop>& hops, uint64_t session_id) {
  for (const route_hop& h : hops) caf::anon_send(h.handle, close_session_request{session_id});
}

void close_shadow(session_pointer self, client_session_state::shadow_key key) {
  auto it = self->state.shadows.find(key);
  if (it == self->state.shadows.end()) return;
  close_chain(it->second.hops, it->second.session_id);
  self->state.shadows.erase(it);
}

std::string chain_names(const std::vector<route_hop>& hops) {
  std::string out;
  for (const route_hop& h : hops) out += (out.empty() ? "" : " + ") + h.server.name;
  return out;
}

// One check of one route server: its outputs [from, to) for the inputs the session holds.
struct check_job {
  client_session_state::shadow_key key;
  route_hop checked;
  int64_t from = 0;
  int64_t to = 0;
  std::vector<float> inputs;    // [0, to): a referee recomputes from the start
  std::vector<float> expected;  // the route server's outputs [from, to)
};

std::vector<uint64_t> avoided(session_pointer self, const std::vector<uint64_t>& also) {
  client_session_state& st = self->state;
  std::vector<uint64_t> out = st.policy.banned_servers(steady::now());
  for (const auto& [id, f] : st.failed) out.push_back(id);
  out.insert(out.end(), also.begin(), also.end());
  return out;
}

// The verdict carried out: liars banned (the route's replaced, the hops after it
// recomputed from the first wrong position), the evidence on stderr and in the report.
void convict(session_pointer self, const client_session_config& cfg, const check_job& job,
             const std::vector<route_hop>& checkers, const output_mismatch& m, spot_verdict verdict,
             const std::string& referee_text) {
  client_session_state& st = self->state;
  const auto now = steady::now();
  const std::string evidence =
      describe_mismatch(m, job.checked.server.name, chain_names(checkers),
                        span_text(job.checked.start_block, job.checked.end_block)) +
      "; " + referee_text;
  std::cerr << "corolla: session " << cfg.session_id << ": " << evidence << "\n";
  if (st.check_totals.first_ban_step == 0) st.check_totals.first_ban_step = st.check_totals.steps;
  if (verdict != spot_verdict::route_server) {
    for (const route_hop& h : checkers) st.policy.server_lied(h.server.server_id, now);
    close_shadow(self, job.key);
  }
  if (verdict == spot_verdict::checker) return;
  const uint64_t liar = job.checked.server.server_id;
  st.policy.server_lied(liar, now);
  const bool in_route = std::any_of(st.route.begin(), st.route.end(),
                                    [&](const route_hop& h) { return h.server.server_id == liar; });
  if (!in_route || !st.open) return;
  if (!st.pending_refresh || st.pending_refresh->from > m.position) {
    st.pending_refresh = client_session_state::refresh{liar, m.position, SIZE_MAX};
  }
  server_failed(self, cfg, liar, evidence);
}

// The route server and the checkers disagree: a third server recomputes the window.
void referee(session_pointer self, const client_session_config& cfg, std::shared_ptr<check_job> job,
             std::vector<route_hop> checkers, std::vector<float> checked_output,
             output_mismatch m) {
  std::vector<uint64_t> skip{job->checked.server.server_id};
  for (const route_hop& h : checkers) skip.push_back(h.server.server_id);
  auto unrefereed = [self, cfg, job, checkers, m](const std::string& why) {
    convict(self, cfg, *job, checkers, m, spot_verdict::both, why);
  };
  route_request req{job->checked.start_block, job->checked.end_block, avoided(self, skip)};
  self->request(cfg.routing_table, cfg.open_timeout, std::move(req))
      .then(
          [self, cfg, job, checkers, checked_output, m, unrefereed](std::vector<route_hop>& hops) {
            auto run = std::make_shared<chain_run>();
            run->session_id = self->state.check_ids();
            run->hops = std::move(hops);
            run->rows = job->to;
            run->data = job->inputs;
            run->done = [self, cfg, job, checkers, checked_output, m, unrefereed](
                            chain_run& r, std::optional<std::pair<size_t, caf::error>> failed) {
              close_chain(r.hops, r.session_id);
              self->state.check_totals.check_compute_ms += r.compute_ms;
              if (failed) {
                unrefereed("the referee " + chain_names(r.hops) +
                           " failed: " + describe(failed->second));
                return;
              }
              const float* window = r.data.data() + size_t(job->from * cfg.dim);
              const int64_t rows = job->to - job->from;
              const bool route_ok =
                  !first_mismatch(job->expected.data(), window, rows, cfg.dim, job->from);
              const bool checker_ok =
                  !first_mismatch(checked_output.data(), window, rows, cfg.dim, job->from);
              const spot_verdict v = judge(route_ok, checker_ok);
              const std::string who = v == spot_verdict::route_server ? "the checker"
                                      : v == spot_verdict::checker    ? "the route server"
                                                                      : "neither";
              convict(self, cfg, *job, checkers, m, v,
                      "the referee " + chain_names(r.hops) + " agrees with " + who);
            };
            open_chain(self, cfg, run->session_id, run->hops,
                       [self, cfg, run, unrefereed](auto failed) {
                         if (failed) {
                           close_chain(run->hops, run->session_id);
                           unrefereed("the referee " + run->hops[failed->first].server.name +
                                      " refused: " + describe(failed->second));
                           return;
                         }
                         run_chain(self, cfg, run, 0);
                       });
          },
          [unrefereed](caf::error& err) {
            unrefereed("no third server to referee (" + describe(err) + ")");
          });
}

// The shadow's checkers computed the window: equal outputs advance it, others go to a referee.
void compare_check(session_pointer self, const client_session_config& cfg,
                   std::shared_ptr<check_job> job, chain_run& run,
                   std::optional<std::pair<size_t, caf::error>> failed) {
  client_session_state& st = self->state;
  st.check_totals.check_compute_ms += run.compute_ms;
  auto it = st.shadows.find(job->key);
  if (it == st.shadows.end()) return;  // the checked server left the route meanwhile
  client_session_state::shadow& sh = it->second;
  if (failed) {
    // A checker that fails is no evidence against anyone: a fresh shadow next time.
    st.policy.server_failed(run.hops[failed->first].server.server_id, steady::now());
    close_shadow(self, job->key);
    return;
  }
  sh.busy = false;
  ++st.check_totals.checks;
  st.check_totals.positions += job->to - job->from;
  const auto m = first_mismatch(job->expected.data(), run.data.data(), job->to - job->from, cfg.dim,
                                job->from);
  if (!m) {
    sh.verified = std::min(job->to, sh.cut);
    return;
  }
  ++st.check_totals.mismatches;
  sh.busy = true;  // no other check of this server until the referee decides
  referee(self, cfg, job, sh.hops, std::move(run.data), *m);
}

void run_check(session_pointer self, const client_session_config& cfg,
               std::shared_ptr<check_job> job) {
  client_session_state::shadow& sh = self->state.shadows[job->key];
  auto run = std::make_shared<chain_run>();
  run->session_id = sh.session_id;
  run->hops = sh.hops;
  run->pos = job->from;
  run->rows = job->to - job->from;
  run->data.assign(job->inputs.begin() + ptrdiff_t(job->from * cfg.dim), job->inputs.end());
  run->done = [self, cfg, job](chain_run& r, std::optional<std::pair<size_t, caf::error>> failed) {
    compare_check(self, cfg, job, r, std::move(failed));
  };
  run_chain(self, cfg, run, 0);
}

// Checks hop `h`'s outputs since its last check, opening its shadow first if needed.
void check_hop(session_pointer self, const client_session_config& cfg, size_t h) {
  client_session_state& st = self->state;
  const route_hop& hop = st.route[h];
  const client_session_state::shadow_key key = client_session_state::key_of(hop);
  client_session_state::shadow& sh = st.shadows[key];
  if (sh.busy) return;
  const std::vector<float>& outputs =
      h + 1 < st.route.size() ? st.history[h + 1] : st.final_outputs;
  const int64_t rows = int64_t(std::min(st.history[h].size(), outputs.size())) / cfg.dim;
  if (rows <= sh.verified) return;
  auto job = std::make_shared<check_job>();
  job->key = key;
  job->checked = hop;
  job->from = sh.verified;
  job->to = rows;
  job->inputs.assign(st.history[h].begin(), st.history[h].begin() + ptrdiff_t(rows * cfg.dim));
  job->expected.assign(outputs.begin() + ptrdiff_t(job->from * cfg.dim),
                       outputs.begin() + ptrdiff_t(rows * cfg.dim));
  sh.busy = true;
  sh.cut = INT64_MAX;
  if (!sh.hops.empty()) {
    run_check(self, cfg, job);
    return;
  }
  route_request req{hop.start_block, hop.end_block, avoided(self, {hop.server.server_id})};
  self->request(cfg.routing_table, cfg.open_timeout, std::move(req))
      .then(
          [self, cfg, job](std::vector<route_hop>& hops) {
            auto it = self->state.shadows.find(job->key);
            if (it == self->state.shadows.end()) return;
            it->second.session_id = self->state.check_ids();
            it->second.hops = std::move(hops);
            open_chain(self, cfg, it->second.session_id, it->second.hops,
                       [self, cfg, job](auto failed) {
                         auto found = self->state.shadows.find(job->key);
                         if (found == self->state.shadows.end()) return;
                         if (failed) {
                           ++self->state.check_totals.unchecked;
                           close_shadow(self, job->key);
                           return;
                         }
                         run_check(self, cfg, job);
                       });
          },
          [self, job](caf::error&) {
            ++self->state.check_totals.unchecked;
            self->state.shadows.erase(job->key);
          });
}

// A check is due: every hop of the route is checked since its last check.
void check_route(session_pointer self, const client_session_config& cfg) {
  client_session_state& st = self->state;
  if (!st.open || st.recovering) return;
  for (size_t h = 0; h < st.route.size(); ++h) check_hop(self, cfg, h);
}

// After a liar's replacement: hop `hop` recomputes its outputs from the first wrong
// position on (its inputs there came from the liar) and hands them to the next hop.
void refresh_hop(session_pointer self, const client_session_config& cfg, size_t hop) {
  client_session_state& st = self->state;
  const int64_t from = st.pending_refresh->from;
  const int64_t held = int64_t(st.history[hop].size()) / cfg.dim;
  const int64_t to = st.running ? std::min(st.running->step.pos, held) : held;
  // Its shadow was fed the wrong inputs too: it is fed the corrected ones from there.
  const route_hop& h = st.route[hop];
  auto shadow = st.shadows.find(client_session_state::key_of(h));
  if (shadow != st.shadows.end()) {
    shadow->second.verified = std::min(shadow->second.verified, from);
    shadow->second.cut = std::min(shadow->second.cut, from);
  }
  auto next = [self, cfg, hop] {
    client_session_state& s = self->state;
    s.pending_refresh->hop = hop + 1;
    finish_recovery(self, cfg);
  };
  if (to <= from) {
    next();
    return;
  }
  auto run = std::make_shared<chain_run>();
  run->session_id = cfg.session_id;
  run->hops = {st.route[hop]};
  run->pos = from;
  run->rows = to - from;
  run->data.assign(st.history[hop].begin() + ptrdiff_t(from * cfg.dim),
                   st.history[hop].begin() + ptrdiff_t(to * cfg.dim));
  run->done = [self, cfg, hop, next](chain_run& r,
                                     std::optional<std::pair<size_t, caf::error>> failed) {
    client_session_state& s = self->state;
    const route_hop& failing = s.route[hop];
    if (failed) {
      // Its replacement replays the corrected inputs; the hops after it recompute then.
      s.pending_refresh->replaced = failing.server.server_id;
      s.pending_refresh->hop = SIZE_MAX;
      s.recovering = false;
      server_failed(self, cfg, failing.server.server_id,
                    hop_name(failing) + ": recomputing after a liar: " + describe(failed->second));
      return;
    }
    std::vector<float>& out = hop + 1 < s.route.size() ? s.history[hop + 1] : s.final_outputs;
    const size_t at = size_t(r.pos * cfg.dim);
    if (out.size() < at + r.data.size()) out.resize(at + r.data.size());
    std::copy(r.data.begin(), r.data.end(), out.begin() + ptrdiff_t(at));
    next();
  };
  run_chain(self, cfg, run, 0);
}

client_session_actor::behavior_type client_session_behavior(session_pointer self,
                                                            client_session_config cfg) {
  self->state.policy = failover_policy(cfg.failover, cfg.seed);
  self->state.checks = spot_check_schedule(cfg.spot_checks, cfg.seed ^ 0x5bd1e995u);
  self->state.check_ids.seed(cfg.seed ^ 0x9e3779b97f4a7c15u);
  self->set_down_handler([self, cfg](const caf::down_msg& down) {
    client_session_state& st = self->state;
    if (!st.open) return;
    for (const auto& [id, sb] : st.standbys) {
      if (sb.hop.handle && sb.hop.handle.address() == down.source) {
        st.standbys.erase(id);
        return;
      }
    }
    for (const route_hop& h : st.route) {
      if (h.handle.address() != down.source) continue;
      server_failed(self, cfg, h.server.server_id,
                    "server " + h.server.name + " is gone: " + caf::to_string(down.reason));
      return;
    }
  });
  return {
      [self, cfg](open_atom) -> caf::result<std::vector<hop_timing>> {
        client_session_state& st = self->state;
        if (st.open || st.opening || !st.route.empty()) {
          return make_error(errc::malformed_message, "the session is already open");
        }
        st.opening = self->make_response_promise<std::vector<hop_timing>>();
        try_open(self, cfg);
        return *st.opening;
      },
      [self, cfg](session_step& step) -> caf::result<session_step_result> {
        client_session_state& st = self->state;
        if (!st.open) {
          return make_error(errc::no_route, "the session has no open route" +
                                                (st.last_failure.empty()
                                                     ? std::string()
                                                     : " (last failure: " + st.last_failure + ")"));
        }
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
      [self, cfg](recover_atom) {
        if (self->state.recovering) attempt_recovery(self, cfg);
        if (self->state.opening) try_open(self, cfg);
      },
      [self, cfg](hop_output& out) { on_hop_output(self, cfg, out); },
      [self, cfg](drain_atom, uint64_t server_id) {
        // Only the leaving server itself says so: a peer could otherwise move sessions
        // off any server (harmless but for the cost of the move).
        for (const route_hop& h : self->state.route) {
          if (h.server.server_id == server_id &&
              self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(h.handle)) {
            server_failed(self, cfg, server_id, hop_name(h) + " is leaving (hand-over)",
                          /*planned=*/true);
            return;
          }
        }
      },
      [self, cfg](close_atom) {
        for (const route_hop& h : self->state.route) {
          caf::anon_send(h.handle, close_session_request{cfg.session_id});
        }
        while (!self->state.shadows.empty()) close_shadow(self, self->state.shadows.begin()->first);
        while (!self->state.standbys.empty()) {
          close_standby(self, cfg, self->state.standbys.begin()->first);
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
