#include "messages/swarm.hpp"

namespace corolla {

const char* to_string(serving_state s) {
  switch (s) {
    case serving_state::joining:
      return "joining";
    case serving_state::online:
      return "online";
    case serving_state::draining:
      return "draining";
    case serving_state::offline:
      return "offline";
  }
  return "unknown";
}

}  // namespace corolla
