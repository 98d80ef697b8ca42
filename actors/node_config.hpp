// node_config: the actor-system configuration every Corolla process starts from —
// Corolla's message types registered, and the scheduler settings PLATFORM.md measured
// (sharing policy: ~80 us loopback round trips against ~300 us with the defaults).
#pragma once

#include <caf/actor_system_config.hpp>

namespace corolla {

class node_config : public caf::actor_system_config {
 public:
  node_config();
};

}  // namespace corolla
