#include "messages/swarm.hpp"

#include <random>

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

std::string span_text(int64_t start, int64_t end) {
  return "[" + std::to_string(start) + ", " + std::to_string(end) + ")";
}

uint64_t random_id() {
  std::random_device device;
  return device() | (uint64_t(device()) << 32);
}

}  // namespace corolla
