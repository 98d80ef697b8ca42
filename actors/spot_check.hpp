// spot_check: a client's checks that the servers of its route compute what they should.
//
// Every CPU path computes the same function (the every-CPU issue: integer sums, fixed
// orders), and a span's outputs for positions [0, p) are a function of its inputs for
// those positions alone, whether they ran as one prefill or token by token. So a second
// server of the same span, given the inputs the client cached for replay, must return
// the same bits; any difference is a liar or a fault. Recomputing a position needs the
// keys and values of every earlier one, so a check can not re-run one step alone: each
// checked hop has a shadow session on another server that is fed, in one batch per
// check, the inputs since the last check, and the outputs of all of them are compared.
// The fraction sets how often a check runs (a lie is found within 1 / fraction steps);
// every position of a checked hop is recomputed once, in batches of about that many.
//
// When the outputs differ a third server, the referee, recomputes the window from
// position 0: the one that disagrees with it lied; with no referee, or when it agrees
// with neither, both are blamed. Plain functions and a plain class, no CAF: the session
// drives them (actors/client_session.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace corolla {

struct spot_check_settings {
  double fraction = 0;  // of steps after which the route's unchecked outputs are checked; 0: off
};

// Decides, step by step, whether a check runs now: every round(1 / fraction) steps, the
// first after a number of steps drawn from a seeded generator (clients do not check in
// lockstep, and tests replay the same choices). A fixed period bounds the detection
// delay: outputs are checked at most that many steps after they were returned.
class spot_check_schedule {
 public:
  spot_check_schedule() = default;
  spot_check_schedule(spot_check_settings settings, uint64_t seed);
  bool enabled() const { return period_ > 0; }
  int64_t period() const { return period_; }
  bool due();

 private:
  int64_t period_ = 0;
  int64_t left_ = 0;  // steps until the next check
};

// Where two [rows, dim] outputs first differ, compared bit for bit.
struct output_mismatch {
  int64_t position = 0;  // of the first differing row (first_position + its index)
  int64_t value = 0;     // index of the first differing value in that row
  float expected = 0;    // the route server's value
  float got = 0;         // the checker's
  int64_t rows_differing = 0;
};

std::optional<output_mismatch> first_mismatch(const float* expected, const float* got, int64_t rows,
                                              int64_t dim, int64_t first_position);

// Who a referee's recomputation says lied, from whether it matches the route server's
// outputs and the checker's.
enum class spot_verdict { route_server, checker, both };
spot_verdict judge(std::optional<bool> referee_matches_route,
                   std::optional<bool> referee_matches_checker);

// The evidence a check found, for the log and the failover report.
std::string describe_mismatch(const output_mismatch& m, const std::string& route_server,
                              const std::string& checker, const std::string& span);

}  // namespace corolla
