#include "actors/node_config.hpp"

#include <caf/atom.hpp>

#include "messages/register.hpp"

namespace corolla {

node_config::node_config() {
  add_corolla_types(*this);
  set("scheduler.policy", caf::atom("sharing"));
}

}  // namespace corolla
