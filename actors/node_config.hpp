// node_config: the actor-system configuration every Corolla process starts from —
// Corolla's message types registered, and the scheduler settings PLATFORM.md measured
// (sharing policy: ~80 us loopback round trips against ~300 us with the defaults), and
// one scheduler thread: actors only pass messages (kernels run on the compute
// executor), and fewer threads waking up means fewer preempted kernel threads —
// 8 concurrent sessions went from 4.2x to 4.5x one session's tokens/s.
#pragma once

#include <caf/actor_system_config.hpp>

namespace corolla {

class node_config : public caf::actor_system_config {
 public:
  node_config();
};

}  // namespace corolla
