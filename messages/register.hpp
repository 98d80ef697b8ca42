// register: the one call every node makes so that all nodes know the same message
// types under the same names, and render Corolla's errors by name.
#pragma once

namespace caf {
class actor_system_config;
}

namespace corolla {

void add_corolla_types(caf::actor_system_config& cfg);

}  // namespace corolla
