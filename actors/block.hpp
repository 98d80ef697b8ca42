// block: the actor of one transformer block. Node-local: only its server talks to it.
#pragma once

#include <cstdint>
#include <memory>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/compute_executor.hpp"
#include "messages/caf_types.hpp"

namespace corolla {

// A step back from the node's compute thread to the block actor that took it. Never
// serialised: it stays in the process.
struct block_done {
  uint64_t ticket = 0;
  status error;  // ok: `step` holds the output
  block_step step;
};

// block_step runs this block and the following ones of the span up to the step's
// end_block; the reply is the output of the last. close_atom drops a session's cache.
using block_actor =
    caf::typed_actor<caf::replies_to<block_step>::with<block_output>,
                     caf::reacts_to<close_atom, uint64_t>, caf::reacts_to<block_done>>;

struct block_config {
  std::shared_ptr<compute_executor> executor;    // the node's compute thread
  std::shared_ptr<compute_executor::lane> lane;  // this block's, from executor->add_lane
  int64_t index = 0;                             // the block's number in the model
  // Fault injection: the actor throws (CAF turns it into the actor's failure) when it
  // is handed a step after this many; -1: never.
  int64_t crash_after_steps = -1;
};

// Spawns the block. Its kernels run on cfg.executor's thread, never on CAF's
// scheduler threads.
block_actor spawn_block(caf::actor_system& system, block_config cfg);

}  // namespace corolla

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(corolla::block_done)
