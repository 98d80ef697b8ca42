#include "kernels/team_policy.hpp"

namespace corolla {

team_policy::team_policy(int epoch_regions, int explore_every)
    : epoch_regions_(epoch_regions), explore_every_(explore_every) {}

void team_policy::record(int threads, int max, double ns, double work) {
  if (max <= 1 || threads != this->threads(max)) return;
  epoch_ns_ += ns;
  epoch_work_ += work;
  if (++regions_ < epoch_regions_) return;

  const int used = single_ ? 0 : 1;
  // The latest epoch replaces the last figure: an epoch already averages many regions,
  // and a busy core that is freed must show at the next look, not after several.
  ns_per_work_[used] = epoch_ns_ / epoch_work_;
  regions_ = 0;
  epoch_ns_ = epoch_work_ = 0;
  ++epochs_;

  const int other = 1 - used;
  // The other size when it is unmeasured, due for a fresh look, or faster.
  const bool switch_size = ns_per_work_[other] == 0 || epochs_ % explore_every_ == 0 ||
                           ns_per_work_[other] < ns_per_work_[used];
  if (switch_size) single_ = !single_;
}

}  // namespace corolla
