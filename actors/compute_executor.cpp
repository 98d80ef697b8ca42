// compute_executor: one thread, a list of lanes with steps waiting, and a queue of
// kernels (a local client's head). One mutex guards the queues; the KV caches and the
// batch buffers belong to the thread and are used without it.
#include "actors/compute_executor.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "model/block_forward.hpp"

namespace corolla {

using steady = std::chrono::steady_clock;

namespace {

struct waiting_step {
  block_step step;
  compute_executor::step_done done;
  steady::time_point since;  // when it reached this lane
};

// A step on its way out of the executor, with its outcome.
struct finished_step {
  waiting_step w;
  status error;
};

// A client waiting for the logits of one row; x and out are its own, valid until done.
struct logits_request {
  const float* x;
  float* out;
  std::promise<status> done;
};

}  // namespace

class compute_executor::lane {
 public:
  lane(std::shared_ptr<const llama_model> model, int64_t index, std::shared_ptr<lane> next,
       uint64_t id)
      : model_(std::move(model)),
        weights_(model_->blocks()[size_t(index - model_->first_block())]),
        index_(index),
        next_(std::move(next)),
        id_(id) {}

  const block_weights& weights() const { return weights_; }
  int64_t index() const { return index_; }
  const std::shared_ptr<lane>& next() const { return next_; }
  uint64_t id() const { return id_; }

  // Guarded by impl::mu.
  std::deque<waiting_step> inbox;
  std::vector<uint64_t> closing;
  bool listed = false;  // in impl::ready

  // The executor's thread only.
  std::unordered_map<uint64_t, kv_cache> caches;

 private:
  std::shared_ptr<const llama_model> model_;  // keeps weights_ alive
  const block_weights& weights_;
  int64_t index_;
  std::shared_ptr<lane> next_;
  uint64_t id_;
};

class compute_executor::head_lane {
 public:
  explicit head_lane(std::shared_ptr<const llama_model> model) : model_(std::move(model)) {}
  const head& weights() const { return model_->head(); }

  // Guarded by impl::mu.
  std::deque<logits_request> inbox;
  bool listed = false;  // in impl::ready_heads

 private:
  std::shared_ptr<const llama_model> model_;
};

struct compute_executor::impl {
  explicit impl(compute_options o) : opt(o) {}

  struct pick {
    std::shared_ptr<lane> next;  // null when no lane waits
    bool overdue = false;        // its oldest step has waited max_wait
  };

  void loop();
  void mark_ready(const std::shared_ptr<lane>& l);
  pick pick_lane(steady::time_point now) const;
  std::vector<waiting_step> take_batch(lane& l, std::vector<uint64_t>& closing);
  void run_batch(lane& l, std::vector<waiting_step>& batch);
  void run_lane(std::unique_lock<std::mutex>& lock, lane& l);
  void run_heads(std::unique_lock<std::mutex>& lock);
  void stop_all(std::unique_lock<std::mutex>& lock);

  const compute_options opt;

  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  std::vector<std::shared_ptr<lane>> ready;  // lanes with steps or closes waiting
  std::deque<std::packaged_task<void()>> kernels;
  std::vector<std::shared_ptr<head_lane>> ready_heads;  // with rows waiting
  std::map<const llama_model*, std::weak_ptr<head_lane>> heads;
  counters totals;
  uint64_t next_lane_id = 0;

  // The thread's own.
  block_workspace ws;
  std::vector<float> x;
  std::vector<sequence_step> seqs;
  std::vector<finished_step> finished;  // of the lane run last
  head_workspace head_ws;
  std::vector<float> head_x, head_out;
};

void compute_executor::impl::mark_ready(const std::shared_ptr<lane>& l) {
  if (l->listed) return;
  l->listed = true;
  ready.push_back(l);
}

// The lane to run: the one whose oldest step is overdue, else the lowest-numbered.
compute_executor::impl::pick compute_executor::impl::pick_lane(steady::time_point now) const {
  std::shared_ptr<lane> overdue, lowest;
  for (const auto& l : ready) {
    if (!l->inbox.empty() && now - l->inbox.front().since >= opt.max_wait &&
        (!overdue || l->inbox.front().since < overdue->inbox.front().since)) {
      overdue = l;
    }
    if (!lowest || l->index() < lowest->index() ||
        (l->index() == lowest->index() && l->id() < lowest->id())) {
      lowest = l;
    }
  }
  return overdue ? pick{overdue, true} : pick{lowest, false};
}

// Under mu: the steps of the next batch, oldest first, counted in totals; what `l` has
// to close; the queued steps of closing sessions fail into `finished`. Unlists `l` when
// nothing is left waiting.
std::vector<waiting_step> compute_executor::impl::take_batch(lane& l,
                                                             std::vector<uint64_t>& closing) {
  closing = std::move(l.closing);
  l.closing.clear();
  std::vector<waiting_step> batch;
  int64_t rows = 0;
  for (auto it = l.inbox.begin(); it != l.inbox.end();) {
    const block_step& s = it->step;
    if (std::count(closing.begin(), closing.end(), s.session_id)) {
      finished.push_back(
          {std::move(*it),
           status::not_found("session " + std::to_string(s.session_id) + " was closed")});
      it = l.inbox.erase(it);
      continue;
    }
    if (!batch.empty() && rows + s.n > opt.max_batch_rows) break;
    const bool same_session = std::any_of(batch.begin(), batch.end(), [&](const waiting_step& b) {
      return b.step.session_id == s.session_id;
    });
    if (same_session) {
      ++it;
      continue;
    }
    rows += s.n;
    batch.push_back(std::move(*it));
    it = l.inbox.erase(it);
  }
  if (!batch.empty()) {
    ++totals.batches;
    totals.rows += rows;
  }
  if (l.inbox.empty() && l.closing.empty()) {
    l.listed = false;
    ready.erase(std::find_if(ready.begin(), ready.end(),
                             [&](const std::shared_ptr<lane>& r) { return r.get() == &l; }));
  }
  return batch;
}

// On the thread, without mu: checks each step against its cache, runs the valid ones
// as one block_forward_batch and appends every step to `finished`.
void compute_executor::impl::run_batch(lane& l, std::vector<waiting_step>& batch) {
  const block_weights& w = l.weights();
  const int64_t dim = w.config.dim;
  const size_t first = finished.size();
  seqs.clear();
  int64_t rows = 0;
  for (waiting_step& ws_step : batch) {
    block_step& s = ws_step.step;
    status valid;
    if (s.n < 1 || int64_t(s.hidden.size()) != s.n * dim) {
      valid = status::invalid_argument(
          "block " + std::to_string(l.index()) + ": " + std::to_string(s.hidden.size()) +
          " values for " + std::to_string(s.n) + " tokens of width " + std::to_string(dim));
    } else {
      auto it = l.caches.find(s.session_id);
      if (it == l.caches.end()) {
        it = l.caches.emplace(s.session_id, kv_cache(w.config.kv_dim(), s.max_tokens, w.cache_type))
                 .first;
      }
      valid = it->second.prepare(s.pos, s.n);
      if (valid.ok()) {
        seqs.push_back(sequence_step{&it->second, s.pos, s.n});
        rows += s.n;
      }
    }
    finished.push_back({std::move(ws_step), std::move(valid)});
  }
  if (seqs.empty()) return;
  x.resize(size_t(rows * dim));
  int64_t at = 0;
  for (size_t i = first; i < finished.size(); ++i) {
    if (!finished[i].error.ok()) continue;
    const std::vector<float>& h = finished[i].w.step.hidden;
    std::copy(h.begin(), h.end(), x.begin() + at);
    at += int64_t(h.size());
  }
  status failure;
  const auto start = steady::now();
  try {
    block_forward_batch(w, seqs, x.data(), ws);
  } catch (const std::exception& e) {
    failure = status::internal("block " + std::to_string(l.index()) + ": " + e.what());
  }
  while (steady::now() < start + opt.min_block_time) {
    // the emulated slower machine computing
  }
  const int64_t us =
      std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start).count();
  at = 0;
  for (size_t i = first; i < finished.size(); ++i) {
    if (!finished[i].error.ok()) continue;
    block_step& s = finished[i].w.step;
    if (!failure.ok()) {
      finished[i].error = failure;
      continue;
    }
    std::copy_n(x.begin() + at, s.hidden.size(), s.hidden.begin());
    at += int64_t(s.hidden.size());
    s.compute_us += us;
  }
}

void compute_executor::impl::loop() {
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    wake.wait(lock, [&] {
      return stopping || !ready.empty() || !kernels.empty() || !ready_heads.empty();
    });
    if (stopping) break;
    // Kernels and heads first, unless a step is overdue: their callers wait on them, and
    // a head's output is the next step of a session that block 0 is about to see.
    const pick lane_pick = pick_lane(steady::now());
    if (!lane_pick.overdue && !kernels.empty()) {
      std::packaged_task<void()> kernel = std::move(kernels.front());
      kernels.pop_front();
      lock.unlock();
      kernel();  // an exception is stored for run()'s caller
      lock.lock();
    } else if (!lane_pick.overdue && !ready_heads.empty()) {
      run_heads(lock);
    } else {
      run_lane(lock, *lane_pick.next);
    }
  }
  stop_all(lock);
}

// Entered and left under mu: one batch of `l`, then its steps move on or are done.
void compute_executor::impl::run_lane(std::unique_lock<std::mutex>& lock, lane& l) {
  finished.clear();
  std::vector<uint64_t> closing;
  std::vector<waiting_step> batch = take_batch(l, closing);
  lock.unlock();
  if (!batch.empty()) run_batch(l, batch);
  for (uint64_t id : closing) l.caches.erase(id);
  lock.lock();
  // Steps with blocks to go move to the next lane now, so it can run before any
  // higher-numbered one: that is how a trailing session catches up.
  const auto moved = steady::now();
  std::vector<finished_step> out;
  for (finished_step& f : finished) {
    if (f.error.ok() && l.next() && l.index() + 1 < f.w.step.end_block) {
      f.w.since = moved;
      l.next()->inbox.push_back(std::move(f.w));
      mark_ready(l.next());
    } else {
      out.push_back(std::move(f));
    }
  }
  lock.unlock();
  for (finished_step& f : out) {
    if (f.error.ok()) {
      f.w.done(std::move(f.w.step));
    } else {
      f.w.done(std::move(f.error));
    }
  }
  lock.lock();
}

// Entered and left under mu: the rows waiting at the first listed head, as one matmul.
void compute_executor::impl::run_heads(std::unique_lock<std::mutex>& lock) {
  std::shared_ptr<head_lane> h = ready_heads.front();
  ready_heads.erase(ready_heads.begin());
  std::vector<logits_request> batch;
  while (!h->inbox.empty() && int64_t(batch.size()) < opt.max_batch_rows) {
    batch.push_back(std::move(h->inbox.front()));
    h->inbox.pop_front();
  }
  if (h->inbox.empty()) {
    h->listed = false;
  } else {
    ready_heads.push_back(h);
  }
  ++totals.head_batches;
  totals.head_rows += int64_t(batch.size());
  lock.unlock();
  const head& weights = h->weights();
  const int64_t dim = weights.config().dim, vocab = weights.vocab_size();
  const int64_t rows = int64_t(batch.size());
  head_x.resize(size_t(rows * dim));
  head_out.resize(size_t(rows * vocab));
  for (int64_t r = 0; r < rows; ++r) std::copy_n(batch[size_t(r)].x, dim, &head_x[size_t(r * dim)]);
  status result;
  try {
    weights.logits(head_x.data(), rows, head_out.data(), head_ws);
  } catch (const std::exception& e) {
    result = status::internal(std::string("LM head: ") + e.what());
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (result.ok()) std::copy_n(&head_out[size_t(r * vocab)], vocab, batch[size_t(r)].out);
    batch[size_t(r)].done.set_value(result);
  }
  lock.lock();
}

// Under mu, once stopping: every waiting step and row fails; kernels fail through
// their futures (a destroyed packaged_task breaks its promise).
void compute_executor::impl::stop_all(std::unique_lock<std::mutex>& lock) {
  const status stopped = status::internal("the node's compute thread stopped");
  for (const auto& h : ready_heads) {
    for (logits_request& r : h->inbox) r.done.set_value(stopped);
    h->inbox.clear();
    h->listed = false;
  }
  ready_heads.clear();
  std::vector<waiting_step> dropped;
  for (const auto& l : ready) {
    for (waiting_step& w : l->inbox) dropped.push_back(std::move(w));
    l->inbox.clear();
    l->listed = false;
  }
  ready.clear();
  kernels.clear();
  lock.unlock();
  for (waiting_step& w : dropped) w.done(stopped);
}

compute_executor::compute_executor(compute_options opt) : impl_(std::make_shared<impl>(opt)) {
  thread_ = std::thread([state = impl_] { state->loop(); });
}

const compute_options& compute_executor::options() const {
  return impl_->opt;
}

void compute_executor::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
}

compute_executor::~compute_executor() {
  stop();
  // A done callback may drop the last reference to us on our own thread.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

std::shared_ptr<compute_executor::lane> compute_executor::add_lane(
    std::shared_ptr<const llama_model> model, int64_t index, std::shared_ptr<lane> next) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return std::make_shared<lane>(std::move(model), index, std::move(next), impl_->next_lane_id++);
}

void compute_executor::submit(const std::shared_ptr<lane>& at, block_step step, step_done done) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->stopping) {
      at->inbox.push_back({std::move(step), std::move(done), steady::now()});
      impl_->mark_ready(at);
      impl_->wake.notify_one();
      return;
    }
  }
  done(status::internal("the node's compute thread stopped"));
}

void compute_executor::close(const std::shared_ptr<lane>& at, uint64_t session_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->stopping) return;
  at->closing.push_back(session_id);
  impl_->mark_ready(at);
  impl_->wake.notify_one();
}

std::shared_ptr<compute_executor::head_lane> compute_executor::head_for(
    std::shared_ptr<const llama_model> model) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::weak_ptr<head_lane>& known = impl_->heads[model.get()];
  if (auto h = known.lock()) return h;
  auto h = std::make_shared<head_lane>(std::move(model));
  known = h;
  return h;
}

status compute_executor::logits(const std::shared_ptr<head_lane>& at, const float* x, float* out) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return run([&] { at->weights().logits(x, 1, out, impl_->head_ws); });
  }
  std::future<status> written;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return status::internal("the node's compute thread stopped");
    at->inbox.push_back({x, out, std::promise<status>()});
    written = at->inbox.back().done.get_future();
    if (!at->listed) {
      at->listed = true;
      impl_->ready_heads.push_back(at);
    }
  }
  impl_->wake.notify_one();
  return written.get();
}

status compute_executor::run(const std::function<void()>& kernel) {
  std::packaged_task<void()> task(kernel);
  std::future<void> finished = task.get_future();
  if (std::this_thread::get_id() == thread_.get_id()) {
    task();
  } else {
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (impl_->stopping) return status::internal("the node's compute thread stopped");
      impl_->kernels.push_back(std::move(task));
    }
    impl_->wake.notify_one();
  }
  try {
    finished.get();
  } catch (const std::future_error&) {
    return status::internal("the node's compute thread stopped");
  } catch (const std::exception& e) {
    return status::internal(std::string("kernel failed: ") + e.what());
  }
  return status();
}

bool compute_executor::post(std::function<void()> kernel) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return false;
    impl_->kernels.emplace_back(std::move(kernel));
  }
  impl_->wake.notify_one();
  return true;
}

void compute_executor::read_kv(std::vector<std::shared_ptr<lane>> lanes, uint64_t session_id,
                               int64_t from, int64_t to,
                               std::function<void(result<std::string>)> done) {
  auto kernel = [lanes = std::move(lanes), session_id, from, to, done] {
    std::string out;
    for (const std::shared_ptr<lane>& l : lanes) {
      auto it = l->caches.find(session_id);
      if (it == l->caches.end()) {
        done(status::not_found("block " + std::to_string(l->index()) +
                               " holds no cache of "
                               "session " +
                               std::to_string(session_id)));
        return;
      }
      if (from < 0 || from > to || to > it->second.length()) {
        done(status::out_of_range("block " + std::to_string(l->index()) + " holds " +
                                  std::to_string(it->second.length()) + " rows, not [" +
                                  std::to_string(from) + ", " + std::to_string(to) + ")"));
        return;
      }
      it->second.append_rows(from, to, out);
    }
    done(std::move(out));
  };
  if (!post(kernel)) done(status::internal("the node's compute thread stopped"));
}

void compute_executor::write_kv(std::vector<std::shared_ptr<lane>> lanes, uint64_t session_id,
                                int64_t max_tokens, int64_t pos, int64_t n, std::string bytes,
                                std::function<void(status)> done) {
  auto kernel = [lanes = std::move(lanes), session_id, max_tokens, pos, n, bytes = std::move(bytes),
                 done] {
    size_t at = 0;
    for (const std::shared_ptr<lane>& l : lanes) {
      const block_weights& w = l->weights();
      auto it = l->caches.find(session_id);
      if (it == l->caches.end()) {
        it = l->caches.emplace(session_id, kv_cache(w.config.kv_dim(), max_tokens, w.cache_type))
                 .first;
      }
      const size_t size = 2 * size_t(std::max<int64_t>(n, 0)) * it->second.row_bytes();
      if (at + size > bytes.size()) {
        done(status::invalid_argument(std::to_string(bytes.size()) + " bytes of cache rows for " +
                                      std::to_string(lanes.size()) + " blocks of " +
                                      std::to_string(n) + " rows"));
        return;
      }
      if (status put = it->second.put_rows(pos, n, bytes.data() + at, size); !put.ok()) {
        done(
            status::invalid_argument("block " + std::to_string(l->index()) + ": " + put.message()));
        return;
      }
      at += size;
    }
    done(at == bytes.size() ? status()
                            : status::invalid_argument(std::to_string(bytes.size() - at) +
                                                       " bytes of cache rows left over"));
  };
  if (!post(kernel)) done(status::internal("the node's compute thread stopped"));
}

compute_executor::counters compute_executor::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  counters c = impl_->totals;
  for (const auto& l : impl_->ready) c.waiting += int64_t(l->inbox.size());
  for (const auto& h : impl_->ready_heads) c.waiting += int64_t(h->inbox.size());
  return c;
}

result<std::shared_ptr<const llama_model>> load_span(compute_executor& executor, precision weights,
                                                     kv_type kv, const std::string& path,
                                                     int64_t start, int64_t end) {
  model_options span;
  span.kind = weights;
  span.kv = kv;
  span.first_block = start;
  span.end_block = end;
  span.with_head = false;
  result<llama_model> loaded = status::internal("the span was not loaded");
  COROLLA_RETURN_IF_ERROR(executor.run([&] { loaded = llama_model::load(path, span); }));
  COROLLA_RETURN_IF_ERROR(loaded.error());
  return std::make_shared<const llama_model>(std::move(*loaded));
}

}  // namespace corolla
