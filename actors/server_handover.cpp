// server_handover: the server's side of a hand-over (messages/session.hpp, Hand-over) —
// the leaver telling its sessions' clients to move off and answering kv_requests with its
// caches' rows, and the receiver adopting a session chunk by chunk. Part of the server
// actor (actors/server.cpp); runs in its context.
//
// Invariants:
//  1. Cache rows leave and arrive exactly as stored (kv_cache's row format), each chunk
//     checksummed and checked against the session's blocks and rows before it is written.
//  2. While a session adopts, its steps wait; if the adoption fails, the session keeps only
//     the rows it had before it ([0, from)), which the client's replay then rewrites.
#include <algorithm>

#include "actors/server_state.hpp"
#include "kernels/kv_rows.hpp"

namespace corolla {

using namespace server_detail;

namespace {

// `then` runs in the actor with what the executor's thread passes the returned callback:
// the executor hands its result over through a ticket (tick_atom), as held outputs do.
template <class T>
std::function<void(T)> back_in_actor(server_pointer self, std::function<void(T&)> then) {
  auto slot = std::make_shared<std::optional<T>>();
  const uint64_t ticket = hold(self, [slot, then] { then(**slot); });
  const server_actor me = caf::actor_cast<server_actor>(self);
  return [slot, ticket, me](T value) {
    *slot = std::move(value);
    caf::send_as(me, me, tick_atom::value, ticket);
  };
}

std::vector<std::shared_ptr<compute_executor::lane>> session_lanes(const server_state& st,
                                                                   const server_config& cfg,
                                                                   const server_state::session& s) {
  const auto& lanes = st.lanes.empty() ? st.kept_lanes : st.lanes;
  return {lanes.begin() + (s.start_block - span_start(cfg)),
          lanes.begin() + (s.end_block - span_start(cfg))};
}

// A row of a session on this server, on the wire: its caches in every block, its input.
uint64_t session_row_bytes(const server_config& cfg, const server_state::session& s) {
  const llama_config& c = cfg.model->config();
  return uint64_t(s.end_block - s.start_block) * 2 * kv_row_bytes(c.kv_dim(), cache_type(cfg)) +
         uint64_t(c.dim) * sizeof(float);
}

// A chunk's wait: the bytes of a chunk over a slow link, with room to spare.
constexpr auto kv_chunk_timeout = std::chrono::seconds(60);
// Rows asked for at once: a few MiB, so a chunk crosses a slow link within its timeout.
constexpr uint64_t kv_chunk_target_bytes = uint64_t(8) << 20;

// The adoption of `session_id` ended: the session's steps go on (or, after an error, the
// session is left with the rows it had before, [0, kept), for the client's replay).
void end_adoption(server_pointer self, const server_config& cfg, uint64_t session_id, int64_t kept,
                  caf::typed_response_promise<int64_t> promise, caf::expected<int64_t> outcome) {
  auto it = self->state.sessions.find(session_id);
  if (it != self->state.sessions.end()) {
    const size_t rows = size_t(kept * cfg.model->config().dim);
    if (!outcome && it->second.history.size() > rows) it->second.history.resize(rows);
    it->second.busy = false;
  }
  if (outcome) {
    promise.deliver(*outcome);
  } else {
    promise.deliver(outcome.error());
  }
  run_waiting(self, cfg, session_id);
}

caf::error closed_while_adopted() {
  return make_error(errc::unknown_session, "the session closed while it was adopted");
}

// One adoption under way: rows [first, rows) of a session, taken from `from`.
struct adoption {
  uint64_t session_id = 0;
  server_actor from;
  int64_t first = 0;
  int64_t rows = 0;
  caf::typed_response_promise<int64_t> promise;
};

// Takes rows [at, a.rows) of the session, a chunk at a time.
void pull_kv(server_pointer self, const server_config& cfg, std::shared_ptr<adoption> a,
             int64_t at) {
  server_state& st = self->state;
  auto fail = [self, cfg, a](caf::error err) {
    end_adoption(self, cfg, a->session_id, a->first, a->promise, std::move(err));
  };
  auto it = st.sessions.find(a->session_id);
  if (it == st.sessions.end()) {
    fail(closed_while_adopted());
    return;
  }
  if (at == a->rows) {
    end_adoption(self, cfg, a->session_id, a->first, a->promise, a->rows);
    return;
  }
  const int64_t per_chunk =
      std::max<int64_t>(1, int64_t(kv_chunk_target_bytes / session_row_bytes(cfg, it->second)));
  const int64_t to = std::min(a->rows, at + per_chunk);
  self->request(a->from, kv_chunk_timeout, kv_request{a->session_id, at, to})
      .then(
          [self, cfg, a, at, to, fail](kv_chunk& chunk) {
            server_state& state = self->state;
            auto open = state.sessions.find(a->session_id);
            if (open == state.sessions.end()) {
              fail(closed_while_adopted());
              return;
            }
            server_state::session& s = open->second;
            const int64_t dim = cfg.model->config().dim;
            std::vector<float> history;
            const bool fits = chunk.session_id == a->session_id && chunk.from == at &&
                              chunk.to == to && chunk.start_block == s.start_block &&
                              chunk.end_block == s.end_block &&
                              chunk.kv_type == uint8_t(cache_type(cfg)) &&
                              chunk.history.codec == uint8_t(tensor_codec::f32);
            if (!fits || kv_chunk_checksum(chunk) != chunk.checksum ||
                !decode_tensor(chunk.history, dim, to - at, history).ok() ||
                int64_t(history.size()) != (to - at) * dim || state.lanes.empty()) {
              fail(make_error(errc::malformed_message, "rows " + span_text(at, to) +
                                                           " of session " +
                                                           std::to_string(a->session_id) +
                                                           " came damaged or for other blocks"));
              return;
            }
            s.history.insert(s.history.end(), history.begin(), history.end());
            cfg.executor->write_kv(
                session_lanes(state, cfg, s), a->session_id, s.max_tokens, at, to - at,
                std::move(chunk.kv),
                back_in_actor<status>(self, [self, cfg, a, to, fail](status& written) {
                  if (!written.ok()) {
                    fail(to_error(written));
                    return;
                  }
                  pull_kv(self, cfg, a, to);
                }));
          },
          [fail](caf::error& err) { fail(std::move(err)); });
}

}  // namespace

// Draining: no new sessions, and each open session's client is told to move it off.
void server_detail::start_draining(server_pointer self, const server_config& cfg) {
  server_state& st = self->state;
  if (st.state == serving_state::online) st.state = serving_state::draining;
  for (const auto& [id, s] : st.sessions) {
    if (auto client = caf::actor_cast<client_session_actor>(s.client)) {
      self->send(client, drain_atom::value, cfg.server_id);
    }
  }
}

caf::result<kv_chunk> server_detail::send_kv(server_pointer self, const server_config& cfg,
                                             const kv_request& req) {
  server_state& st = self->state;
  auto it = st.sessions.find(req.session_id);
  if (it == st.sessions.end()) {
    return make_error(errc::unknown_session,
                      "session " + std::to_string(req.session_id) + " is not open on " + cfg.name);
  }
  const server_state::session& s = it->second;
  const int64_t dim = cfg.model->config().dim;
  const int64_t length = s.length(dim);
  if (req.from < 0 || req.to <= req.from || req.to > length) {
    return make_error(errc::malformed_message, "rows " + span_text(req.from, req.to) +
                                                   " of a session of " + std::to_string(length) +
                                                   " tokens on " + cfg.name);
  }
  if (uint64_t(req.to - req.from) * session_row_bytes(cfg, s) > max_kv_chunk_bytes) {
    return make_error(errc::malformed_message,
                      std::to_string(req.to - req.from) + " rows of cache exceed a chunk's " +
                          std::to_string(max_kv_chunk_bytes >> 20) + " MiB");
  }
  const bool readable = st.kept_lanes.empty() ? !st.restarting && !st.lanes.empty() : true;
  if (!readable || cfg.faults.fail_kv_requests) {
    return make_error(errc::compute_failed, cfg.name + " can not read its blocks' caches now");
  }
  kv_chunk chunk;
  chunk.session_id = req.session_id;
  chunk.from = req.from;
  chunk.to = req.to;
  chunk.start_block = s.start_block;
  chunk.end_block = s.end_block;
  chunk.kv_type = uint8_t(cache_type(cfg));
  chunk.history =
      encode_tensor(tensor_codec::f32, s.history.data() + req.from * dim, req.to - req.from, dim);
  auto promise = self->make_response_promise<kv_chunk>();
  cfg.executor->read_kv(
      session_lanes(st, cfg, s), req.session_id, req.from, req.to,
      back_in_actor<result<std::string>>(self, [promise, chunk](result<std::string>& rows) mutable {
        if (!rows.ok()) {
          promise.deliver(to_error(rows.error()));
          return;
        }
        chunk.kv = std::move(*rows);
        chunk.checksum = kv_chunk_checksum(chunk);
        promise.deliver(std::move(chunk));
      }));
  return promise;
}

caf::result<int64_t> server_detail::adopt(server_pointer self, const server_config& cfg,
                                          const adopt_request& req, const caf::actor& from) {
  server_state& st = self->state;
  if (cfg.faults.crash_on_adopt) {
    self->quit(make_error(errc::compute_failed, cfg.name + " crashed (fault injection) adopting"));
    return make_error(errc::compute_failed, cfg.name + " crashed");
  }
  auto it = st.sessions.find(req.session_id);
  if (it == st.sessions.end()) {
    return make_error(errc::unknown_session, "session " + std::to_string(req.session_id) +
                                                 " is not open on " + cfg.name + " to adopt");
  }
  server_state::session& s = it->second;
  const int64_t dim = cfg.model->config().dim;
  if (s.busy || !from || req.from < 0 || req.from > s.length(dim) || req.rows <= req.from ||
      req.rows > s.max_tokens) {
    return make_error(errc::malformed_message,
                      "session " + std::to_string(req.session_id) + " on " + cfg.name +
                          " can not adopt rows " + span_text(req.from, req.rows) +
                          ": it must be open and idle, hold the rows before them, and the rows "
                          "be within its " +
                          std::to_string(s.max_tokens));
  }
  s.busy = true;
  s.history.resize(size_t(req.from * dim));
  auto a = std::make_shared<adoption>();
  a->session_id = req.session_id;
  a->from = caf::actor_cast<server_actor>(from);
  a->first = req.from;
  a->rows = req.rows;
  a->promise = self->make_response_promise<int64_t>();
  pull_kv(self, cfg, a, req.from);
  return a->promise;
}

}  // namespace corolla
