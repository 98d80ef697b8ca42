// routing_table: the actor that knows which server serves which blocks.
#pragma once

#include <caf/fwd.hpp>

#include "messages/interfaces.hpp"

namespace corolla {

routing_table_actor spawn_routing_table(caf::actor_system& system);

}  // namespace corolla
