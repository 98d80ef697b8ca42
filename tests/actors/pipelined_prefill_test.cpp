// Pipelined prefill: a push-mode step of many rows goes down the route in chunks, each
// server computing one while the next is on its way. The route's outputs must be the bits
// of the step sent whole — for every chunk size, after a rewrite below the cache's end,
// and when a server crashes with chunks of the step on the route.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include <caf/scoped_actor.hpp>

#include "actors/client_session.hpp"
#include "tests/actors/swarm_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

class PipelinedPrefill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = testing::made_stories_model("prefill", 31);
    ASSERT_FALSE(model_.empty());
  }

  local_swarm start(const std::vector<block_span>& spans, std::vector<fault_injection> faults) {
    auto swarm = testing::start_swarm(system_, model_, spans, std::move(faults));
    EXPECT_TRUE(swarm.ok()) << swarm.error().message();
    return std::move(*swarm);
  }

  // Runs `steps` through a new session on `swarm` and returns the route's outputs, one
  // vector per step (empty, with a test failure, when a step fails).
  std::vector<std::vector<float>> run(const local_swarm& swarm, bool push, int64_t chunk,
                                      const std::vector<session_step>& steps,
                                      std::vector<recovery_report>* recoveries = nullptr) {
    const llama_config& c = swarm.head_model()->config();
    client_session_config sc;
    sc.routing_table = swarm.client_defaults().routing_table;
    sc.session_id = ++next_session_;
    sc.n_blocks = c.n_blocks;
    sc.dim = c.dim;
    sc.max_tokens = 256;
    sc.push = push;
    sc.prefill_chunk = chunk;
    sc.step_timeout = 2000ms;
    sc.failover.backoff_base = 10ms;
    client_session_actor session = spawn_client_session(system_, sc);
    caf::scoped_actor self{system_};
    std::vector<std::vector<float>> out;
    self->request(session, caf::infinite, open_atom::value)
        .receive([](const std::vector<hop_timing>&) {},
                 [](const caf::error& e) { ADD_FAILURE() << "open: " << describe(e); });
    for (const session_step& step : steps) {
      self->request(session, caf::infinite, step)
          .receive(
              [&](session_step_result& r) {
                out.push_back(std::move(r.hidden));
                if (recoveries) {
                  recoveries->insert(recoveries->end(), r.recoveries.begin(), r.recoveries.end());
                }
              },
              [&](const caf::error& e) {
                ADD_FAILURE() << "step at " << step.pos << ": " << describe(e);
                out.emplace_back();
              });
    }
    self->send(session, close_atom::value);
    return out;
  }

  static session_step random_step(int64_t pos, int64_t n, int64_t dim, std::mt19937_64& rng) {
    std::normal_distribution<float> value(0.0f, 1.0f);
    session_step s{pos, n, std::vector<float>(size_t(n * dim))};
    for (float& v : s.hidden) v = value(rng);
    return s;
  }

  // A 150-row prompt, 40 more rows, then 30 rows rewriting positions [120, 150).
  std::vector<session_step> steps(int64_t dim) const {
    std::mt19937_64 rng(testing::test_seed(5));
    return {random_step(0, 150, dim, rng), random_step(150, 40, dim, rng),
            random_step(120, 30, dim, rng)};
  }

  node_config cfg_;
  caf::actor_system system_{cfg_};
  uint64_t next_session_ = 0;
  static std::string model_;
};

std::string PipelinedPrefill::model_;

TEST_F(PipelinedPrefill, EveryChunkSizeGivesTheBitsOfTheWholeStep) {
  local_swarm swarm = start({{0, 2}, {2, 3}, {3, 5}}, {});
  const auto all = steps(swarm.head_model()->config().dim);
  const auto whole = run(swarm, true, 0, all);
  ASSERT_EQ(whole.size(), all.size());
  EXPECT_EQ(run(swarm, false, 0, all), whole) << "round trips";
  for (int64_t chunk : {1, 7, 32, 149, 150, 151}) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk));
    EXPECT_EQ(run(swarm, true, chunk, all), whole);
  }
}

TEST_F(PipelinedPrefill, AServerCrashingWithChunksOnTheRouteIsReplacedAndChangesNoBit) {
  const int64_t dim = [&] {
    local_swarm probe = start({{0, 5}}, {});
    return probe.head_model()->config().dim;
  }();
  const auto all = steps(dim);
  std::vector<std::vector<float>> whole;
  {
    local_swarm healthy = start({{0, 2}, {2, 5}}, {});
    whole = run(healthy, true, 0, all);
  }
  // Routes take the lower server id first: the crashing server takes 3 of the first
  // step's 10 chunks, then dies; its spare gets the session's inputs and the step runs
  // again from that hop.
  fault_injection crash;
  crash.crash_after_steps = 3;
  for (int64_t at : {0, 1}) {
    SCOPED_TRACE("crash at hop " + std::to_string(at));
    std::vector<fault_injection> faults(4);
    faults[size_t(at * 2)] = crash;
    local_swarm swarm = start({{0, 2}, {0, 2}, {2, 5}, {2, 5}}, faults);
    std::vector<recovery_report> recoveries;
    EXPECT_EQ(run(swarm, true, 16, all, &recoveries), whole);
    ASSERT_EQ(recoveries.size(), 1u);
    EXPECT_EQ(recoveries[0].failed_server, at == 0 ? "server-1" : "server-3");
    EXPECT_NE(recoveries[0].cause.find("crashed (fault injection) after 3 steps"),
              std::string::npos)
        << recoveries[0].cause;
  }
}

}  // namespace
}  // namespace corolla
