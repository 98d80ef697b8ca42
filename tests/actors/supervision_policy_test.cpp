// supervision_policy on a fake clock: restarts up to the intensity, then hand over;
// crashes older than the window no longer count.
#include "actors/supervision_policy.hpp"

#include <gtest/gtest.h>

namespace corolla {
namespace {

using namespace std::chrono_literals;
using decision = supervision_policy::decision;

TEST(SupervisionPolicy, RestartsUpToTheIntensityThenHandsOver) {
  supervision_policy p(supervision_settings{3, 60000ms});
  const supervision_policy::time_point t0{};
  EXPECT_EQ(p.crashed(t0), decision::restart);
  EXPECT_EQ(p.crashed(t0 + 10s), decision::restart);
  EXPECT_EQ(p.crashed(t0 + 20s), decision::restart);
  EXPECT_EQ(p.crashed(t0 + 30s), decision::hand_over);  // the 4th within 60 s
}

TEST(SupervisionPolicy, CrashesOutsideTheWindowAreForgotten) {
  supervision_policy p(supervision_settings{3, 60000ms});
  const supervision_policy::time_point t0{};
  EXPECT_EQ(p.crashed(t0), decision::restart);
  EXPECT_EQ(p.crashed(t0 + 10s), decision::restart);
  EXPECT_EQ(p.crashed(t0 + 20s), decision::restart);
  EXPECT_EQ(p.crashed(t0 + 60s), decision::restart);  // the first is out of the window
  EXPECT_EQ(p.crashed(t0 + 69s), decision::hand_over);
  supervision_policy once(supervision_settings{0, 1000ms});
  EXPECT_EQ(once.crashed(t0), decision::hand_over);
}

}  // namespace
}  // namespace corolla
