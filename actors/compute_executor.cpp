// compute_executor: runs compute_jobs in arrival order on one detached thread.
// Talks to: block actors only. Holds no state between jobs; a job's exception is
// the block's failure and reaches it as an error reply.
#include "actors/compute_executor.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace corolla {
namespace {

compute_executor::behavior_type executor_behavior(compute_executor::pointer) {
  return {
      [](compute_job& job) {
        job.run();
        return done_atom::value;
      },
  };
}

}  // namespace

compute_executor spawn_compute_executor(caf::actor_system& system) {
  return system.spawn<caf::detached>(executor_behavior);
}

}  // namespace corolla
