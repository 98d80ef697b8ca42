// block: one transformer block's entry into the node's compute thread.
//
// Owns: the block's lane of the compute executor (weights, per-session KV caches, the
// steps waiting for it) and the response promises of the steps it took.
// Talks to: its server (block_step in, block_output or an error out; close_atom) and
// the executor, which runs the step through this block and the span's following ones
// on its own thread, merging it with other sessions' steps into batches, and gives it
// back as a block_done message.
//
// Failure: a step with an impossible position or the wrong shape fails alone with an
// error reply; the others of its batch run. A dead server takes its blocks with it
// (it links them); a dying block drops its lane once the executor lets go of it, and
// its server restarts the span (actors/server.cpp). Fault injection makes the actor
// throw: the one place an exception is meant to become an actor's failure.
#include "actors/block.hpp"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace corolla {

struct block_state {
  std::unordered_map<uint64_t, caf::typed_response_promise<block_output>> running;  // by ticket
  uint64_t next_ticket = 0;
  int64_t steps_taken = 0;
  static inline const char* name = "block";
};

namespace {

using block_pointer = block_actor::stateful_pointer<block_state>;

block_actor::behavior_type block_behavior(block_pointer self, block_config cfg) {
  return {
      [self, cfg](block_step& step) -> caf::result<block_output> {
        if (cfg.crash_after_steps >= 0 && ++self->state.steps_taken > cfg.crash_after_steps) {
          throw std::runtime_error("block " + std::to_string(cfg.index) +
                                   " crashed (fault injection) after " +
                                   std::to_string(cfg.crash_after_steps) + " steps");
        }
        auto promise = self->make_response_promise<block_output>();
        const uint64_t ticket = ++self->state.next_ticket;
        self->state.running.emplace(ticket, promise);
        // Runs on the executor's thread: only a message may reach the actor from there.
        auto done = [to = caf::actor_cast<block_actor>(self), ticket](result<block_step> r) {
          block_done d;
          d.ticket = ticket;
          if (r.ok()) {
            d.step = std::move(r).value();
          } else {
            d.error = r.error();
          }
          caf::anon_send(to, std::move(d));
        };
        cfg.executor->submit(cfg.lane, std::move(step), std::move(done));
        return promise;
      },
      [self](block_done& d) {
        auto it = self->state.running.find(d.ticket);
        if (it == self->state.running.end()) return;
        if (d.error.ok()) {
          block_step& s = d.step;
          it->second.deliver(block_output{s.session_id, s.compute_us, std::move(s.hidden)});
        } else {
          it->second.deliver(to_error(d.error));
        }
        self->state.running.erase(it);
      },
      [cfg](close_atom, uint64_t session_id) { cfg.executor->close(cfg.lane, session_id); },
  };
}

}  // namespace

block_actor spawn_block(caf::actor_system& system, block_config cfg) {
  return system.spawn(block_behavior, std::move(cfg));
}

}  // namespace corolla
