// block: one transformer block's weights and, per session, its KV cache.
//
// Talks to: its server (which sends a session's step to the first block it uses) and
// the next block of the span, to which it delegates the step, so that the last block
// answers the server's request directly.
//
// Batching: a step is queued, and a flush message is sent to self behind it. Every
// step already in the mailbox when the block becomes free is therefore taken into
// the next batch, and the batch runs as one pass over the weights
// (block_forward_batch). A step never waits for another to arrive: the wait is at
// most the batch in front of it.
//
// Failure: a step that names an impossible position or the wrong shape fails alone
// with an error reply; the others of its batch run. A dead server drops the block
// with it (the server links its blocks).
#include "actors/block.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "model/block_forward.hpp"

namespace corolla {

struct block_state {
  struct queued_step {
    caf::typed_response_promise<block_output> promise;
    block_step step;
  };
  std::unordered_map<uint64_t, kv_cache> caches;  // by session id
  std::deque<queued_step> queue;
  bool flush_sent = false;
  std::vector<float> x;  // the batch's rows, stacked
  block_workspace ws;
  static inline const char* name = "block";
};

namespace {

using block_pointer = block_actor::stateful_pointer<block_state>;

// Takes queued steps up to cfg.max_batch_rows (at least one), runs them as one batch,
// and passes each on.
void run_batch(block_pointer self, const block_config& cfg) {
  block_state& st = self->state;
  const block_weights& w = cfg.model->blocks()[size_t(cfg.index - cfg.model->first_block())];
  const int64_t dim = w.config.dim;

  std::vector<block_state::queued_step> batch;
  std::vector<sequence_step> seqs;
  int64_t rows = 0;
  while (!st.queue.empty()) {
    block_state::queued_step& q = st.queue.front();
    if (!batch.empty() && rows + q.step.n > cfg.max_batch_rows) break;
    block_step& s = q.step;
    // A session's second step must see its first one's keys: it goes in the next batch.
    auto same_session = [&](const block_state::queued_step& b) {
      return b.step.session_id == s.session_id;
    };
    if (std::any_of(batch.begin(), batch.end(), same_session)) break;
    status valid;
    if (s.n < 1 || int64_t(s.hidden.size()) != s.n * dim) {
      valid = status::invalid_argument(
          "block " + std::to_string(cfg.index) + ": " + std::to_string(s.hidden.size()) +
          " values for " + std::to_string(s.n) + " tokens of width " + std::to_string(dim));
    } else {
      auto it = st.caches.find(s.session_id);
      if (it == st.caches.end()) {
        it = st.caches.emplace(s.session_id, kv_cache(w.config.kv_dim(), s.max_tokens)).first;
      }
      valid = it->second.prepare(s.pos, s.n);
      if (valid.ok()) seqs.push_back(sequence_step{&it->second, s.pos, s.n});
    }
    if (valid.ok()) {
      rows += s.n;
      batch.push_back(std::move(q));
    } else {
      q.promise.deliver(to_error(valid));
    }
    st.queue.pop_front();
  }
  if (!batch.empty()) {
    st.x.resize(size_t(rows * dim));
    int64_t at = 0;
    for (const auto& q : batch) {
      std::copy(q.step.hidden.begin(), q.step.hidden.end(), st.x.begin() + at);
      at += int64_t(q.step.hidden.size());
    }
    const auto start = std::chrono::steady_clock::now();
    block_forward_batch(w, seqs, st.x.data(), st.ws);
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    at = 0;
    for (auto& q : batch) {
      block_step& s = q.step;
      std::copy_n(st.x.begin() + at, s.hidden.size(), s.hidden.begin());
      at += int64_t(s.hidden.size());
      s.compute_us += us;
      if (cfg.index + 1 < s.end_block && cfg.next) {
        q.promise.delegate(cfg.next, std::move(s));
      } else {
        q.promise.deliver(block_output{s.session_id, s.compute_us, std::move(s.hidden)});
      }
    }
  }
  if (!st.queue.empty()) {
    st.flush_sent = true;
    self->send(self, flush_atom::value);
  }
}

block_actor::behavior_type block_behavior(block_pointer self, block_config cfg) {
  return {
      [self](block_step& step) -> caf::result<block_output> {
        auto promise = self->make_response_promise<block_output>();
        self->state.queue.push_back({promise, std::move(step)});
        if (!self->state.flush_sent) {
          self->state.flush_sent = true;
          self->send(self, flush_atom::value);
        }
        return promise;
      },
      [self, cfg](flush_atom) {
        self->state.flush_sent = false;
        run_batch(self, cfg);
      },
      [self](close_atom, uint64_t session_id) { self->state.caches.erase(session_id); },
  };
}

}  // namespace

block_actor spawn_block(caf::actor_system& system, block_config cfg) {
  return system.spawn<caf::detached>(block_behavior, std::move(cfg));
}

}  // namespace corolla
