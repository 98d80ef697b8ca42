// team_policy: how many threads the next parallel matmul uses, learned from how fast the
// last ones ran — so a node sharing its machine with its owner stops waiting for a core
// that another process holds.
//
// With every core free, a team of all threads is fastest. With one core busy, every
// parallel region waits at its end for the thread that shares that core (the scheduler
// gives it half the time, in slices of milliseconds), and one thread on the free core is
// faster. The policy runs epochs of `epoch_regions` regions on one team size, keeps the
// latest epoch's nanoseconds per unit of work for each size, runs the faster one,
// and re-measures the other every `explore_every` epochs (so a freed core is noticed).
// An epoch covers every matrix shape of a few tokens, so the two averages compare the
// same mix of work.
// Invariant: threads(max) is 1 or max. The caller's own cap (omp_get_max_threads()) is
// never exceeded; with max == 1 nothing is recorded.
// Not thread-safe: one per calling thread (it lives in a matmul_workspace).
#pragma once

#include <cstdint>

namespace corolla {

class team_policy {
 public:
  explicit team_policy(int epoch_regions = 64, int explore_every = 16);

  // The team size for the next region, out of `max` threads allowed.
  int threads(int max) const { return single_ ? 1 : max; }

  // A region ran on `threads` of `max` threads for `ns` nanoseconds doing `work` units.
  void record(int threads, int max, double ns, double work);

  // The latest ns per unit of work, 0 while unmeasured (index 0: one thread,
  // 1: all of them).
  double ns_per_work(int index) const { return ns_per_work_[index]; }

 private:
  int epoch_regions_;
  int explore_every_;
  bool single_ = false;
  int regions_ = 0;
  int epochs_ = 0;
  double epoch_ns_ = 0;
  double epoch_work_ = 0;
  double ns_per_work_[2] = {0, 0};
};

}  // namespace corolla
