// block: the actor of one transformer block.
#pragma once

#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>

#include "actors/compute_executor.hpp"
#include "messages/interfaces.hpp"
#include "model/llama_model.hpp"

namespace corolla {

struct block_config {
  std::shared_ptr<const llama_model> model;  // holds the weights; shared by the span
  int64_t index = 0;                         // model numbering
  block_actor next;                          // the span's next block; null for its last
  int64_t max_batch_rows = 64;               // rows per batch, unless one step has more
  compute_executor executor;                 // the node's compute thread
};

// Spawns the block. Its kernels run on cfg.executor's thread, never on CAF's
// scheduler threads. REQUIRES: cfg.model holds block cfg.index.
block_actor spawn_block(caf::actor_system& system, block_config cfg);

}  // namespace corolla
