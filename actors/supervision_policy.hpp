// supervision_policy: whether a server restarts its crashed block actors or gives its
// span up — Erlang's restart intensity: at most max_restarts crashes in any window.
// Plain class, no CAF: the server drives it with the real clock, tests with their own.
//
// Invariant: crashed() answers hand_over exactly when this crash makes more than
// max_restarts within the last `window`.
#pragma once

#include <chrono>
#include <deque>

namespace corolla {

struct supervision_settings {
  int max_restarts = 3;
  std::chrono::milliseconds window{60000};
};

class supervision_policy {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  enum class decision { restart, hand_over };

  supervision_policy() = default;
  explicit supervision_policy(supervision_settings settings) : settings_(settings) {}

  // A block crashed at `now`.
  decision crashed(time_point now);

 private:
  supervision_settings settings_;
  std::deque<time_point> crashes_;  // within the window, oldest first
};

}  // namespace corolla
