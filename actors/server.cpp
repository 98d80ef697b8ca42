// server: a span of blocks, the sessions open on it, and admission.
//
// Owns: the span's block actors (linked: they live and die with the server); per
// session its block range, its reply codec and the history of its inputs (what a
// restarted block would be replayed, and what a client's replacement server would be
// sent; its length is the session's cache length); the KV-cache budget.
// Talks to: client sessions (open, step, close), its blocks (a block_step to the
// session's first block runs the span), the routing table (announce).
//
//   online ──drain_atom / move_atom──▶ draining (no new sessions) ──leave_atom──▶ offline
//
// Each state change is announced at once; the record is also re-announced every
// announce_period so that replicas with a TTL keep it.
//
// A session's steps run one at a time, so block caches never see two steps of a session
// at once: a step while the previous one is in flight waits for it, up to
// max_waiting_steps (messages/session.hpp); more are refused (busy). Waiting steps are the
// chunks of a pipelined prefill, or an abandoned attempt's: a step at or below a waiting
// one's position supersedes it (a client reruns a step after a failover with a higher id,
// and the rerun truncates the cache there anyway), and the superseded one is answered
// busy without running.
// Positions follow kv_cache's rule: pos == length appends, pos < length truncates then
// appends, pos > length is a gap and is refused without touching anything.
// A malformed request (bad codec tag, wrong shape, wrong protocol version, unknown
// session) gets an error reply; the server goes on serving the others.
//
// Hand-over (messages/session.hpp; actors/server_handover.cpp): a server that starts
// draining tells each session's client to move the session off it, and answers the
// kv_requests of the server the client chose, which adopts the session: its caches and
// input history, chunk by chunk, bit for bit. While it adopts, the session's steps wait;
// if it fails, the session keeps what it had before and the client replays to it instead.
#include "actors/server.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/block.hpp"
#include "actors/local_only.hpp"
#include "actors/server_state.hpp"
#include "model/kv_cache.hpp"

namespace corolla {

using namespace server_detail;

namespace {

server_record make_record(server_pointer self, const server_config& cfg) {
  server_record r;
  r.server_id = cfg.server_id;
  r.name = cfg.name;
  r.protocol_version = protocol_version;
  r.start_block = span_start(cfg);
  r.end_block = span_end(cfg);
  r.state = uint8_t(self->state.state);
  r.compute_ms_per_block = self->state.compute_ms_per_block;
  r.cache_bytes_free = cfg.kv_budget_bytes - self->state.reserved_bytes;
  r.version = self->state.record_version;
  r.host = cfg.host;
  r.port = cfg.port;
  r.model_id = cfg.model_id;
  r.sessions = int64_t(self->state.sessions.size());
  for (const auto& [id, s] : self->state.sessions) r.kv_rows += s.length(cfg.model->config().dim);
  r.codec = uint8_t(cfg.codec.value_or(tensor_codec::f32));
  r.block_restarts = self->state.block_restarts;
  r.movable = cfg.balances && std::chrono::steady_clock::now() >= cfg.may_move_at;
  r.throughput = announced_throughput(self->state.compute_ms_per_block,
                                      span_end(cfg) - span_start(cfg), cfg.network_steps_per_s);
  r.next_start = self->state.next_start;
  r.next_end = self->state.next_end;
  return r;
}

}  // namespace

// A new version of the record, sent to the routing table; returned for the caller.
server_record server_detail::announce(server_pointer self, const server_config& cfg) {
  ++self->state.record_version;
  server_record r = make_record(self, cfg);
  if (cfg.routing_table) {
    self->send(cfg.routing_table, announce_atom::value, r, caf::actor_cast<server_actor>(self));
  }
  return r;
}

namespace {

caf::result<open_session_reply> open_session(server_pointer self, const server_config& cfg,
                                             const open_session_request& req) {
  server_state& st = self->state;
  if (st.state != serving_state::online) {
    return make_error(errc::draining,
                      cfg.name + " is " + to_string(st.state) + " and takes no new sessions");
  }
  if (req.protocol_version != protocol_version) {
    return make_error(errc::protocol_mismatch,
                      "client speaks protocol " + std::to_string(req.protocol_version) +
                          ", server " + cfg.name + " speaks " + std::to_string(protocol_version));
  }
  if (req.start_block < span_start(cfg) || req.end_block > span_end(cfg) ||
      req.start_block >= req.end_block) {
    return make_error(errc::malformed_message,
                      "blocks " + span_text(req.start_block, req.end_block) + " are not inside " +
                          cfg.name + "'s span " + span_text(span_start(cfg), span_end(cfg)));
  }
  const llama_config& c = cfg.model->config();
  if (req.max_tokens < 1 || req.max_tokens > c.context_length) {
    return make_error(errc::malformed_message, "a session of " + std::to_string(req.max_tokens) +
                                                   " tokens: the model's context is 1.." +
                                                   std::to_string(c.context_length));
  }
  if (req.codec > uint8_t(tensor_codec::int8_block)) {
    return make_error(errc::malformed_message, "unknown codec tag " + std::to_string(req.codec));
  }
  if (cfg.codec && req.codec != uint8_t(*cfg.codec)) {
    return make_error(errc::malformed_message, "the session asks for codec " +
                                                   std::string(to_string(tensor_codec(req.codec))) +
                                                   " but this swarm's wire codec is " +
                                                   to_string(*cfg.codec));
  }
  if (st.sessions.count(req.session_id)) {
    return make_error(errc::malformed_message,
                      "session " + std::to_string(req.session_id) + " is already open");
  }
  if (!self->current_sender()) {
    // Nobody to monitor, so nothing would end it (a peer's routed message can come
    // without a source actor; monitoring nobody crashed CAF).
    return make_error(errc::malformed_message, "an open session request without a sender");
  }
  const int64_t bytes = session_reservation_bytes(c, req.end_block - req.start_block,
                                                  req.max_tokens, cache_type(cfg));
  if (st.reserved_bytes + bytes > cfg.kv_budget_bytes) {
    const int64_t mib = 1 << 20;
    return make_error(errc::over_budget,
                      "session asks for " + std::to_string(req.max_tokens) + " tokens over " +
                          std::to_string(req.end_block - req.start_block) + " blocks (" +
                          std::to_string(bytes / mib) + " MiB of KV cache); " + cfg.name + " has " +
                          std::to_string((cfg.kv_budget_bytes - st.reserved_bytes) / mib) +
                          " MiB free of " + std::to_string(cfg.kv_budget_bytes / mib));
  }
  server_state::session s;
  s.start_block = req.start_block;
  s.end_block = req.end_block;
  s.max_tokens = req.max_tokens;
  s.codec = tensor_codec(req.codec);
  s.reserved_bytes = bytes;
  st.reserved_bytes += bytes;
  // A client that goes away without closing (crash, lost connection) must not hold its
  // cache here for ever: its down_msg ends its sessions.
  s.client = caf::actor_cast<caf::actor_addr>(self->current_sender());
  self->monitor(self->current_sender());
  st.sessions.emplace(req.session_id, std::move(s));
  return open_session_reply{req.session_id, cfg.name, bytes};
}

void execute_step(server_pointer self, const server_config& cfg, step_request& req, step_done done);

}  // namespace

// The session's step is done: the next one waiting, if any, runs.
void server_detail::run_waiting(server_pointer self, const server_config& cfg,
                                uint64_t session_id) {
  auto it = self->state.sessions.find(session_id);
  if (it == self->state.sessions.end() || it->second.busy || it->second.waiting.empty()) return;
  auto [req, done] = std::move(it->second.waiting.front());
  it->second.waiting.pop_front();
  execute_step(self, cfg, req, std::move(done));
}

namespace {

// The job's step through the session's blocks; its `done` gets the reply or the error.
// No timeout of its own: the blocks live and die with the server (a crash reaches the
// exit handler), the executor answers every step, and the client session times the
// whole step. (A timeout per request costs a wake-up of CAF's clock thread, which
// preempts the kernels.)
void run_on_blocks(server_pointer self, const server_config& cfg, block_job job) {
  server_state& st = self->state;
  if (st.restarting) {
    st.after_restart.push_back(std::move(job));
    return;
  }
  auto it = st.sessions.find(job.session_id);
  if (it == st.sessions.end() || st.blocks.empty()) {
    job.done(make_error(errc::unknown_session, "session " + std::to_string(job.session_id) +
                                                   " is no longer open on " + cfg.name));
    return;
  }
  const server_state::session& s = it->second;
  block_step step{job.session_id, job.pos, job.n, s.max_tokens, s.end_block, 0, job.input};
  const block_actor& first = st.blocks[size_t(s.start_block - span_start(cfg))];
  const uint64_t session_id = job.session_id, epoch = st.epoch;
  const int64_t dim = cfg.model->config().dim;
  st.jobs[session_id] = std::move(job);
  // Takes the job back; none when a restart has taken it over.
  auto take = [self, session_id, epoch]() -> std::optional<block_job> {
    server_state& state = self->state;
    auto found = state.jobs.find(session_id);
    if (state.epoch != epoch || found == state.jobs.end()) return std::nullopt;
    block_job out = std::move(found->second);
    state.jobs.erase(found);
    return out;
  };
  self->request(first, caf::infinite, std::move(step))
      .then(
          [self, cfg, take, dim](block_output& out) {
            std::optional<block_job> taken = take();
            if (!taken) return;
            block_job& ran = *taken;
            auto found = self->state.sessions.find(ran.session_id);
            if (found == self->state.sessions.end()) {
              ran.done(make_error(errc::unknown_session, "session closed during a step"));
              return;
            }
            server_state::session& open = found->second;
            // The history changes only when the step has run everywhere.
            open.history.resize(size_t(ran.pos * dim));
            open.history.insert(open.history.end(), ran.input.begin(), ran.input.end());
            open.busy = false;
            if (ran.n == 1) {
              const double ms =
                  double(out.compute_us) / 1000.0 / double(open.end_block - open.start_block);
              double& avg = self->state.compute_ms_per_block;
              avg = avg == 0 ? ms : 0.9 * avg + 0.1 * ms;
            }
            const int64_t server_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - ran.arrived)
                                          .count();
            const int64_t alter = cfg.faults.alter_every;
            if (alter > 0 && ++self->state.outputs_made % alter == 0) {
              float& v = out.hidden[size_t((ran.n - 1) * dim)];
              v = v == 0 ? 1.0f : -v;
            }
            ran.done(step_reply{ran.session_id, ran.step_id,
                                encode_tensor(open.codec, out.hidden.data(), ran.n, dim),
                                out.compute_us, server_us});
            run_waiting(self, cfg, ran.session_id);
          },
          [self, cfg, take, dim](caf::error& err) {
            std::optional<block_job> taken = take();
            if (!taken) return;
            block_job& ran = *taken;
            if (!is_corolla_error(err)) {
              // The block died with the step (CAF's error, not the block's answer): the
              // job waits for the exit handler's restart, which runs it again.
              self->state.jobs[ran.session_id] = std::move(ran);
              return;
            }
            auto found = self->state.sessions.find(ran.session_id);
            if (found != self->state.sessions.end()) {
              // Blocks before the failing one may have advanced: the next step must
              // start at or before pos, which truncates them.
              server_state::session& failed = found->second;
              failed.history.resize(std::min(failed.history.size(), size_t(ran.pos * dim)));
              failed.busy = false;
            }
            ran.done(std::move(err));
            run_waiting(self, cfg, ran.session_id);
          });
}

// Lanes and block actors for the span, linked to the server (which traps their exits).
// Lanes are made last to first, so each knows the next one.
void spawn_blocks(server_pointer self, const server_config& cfg) {
  server_state& st = self->state;
  const fault_injection& f = cfg.faults;
  std::shared_ptr<compute_executor::lane> next;
  const int64_t count = int64_t(cfg.model->blocks().size());
  st.blocks.assign(size_t(count), block_actor{});
  st.lanes.assign(size_t(count), nullptr);
  for (int64_t i = count - 1; i >= 0; --i) {
    const int64_t index = span_start(cfg) + i;
    next = cfg.executor->add_lane(cfg.model, index, next);
    st.lanes[size_t(i)] = next;
    block_config bc{cfg.executor, next, index, -1};
    if (index == f.crash_block && st.crashing_lives < f.block_crashes) {
      bc.crash_after_steps = f.block_crash_after_steps;
      ++st.crashing_lives;
    }
    block_actor block = spawn_block(self->system(), bc);
    self->link_to(block);
    st.blocks[size_t(i)] = block;
  }
}

void stop_blocks(server_pointer self) {
  for (const block_actor& b : self->state.blocks) {
    self->unlink_from(b);
    caf::anon_send_exit(b, caf::exit_reason::kill);
  }
  self->state.blocks.clear();
  self->state.lanes.clear();
}

// The caches are rebuilt: the steps that waited run now.
void finish_restart(server_pointer self, const server_config& cfg) {
  server_state& st = self->state;
  st.restarting = false;
  auto jobs = std::move(st.after_restart);
  st.after_restart.clear();
  for (block_job& job : jobs) run_on_blocks(self, cfg, std::move(job));
}

// New block actors with empty caches; every open session's inputs replayed through them
// (one prefill each; outputs dropped), then the interrupted steps run again.
void restart_blocks(server_pointer self, const server_config& cfg) {
  server_state& st = self->state;
  ++st.block_restarts;
  stop_blocks(self);
  spawn_blocks(self, cfg);
  st.restarting = true;
  const int64_t dim = cfg.model->config().dim;
  const uint64_t epoch = st.epoch;
  auto pending = std::make_shared<size_t>(1);  // one for the loop below
  auto replayed = [self, cfg, epoch, pending] {
    if (self->state.epoch == epoch && --*pending == 0) finish_restart(self, cfg);
  };
  for (auto& [id, s] : st.sessions) {
    const int64_t length = s.length(dim);
    if (length == 0) continue;
    ++*pending;
    const block_actor& first = st.blocks[size_t(s.start_block - span_start(cfg))];
    self->request(first, caf::infinite,
                  block_step{id, 0, length, s.max_tokens, s.end_block, 0, s.history})
        .then([replayed](const block_output&) { replayed(); },
              [self, replayed, session_id = id](const caf::error&) {
                // The session can not be rebuilt here: it ends, and its client fails over.
                auto found = self->state.sessions.find(session_id);
                if (found != self->state.sessions.end()) {
                  self->state.reserved_bytes -= found->second.reserved_bytes;
                  self->state.sessions.erase(found);
                }
                replayed();
              });
  }
  replayed();
}

// How long a span given up keeps its last caches for the hand-overs of its sessions.
constexpr auto hand_over_grace = std::chrono::seconds(10);

// Too many crashes: the node gives the span up. It drains (routes avoid it), tells its
// sessions' clients to move off (they take the caches over to another server of the span:
// a hand-over, when the last life's caches are whole), asks another node to host the span
// (through the tables: rehost_atom), then ends its sessions: clients not moved by then fail
// over to a server of the span (the new one, or another) and replay there. Steps arriving
// meanwhile wait, and end the same way.
void hand_over(server_pointer self, const server_config& cfg, const std::string& why) {
  server_state& st = self->state;
  // The last life's caches are whole unless it crashed while they were being rebuilt: then
  // the sessions' clients may take them over (hand-over) rather than replay.
  const bool caches_whole = !st.restarting;
  if (caches_whole) st.kept_lanes = st.lanes;
  stop_blocks(self);
  st.state = serving_state::draining;
  st.restarting = true;
  if (caches_whole) start_draining(self, cfg);
  auto finish = [self, cfg, why](const std::string& where) {
    server_state& state = self->state;
    const caf::error err =
        make_error(errc::compute_failed, cfg.name + " gave its span up: " + why + where);
    auto jobs = std::move(state.after_restart);
    state.after_restart.clear();
    state.restarting = false;
    for (block_job& job : jobs) job.done(err);
    auto end_sessions = [self, cfg] {
      self->state.sessions.clear();
      self->state.reserved_bytes = 0;
      self->state.kept_lanes.clear();
      announce(self, cfg);
    };
    if (state.kept_lanes.empty()) {
      end_sessions();
      return;
    }
    // Clients taking the caches over have this long; the sessions still open then end.
    announce(self, cfg);
    self->delayed_send(self, hand_over_grace, tick_atom::value, hold(self, end_sessions));
  };
  if (!cfg.routing_table) {
    finish("");
    return;
  }
  self->request(cfg.routing_table, std::chrono::seconds(130), rehost_atom::value, span_start(cfg),
                span_end(cfg))
      .then([finish](const server_record& r) { finish("; re-hosted on " + r.name); },
            [finish](const caf::error& e) { finish("; not re-hosted: " + describe(e)); });
}

// A block actor died (not by the server's hand): restart the span's blocks, or hand
// the span over when crashes come too often (supervision_policy).
void on_block_crash(server_pointer self, const server_config& cfg, const caf::error& reason) {
  server_state& st = self->state;
  ++st.epoch;
  for (auto& [id, job] : st.jobs) st.after_restart.push_back(std::move(job));
  st.jobs.clear();
  if (st.supervision.crashed(std::chrono::steady_clock::now()) ==
      supervision_policy::decision::hand_over) {
    hand_over(self, cfg,
              std::to_string(cfg.supervision.max_restarts + 1) + " block crashes within " +
                  std::to_string(cfg.supervision.window.count()) +
                  " ms (last: " + describe(reason) + ")");
  } else {
    restart_blocks(self, cfg);
  }
  announce(self, cfg);
}

// Runs `req` through the session's blocks; `done` gets the reply or the error, once.
void execute_step(server_pointer self, const server_config& cfg, step_request& req,
                  step_done done) {
  server_state& st = self->state;
  auto it = st.sessions.find(req.session_id);
  if (it == st.sessions.end()) {
    done(make_error(errc::unknown_session,
                    "session " + std::to_string(req.session_id) + " is not open on " + cfg.name));
    return;
  }
  server_state::session& s = it->second;
  if (s.busy) {
    for (auto w = s.waiting.begin(); w != s.waiting.end();) {
      if (w->first.pos < req.pos || w->first.step_id > req.step_id) {
        ++w;
        continue;
      }
      w->second(make_error(errc::busy, "step " + std::to_string(w->first.step_id) + " of session " +
                                           std::to_string(req.session_id) + " superseded by step " +
                                           std::to_string(req.step_id)));
      w = s.waiting.erase(w);
    }
    if (s.waiting.size() >= max_waiting_steps) {
      done(make_error(errc::busy, "session " + std::to_string(req.session_id) + " already has " +
                                      std::to_string(s.waiting.size() + 1) + " steps on " +
                                      cfg.name));
      return;
    }
    s.waiting.emplace_back(std::move(req), std::move(done));
    return;
  }
  if (req.step_id <= s.last_step_id) {
    done(make_error(errc::malformed_message,
                    "step " + std::to_string(req.step_id) + " of session " +
                        std::to_string(req.session_id) + " comes after step " +
                        std::to_string(s.last_step_id) + ": a duplicate or out of order"));
    return;
  }
  const int64_t dim = cfg.model->config().dim;
  std::vector<float> hidden;
  if (status decoded = decode_tensor(req.hidden, dim, s.max_tokens, hidden); !decoded.ok()) {
    done(to_error(decoded));
    return;
  }
  const int64_t n = req.hidden.rows;
  if (req.pos < 0 || req.pos > s.length(dim)) {
    done(make_error(errc::position_gap,
                    "step at position " + std::to_string(req.pos) + " but session " +
                        std::to_string(req.session_id) + " holds " + std::to_string(s.length(dim)) +
                        " tokens on " + cfg.name + ": positions must not leave a gap"));
    return;
  }
  if (req.pos + n > s.max_tokens) {
    done(make_error(errc::over_budget, "step to position " + std::to_string(req.pos + n) +
                                           " exceeds session " + std::to_string(req.session_id) +
                                           "'s " + std::to_string(s.max_tokens) + " tokens"));
    return;
  }
  s.busy = true;
  s.last_step_id = req.step_id;
  run_on_blocks(self, cfg,
                block_job{req.session_id, req.step_id, req.pos, n, std::move(hidden),
                          std::move(done), std::chrono::steady_clock::now()});
}

// Fault injection as a step arrives: false when the step is to go unanswered (stalled,
// dropped, or the server crashing now).
bool take_step(server_pointer self, const server_config& cfg) {
  const fault_injection& f = cfg.faults;
  server_state& st = self->state;
  if (!f.any()) return true;
  ++st.steps_seen;
  if (f.crash_after_steps >= 0 && st.steps_seen > f.crash_after_steps) {
    self->quit(make_error(errc::compute_failed, cfg.name + " crashed (fault injection) after " +
                                                    std::to_string(f.crash_after_steps) +
                                                    " steps"));
    return false;
  }
  if (f.stall_after_steps >= 0 && st.steps_seen > f.stall_after_steps) st.stalled = true;
  if (st.stalled) return false;
  return f.drop_fraction <= 0 ||
         std::uniform_real_distribution<double>(0, 1)(st.fault_rng) >= f.drop_fraction;
}

// `done`, or with fault injection's reply_delay, `done` called that much later.
step_done held_back(server_pointer self, const server_config& cfg, step_done done) {
  const auto delay = cfg.faults.reply_delay;
  if (delay.count() <= 0) return done;
  return [self, delay, done](caf::expected<step_reply> reply) {
    self->delayed_send(self, delay, tick_atom::value, hold(self, [done, reply] { done(reply); }));
  };
}

caf::result<step_reply> run_step(server_pointer self, const server_config& cfg, step_request& req) {
  auto promise = self->make_response_promise<step_reply>();
  if (!take_step(self, cfg)) return promise;  // never delivered
  execute_step(self, cfg, req,
               held_back(self, cfg, [promise](caf::expected<step_reply> reply) mutable {
                 if (reply) {
                   promise.deliver(std::move(*reply));
                 } else {
                   promise.deliver(reply.error());
                 }
               }));
  return promise;
}

// Push mode: runs the step, sends the output on to the next server of the chain, and
// tells the client session. A step this session has already seen is dropped.
void push(server_pointer self, const server_config& cfg, push_step& p) {
  const int64_t inbound_us = (push_clock_ns() - p.sent_ns) / 1000;
  if (!take_step(self, cfg)) return;
  auto it = self->state.sessions.find(p.step.session_id);
  if (it != self->state.sessions.end()) {
    const server_state::session& s = it->second;
    if (p.step.step_id <= s.last_step_id) return;
    for (const auto& w : s.waiting) {
      if (w.first.step_id >= p.step.step_id) return;
    }
  }
  hop_output out;
  out.session_id = p.step.session_id;
  out.step_id = p.step.step_id;
  out.hop = p.hop;
  out.inbound_us = inbound_us;
  out.input_digest = tensor_digest(p.step.hidden);
  const int64_t pos = p.step.pos;
  execute_step(
      self, cfg, p.step,
      held_back(
          self, cfg,
          [self, out, pos, every = cfg.faults.alter_handover_every, chain = std::move(p.chain),
           reply_to = std::move(p.reply_to)](caf::expected<step_reply> reply) mutable {
            if (!reply) {
              const caf::error& err = reply.error();
              out.error_code = uint8_t(errc_of(err));
              out.error_text = describe(err);
              self->send(caf::actor_cast<client_session_actor>(reply_to), std::move(out));
              return;
            }
            if (!chain.empty()) {
              caf::actor next = chain.front();
              chain.erase(chain.begin());
              tensor_bytes handed = reply->hidden;
              if (every > 0 && ++self->state.handovers % every == 0 && !handed.data.empty()) {
                handed.data[0] ^= 0x40;
              }
              self->send(
                  caf::actor_cast<server_actor>(next),
                  push_step{step_request{out.session_id, out.step_id, pos, std::move(handed)},
                            out.hop + 1, push_clock_ns(), std::move(chain), reply_to});
            }
            out.hidden = std::move(reply->hidden);
            out.compute_us = reply->compute_us;
            out.server_us = reply->server_us;
            self->send(caf::actor_cast<client_session_actor>(reply_to), std::move(out));
          }));
}

// Drops a session: its caches in the blocks, its reservation, its waiting steps.
// Returns the bytes freed.
int64_t end_session(server_pointer self, const server_config& cfg,
                    std::unordered_map<uint64_t, server_state::session>::iterator it) {
  server_state& st = self->state;
  const uint64_t session_id = it->first;
  const server_state::session& s = it->second;
  for (int64_t b = s.start_block; b < s.end_block && !st.blocks.empty(); ++b) {
    self->send(st.blocks[size_t(b - span_start(cfg))], close_atom::value, session_id);
  }
  const int64_t freed = s.reserved_bytes;
  st.reserved_bytes -= freed;
  auto waiting = std::move(it->second.waiting);
  st.sessions.erase(it);
  for (auto& w : waiting) {
    w.second(
        make_error(errc::unknown_session, "session " + std::to_string(session_id) + " was closed"));
  }
  return freed;
}

caf::result<close_session_reply> close_session(server_pointer self, const server_config& cfg,
                                               const close_session_request& req) {
  auto it = self->state.sessions.find(req.session_id);
  if (it == self->state.sessions.end()) {
    return make_error(errc::unknown_session,
                      "session " + std::to_string(req.session_id) + " is not open on " + cfg.name);
  }
  return close_session_reply{req.session_id, end_session(self, cfg, it)};
}

server_actor::behavior_type server_behavior(server_pointer self, server_config cfg) {
  if (!cfg.executor) cfg.executor = std::make_shared<compute_executor>();
  self->state.supervision = supervision_policy(cfg.supervision);
  spawn_blocks(self, cfg);
  // Peers can send anything to a handle they know: what this actor does not handle is
  // dropped without a line on stderr (CAF's default prints each, a flood on demand).
  self->set_default_handler(caf::drop);
  self->set_exit_handler([self, cfg](caf::exit_msg& msg) {
    for (const block_actor& b : self->state.blocks) {
      if (b.address() == msg.source) {
        on_block_crash(self, cfg, msg.reason);
        return;
      }
    }
    if (msg.reason) self->quit(std::move(msg.reason));  // CAF's default for other exits
  });
  self->set_down_handler([self, cfg](const caf::down_msg& down) {
    auto& sessions = self->state.sessions;
    for (auto it = sessions.begin(); it != sessions.end();) {
      auto next = std::next(it);
      if (it->second.client == down.source) end_session(self, cfg, it);
      it = next;
    }
  });
  self->state.compute_ms_per_block = cfg.compute_ms_per_block;
  self->state.fault_rng.seed(cfg.faults.seed);
  announce(self, cfg);
  if (cfg.announce_period.count() > 0) {
    self->delayed_send(self, cfg.announce_period, tick_atom::value);
  }
  return {
      [self, cfg](const open_session_request& req) -> caf::result<open_session_reply> {
        // A server stalled "after 0 steps" answers nothing from the start, opens included.
        const int64_t stall = cfg.faults.stall_after_steps;
        if (stall >= 0 && self->state.steps_seen >= stall) self->state.stalled = true;
        if (self->state.stalled) return self->make_response_promise<open_session_reply>();
        return open_session(self, cfg, req);
      },
      [self, cfg](step_request& req) { return run_step(self, cfg, req); },
      [self, cfg](push_step& p) { push(self, cfg, p); },
      [self, cfg](const close_session_request& req) { return close_session(self, cfg, req); },
      [self, cfg](info_atom) { return make_record(self, cfg); },
      [self, cfg](drain_atom) -> caf::result<server_record> {
        if (!from_this_node(self)) return refused_from_peer("drain");
        start_draining(self, cfg);
        return announce(self, cfg);
      },
      [self, cfg](move_atom, int64_t start, int64_t end) -> caf::result<server_record> {
        if (!from_this_node(self)) return refused_from_peer("move");
        self->state.next_start = start;
        self->state.next_end = end;
        start_draining(self, cfg);
        return announce(self, cfg);
      },
      [self, cfg](const kv_request& req) { return send_kv(self, cfg, req); },
      [self, cfg](adopt_atom, const adopt_request& req, const caf::actor& from) {
        return adopt(self, cfg, req, from);
      },
      [self, cfg](leave_atom) -> caf::result<server_record> {
        if (!from_this_node(self)) return refused_from_peer("leave");
        self->state.state = serving_state::offline;
        return announce(self, cfg);
      },
      [self](tick_atom, uint64_t ticket) {
        if (!from_this_node(self)) return;
        auto it = self->state.held.find(ticket);
        if (it == self->state.held.end()) return;
        auto release = std::move(it->second);
        self->state.held.erase(it);
        release();
      },
      [self, cfg](tick_atom) {
        if (!from_this_node(self)) return;
        announce(self, cfg);
        self->delayed_send(self, cfg.announce_period, tick_atom::value);
      },
  };
}

}  // namespace

int64_t session_reservation_bytes(const llama_config& c, int64_t blocks, int64_t max_tokens,
                                  kv_type cache) {
  return blocks * int64_t(kv_cache::bytes_for(c.kv_dim(), max_tokens, cache)) +
         max_tokens * c.dim * int64_t(sizeof(float));
}

server_actor spawn_server(caf::actor_system& system, server_config cfg) {
  return system.spawn(server_behavior, std::move(cfg));
}

double announced_throughput(double compute_ms_per_block, int64_t blocks,
                            double network_steps_per_s) {
  const double compute = 1000.0 / (std::max(compute_ms_per_block, 1e-6) * double(blocks));
  return network_steps_per_s > 0 ? std::min(compute, network_steps_per_s) : compute;
}

}  // namespace corolla
