#include "actors/spot_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

namespace corolla {

spot_check_schedule::spot_check_schedule(spot_check_settings settings, uint64_t seed) {
  if (!(settings.fraction > 0)) return;
  period_ = std::max<int64_t>(1, std::llround(1.0 / std::min(settings.fraction, 1.0)));
  std::mt19937_64 rng(seed);
  left_ = std::uniform_int_distribution<int64_t>(1, period_)(rng);
}

bool spot_check_schedule::due() {
  if (period_ == 0 || --left_ > 0) return false;
  left_ = period_;
  return true;
}

std::optional<output_mismatch> first_mismatch(const float* expected, const float* got, int64_t rows,
                                              int64_t dim, int64_t first_position) {
  std::optional<output_mismatch> found;
  const size_t row_bytes = size_t(dim) * sizeof(float);
  for (int64_t r = 0; r < rows; ++r) {
    const float* e = expected + r * dim;
    const float* g = got + r * dim;
    if (std::memcmp(e, g, row_bytes) == 0) continue;
    if (!found) {
      int64_t v = 0;
      while (v < dim && std::memcmp(e + v, g + v, sizeof(float)) == 0) ++v;
      found = output_mismatch{first_position + r, v, e[v], g[v], 0};
    }
    ++found->rows_differing;
  }
  return found;
}

spot_verdict judge(std::optional<bool> referee_matches_route,
                   std::optional<bool> referee_matches_checker) {
  if (!referee_matches_route || !referee_matches_checker) return spot_verdict::both;
  if (*referee_matches_checker && !*referee_matches_route) return spot_verdict::route_server;
  if (*referee_matches_route && !*referee_matches_checker) return spot_verdict::checker;
  return spot_verdict::both;
}

std::string describe_mismatch(const output_mismatch& m, const std::string& route_server,
                              const std::string& checker, const std::string& span) {
  std::ostringstream out;
  out.precision(9);
  out << "spot check: blocks " << span << " at position " << m.position << ", value " << m.value
      << ": " << route_server << " returned " << m.expected << ", " << checker << " computed "
      << m.got << " (" << m.rows_differing << " positions differ)";
  return out.str();
}

}  // namespace corolla
