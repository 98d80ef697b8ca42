// compute_executor: a process's one compute thread. The kernels of every block actor
// run on it, and those of local clients' heads, and it is where decode steps of
// different sessions merge into batches. Not an actor and free of CAF: block actors
// submit to it and get their steps back through a callback; clients wait for logits.
//
// Why one thread: every kernel already uses all cores through OpenMP, so two kernels
// at once only fight over them; and each OS thread that enters OpenMP keeps a pool of
// OpenMP threads of its own. With more pooled threads than cores, libgomp stops
// spinning at barriers in every team and sleeps instead (measured: one idle second
// pool costs 15% of decode tokens/s; 22 block threads ~10 ms per TinyLlama token). So
// in a process that runs one, everything that enters OpenMP — loading, measuring —
// goes through run().
//
// Why batches form here: a step goes from block to block of a span on this thread,
// with no message per block, and the executor always runs the lowest-numbered block
// that has steps waiting. A session that is behind therefore catches up with those
// ahead, which wait at their block, and from there on they run as one batch: one pass
// over the weights for all of them. A lane whose oldest step has waited max_wait runs
// next whatever its number, so no session starves.
//
// Invariants:
//  1. A lane's KV caches are touched only by the executor's thread.
//  2. A batch holds at most one step per session (a second must see the first's keys).
//  3. Every submitted step gets exactly one `done` call, on the executor's thread: with
//     its output after the last block it runs here, or with its error — invalid shape
//     or position, a closed session, a kernel failure, or the executor stopping.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "messages/session.hpp"
#include "model/llama_model.hpp"
#include "model/status.hpp"

namespace corolla {

struct compute_options {
  int64_t max_batch_rows = 64;  // rows per batch, unless one step alone has more
  std::chrono::milliseconds max_wait{100};
  // Every block pass takes at least this long, the thread busy for the rest: a slower
  // machine, so that nodes of unequal speed can be tried on one (actor-node's
  // fault-block-ms). Busy, not asleep: an idle core's wake-up added ~2 ms to each hop
  // after it on this project's VMs. 0: off.
  std::chrono::microseconds min_block_time{0};
};

class compute_executor {
 public:
  // One block: its weights, its sessions' KV caches and the steps waiting for it.
  class lane;
  using step_done = std::function<void(result<block_step>)>;

  struct counters {
    int64_t batches = 0;       // block passes
    int64_t rows = 0;          // token rows over all of them: rows / batches is the mean batch
    int64_t head_batches = 0;  // LM-head passes
    int64_t head_rows = 0;
    int64_t waiting = 0;  // steps and logits rows queued now: the node's load
  };

  explicit compute_executor(compute_options opt = {});
  ~compute_executor();  // stop(), then joins the thread
  compute_executor(const compute_executor&) = delete;
  compute_executor& operator=(const compute_executor&) = delete;

  // A lane for block `index` of `model`. A step that leaves it with blocks still to go
  // (index + 1 < end_block) continues at `next` when there is one, else is done.
  // REQUIRES: model holds block `index`; next is null or a lane of this executor.
  std::shared_ptr<lane> add_lane(std::shared_ptr<const llama_model> model, int64_t index,
                                 std::shared_ptr<lane> next);

  const compute_options& options() const;

  // Queues `step` at `at`. Thread-safe.
  void submit(const std::shared_ptr<lane>& at, block_step step, step_done done);

  // Drops a session's KV cache at `at` after the batch running there, if any; its steps
  // still queued there fail. Thread-safe.
  void close(const std::shared_ptr<lane>& at, uint64_t session_id);

  // A model's head (final norm, LM head). Rows of every caller waiting for the same
  // head run as one matmul: one lane per model object.
  class head_lane;
  std::shared_ptr<head_lane> head_for(std::shared_ptr<const llama_model> model);

  // Writes the logits [vocab] of the hidden state x [dim] to `out`, computed on the
  // executor's thread, ahead of block lanes; returns once written. Errors: internal
  // when the kernel threw or the executor stopped. Thread-safe; blocks the caller.
  status logits(const std::shared_ptr<head_lane>& at, const float* x, float* out);

  // Runs `kernel` on the executor's thread, ahead of waiting lanes, and returns once it
  // has run. Errors: internal when it threw or the executor stopped. Thread-safe.
  status run(const std::function<void()>& kernel);

  // A session's cache rows [from, to) at each of `lanes`, exactly as stored (kv_cache's
  // append_rows, lane after lane), read on the executor's thread ahead of waiting lanes;
  // `done` gets them there — or not_found naming a lane without the session, out_of_range
  // past a cache's length, internal when the executor stopped. Returns at once.
  void read_kv(std::vector<std::shared_ptr<lane>> lanes, uint64_t session_id, int64_t from,
               int64_t to, std::function<void(result<std::string>)> done);

  // Writes rows [pos, pos + n) of each of `lanes` from `bytes` (as read_kv gives them),
  // making the session's caches (of max_tokens rows) where there are none; `done` gets the
  // outcome on the executor's thread. Returns at once.
  void write_kv(std::vector<std::shared_ptr<lane>> lanes, uint64_t session_id, int64_t max_tokens,
                int64_t pos, int64_t n, std::string bytes, std::function<void(status)> done);

  // Takes no more work: once the batch or kernel running now has finished, everything
  // waiting fails with internal, and what comes later fails at once. Returns without
  // waiting. Thread-safe.
  void stop();

  counters stats() const;

 private:
  // Queues `kernel` for the thread, ahead of waiting lanes; false when stopping.
  bool post(std::function<void()> kernel);

  struct impl;
  std::shared_ptr<impl> impl_;  // shared with the thread, which may outlive this object
  std::thread thread_;
};

// Blocks [start, end) of the GGUF file at `path`, without the head — what a server of
// that span holds — loaded on `executor`'s thread, where the process's OpenMP team
// lives. Errors: the file's, or internal when the executor stopped.
result<std::shared_ptr<const llama_model>> load_span(compute_executor& executor, precision weights,
                                                     kv_type kv, const std::string& path,
                                                     int64_t start, int64_t end);

}  // namespace corolla
