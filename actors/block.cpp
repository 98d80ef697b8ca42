// block: one transformer block's weights and, per session, its KV cache.
//
// Talks to: its server (which sends a session's step to the first block it uses) and
// the next block of the span, to which it delegates the step, so that the last block
// answers the server's request directly.
//
// Batching: steps queue while the block's previous batch runs on the node's compute
// executor (or waits there behind other blocks' batches); when it returns, everything
// queued goes out as the next batch, one pass over the weights for all of them
// (block_forward_batch). A step never waits for another to arrive: the wait is at
// most the batch in front of it.
//
//   idle ──step──▶ computing ──executor done──▶ idle, or computing the queue
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

// What the executor's thread works on. Shared with the job, so that a block that
// exits while its batch runs (node shutdown) does not pull the caches from under it.
// While a batch runs, only the executor touches it.
struct block_core {
  std::unordered_map<uint64_t, kv_cache> caches;  // by session id
  std::vector<sequence_step> seqs;                // the running batch
  std::vector<float> x;                           // its rows, stacked
  int64_t batch_us = 0;
  block_workspace ws;
};

struct block_state {
  struct queued_step {
    caf::typed_response_promise<block_output> promise;
    block_step step;
  };
  std::shared_ptr<block_core> core = std::make_shared<block_core>();
  std::deque<queued_step> queue;
  bool computing = false;
  std::vector<queued_step> batch;  // the steps of the running batch
  std::vector<uint64_t> closing;   // sessions closed while it ran
  static inline const char* name = "block";
};

namespace {

using block_pointer = block_actor::stateful_pointer<block_state>;

void start_batch(block_pointer self, const block_config& cfg);

// Passes each step of the finished batch on, then starts the next batch.
void finish_batch(block_pointer self, const block_config& cfg) {
  block_state& st = self->state;
  block_core& core = *st.core;
  int64_t at = 0;
  for (auto& q : st.batch) {
    block_step& s = q.step;
    std::copy_n(core.x.begin() + at, s.hidden.size(), s.hidden.begin());
    at += int64_t(s.hidden.size());
    s.compute_us += core.batch_us;
    if (cfg.index + 1 < s.end_block && cfg.next) {
      q.promise.delegate(cfg.next, std::move(s));
    } else {
      q.promise.deliver(block_output{s.session_id, s.compute_us, std::move(s.hidden)});
    }
  }
  st.batch.clear();
  core.seqs.clear();
  for (uint64_t id : st.closing) core.caches.erase(id);
  st.closing.clear();
  st.computing = false;
  start_batch(self, cfg);
}

// Takes queued steps up to cfg.max_batch_rows (at least one) and hands them to the
// executor as one batch.
void start_batch(block_pointer self, const block_config& cfg) {
  block_state& st = self->state;
  if (st.computing) return;
  block_core& core = *st.core;
  const block_weights& w = cfg.model->blocks()[size_t(cfg.index - cfg.model->first_block())];
  const int64_t dim = w.config.dim;
  int64_t rows = 0;
  while (!st.queue.empty()) {
    block_state::queued_step& q = st.queue.front();
    if (!st.batch.empty() && rows + q.step.n > cfg.max_batch_rows) break;
    block_step& s = q.step;
    // A session's second step must see its first one's keys: it goes in the next batch.
    auto same_session = [&](const block_state::queued_step& b) {
      return b.step.session_id == s.session_id;
    };
    if (std::any_of(st.batch.begin(), st.batch.end(), same_session)) break;
    status valid;
    if (s.n < 1 || int64_t(s.hidden.size()) != s.n * dim) {
      valid = status::invalid_argument(
          "block " + std::to_string(cfg.index) + ": " + std::to_string(s.hidden.size()) +
          " values for " + std::to_string(s.n) + " tokens of width " + std::to_string(dim));
    } else {
      auto it = core.caches.find(s.session_id);
      if (it == core.caches.end()) {
        it = core.caches.emplace(s.session_id, kv_cache(w.config.kv_dim(), s.max_tokens)).first;
      }
      valid = it->second.prepare(s.pos, s.n);
      if (valid.ok()) core.seqs.push_back(sequence_step{&it->second, s.pos, s.n});
    }
    if (valid.ok()) {
      rows += s.n;
      st.batch.push_back(std::move(q));
    } else {
      q.promise.deliver(to_error(valid));
    }
    st.queue.pop_front();
  }
  if (st.batch.empty()) return;
  core.x.resize(size_t(rows * dim));
  int64_t at = 0;
  for (const auto& q : st.batch) {
    std::copy(q.step.hidden.begin(), q.step.hidden.end(), core.x.begin() + at);
    at += int64_t(q.step.hidden.size());
  }
  st.computing = true;
  // `model` keeps `w` alive, `core` the caches, should the block exit meanwhile.
  auto run = [model = cfg.model, &w, core = st.core] {
    const auto start = std::chrono::steady_clock::now();
    block_forward_batch(w, core->seqs, core->x.data(), core->ws);
    core->batch_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  };
  self->request(cfg.executor, caf::infinite, compute_job{run})
      .then([self, cfg](done_atom) { finish_batch(self, cfg); },
            [self, cfg](caf::error& err) {
              // The executor is gone: the node is shutting down or broken.
              for (auto& q : self->state.batch) q.promise.deliver(err);
              self->state.batch.clear();
              self->state.core->seqs.clear();
              self->state.computing = false;
            });
}

block_actor::behavior_type block_behavior(block_pointer self, block_config cfg) {
  return {
      [self, cfg](block_step& step) -> caf::result<block_output> {
        auto promise = self->make_response_promise<block_output>();
        self->state.queue.push_back({promise, std::move(step)});
        start_batch(self, cfg);
        return promise;
      },
      [self](close_atom, uint64_t session_id) {
        // A running batch may hold the cache: then the close waits for it to end.
        if (self->state.computing) {
          self->state.closing.push_back(session_id);
        } else {
          self->state.core->caches.erase(session_id);
        }
      },
  };
}

}  // namespace

block_actor spawn_block(caf::actor_system& system, block_config cfg) {
  return system.spawn(block_behavior, std::move(cfg));
}

}  // namespace corolla
