#include "actors/supervision_policy.hpp"

namespace corolla {

supervision_policy::decision supervision_policy::crashed(time_point now) {
  crashes_.push_back(now);
  while (!crashes_.empty() && crashes_.front() <= now - settings_.window) crashes_.pop_front();
  return int(crashes_.size()) > settings_.max_restarts ? decision::hand_over : decision::restart;
}

}  // namespace corolla
