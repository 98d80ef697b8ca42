#include "actors/node_config.hpp"

#include <caf/atom.hpp>

#include "messages/register.hpp"

namespace corolla {

node_config::node_config() {
  add_corolla_types(*this);
  set("scheduler.policy", caf::atom("sharing"));
  set("scheduler.max-threads", size_t(1));
}

}  // namespace corolla
