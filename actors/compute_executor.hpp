// compute_executor: the node's one compute thread. Block actors hand it their batches;
// it runs them one at a time on its own thread, with one hot OpenMP team.
//
// Why one: every kernel already uses all cores through OpenMP, so two blocks computing
// at once only fight over them; and each OS thread that enters OpenMP gets a team of
// its own whose workers fall asleep between calls (measured: 22 block threads cost
// ~10 ms per TinyLlama token in wake-ups). Serialising compute also makes batching
// emerge: while the executor runs one block, steps queue at the others and go out
// together as one batch.
#pragma once

#include <functional>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/caf_types.hpp"

namespace corolla {

// A batch to run. Node-local by construction (it holds a closure over a block's
// state), so it is never serialised; the block does not touch that state until the
// reply comes back.
struct compute_job {
  std::function<void()> run;
};

using done_atom = caf::atom_constant<caf::atom("done")>;

using compute_executor = caf::typed_actor<caf::replies_to<compute_job>::with<done_atom>>;

compute_executor spawn_compute_executor(caf::actor_system& system);

}  // namespace corolla

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(corolla::compute_job)
