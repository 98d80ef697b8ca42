// The actor runtime in one process against the single-process generator: the same
// tokens for every way of splitting the model over servers, on both kernel paths,
// alone and with other sessions running at the same time.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include <caf/actor_cast.hpp>
#include <caf/scoped_actor.hpp>

#include "tests/actors/swarm_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using testing::answer;
using testing::ask;
using testing::greedy;
using testing::stories_path;

// Every way to cut [0, n) into k non-empty consecutive spans.
std::vector<std::vector<block_span>> all_splits(int64_t n, int64_t k) {
  std::vector<std::vector<block_span>> out;
  std::vector<block_span> current;
  std::function<void(int64_t, int64_t)> extend = [&](int64_t start, int64_t left) {
    if (left == 1) {
      current.emplace_back(start, n);
      out.push_back(current);
      current.pop_back();
      return;
    }
    for (int64_t end = start + 1; end <= n - (left - 1); ++end) {
      current.emplace_back(start, end);
      extend(end, left - 1);
      current.pop_back();
    }
  };
  extend(0, k);
  return out;
}

std::string describe_split(const std::vector<block_span>& spans) {
  std::string s;
  for (const auto& [a, b] : spans) s += "[" + std::to_string(a) + "," + std::to_string(b) + ")";
  return s;
}

class ActorSwarm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::shared_exists("models/stories260K.gguf")) {
      GTEST_SKIP() << "../shared/models/stories260K.gguf absent";
    }
  }
};

TEST_F(ActorSwarm, EverySplitMatchesSingleProcessGenerationInBothModes) {
  const generate_request req = greedy("Once upon a time", 24);
  for (precision kind : {precision::int8, precision::f32}) {
    const auto expected = testing::single_process_tokens(stories_path(), kind, req);
    ASSERT_EQ(expected.size(), 24u);
    for (int64_t servers : {1, 2, 3, 5}) {
      for (const auto& split : all_splits(5, servers)) {
        for (bool push : {false, true}) {
          SCOPED_TRACE(std::string(to_string(kind)) + " split " + describe_split(split) +
                       (push ? " push" : " round trips"));
          node_config cfg;
          caf::actor_system system{cfg};
          local_swarm_options options;
          options.model_path = stories_path();
          options.spans = split;
          options.kind = kind;
          auto swarm = local_swarm::start(system, options);
          ASSERT_TRUE(swarm.ok()) << swarm.error().to_string();
          client_config client_cfg = swarm->client_defaults();
          client_cfg.push = push;
          auto client = start_client(system, client_cfg);
          ASSERT_TRUE(client.ok()) << client.error().to_string();
          client_handle owner(*client);
          const answer a = ask(system, *client, req);
          EXPECT_EQ(a.error, "");
          EXPECT_EQ(a.reply.stats.tokens, expected);
          EXPECT_EQ(a.reply.mean_token.size(), split.size());
        }
      }
    }
  }
}

TEST_F(ActorSwarm, ConcurrentSessionsEachProduceWhatTheyProduceAlone) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  node_config cfg;
  caf::actor_system system{cfg};
  local_swarm_options options;
  options.model_path = stories_path();
  auto swarm = local_swarm::start(system, options);
  ASSERT_TRUE(swarm.ok()) << swarm.error().to_string();

  const char* prompts[] = {"Once upon a time", "The cat", "Lily wanted",   "One day, a big",
                           "Tom and Sam",      "The sun", "A little bird", "Mom said"};
  std::vector<generate_request> requests;
  std::vector<client_handle> clients;
  for (int i = 0; i < 8; ++i) {
    generate_request req = greedy(prompts[i], 20);
    req.options.sampling.temperature = 0.9f;  // sampled: each session's own seeded sampler
    req.options.sampling.seed = seed + uint64_t(i);
    requests.push_back(req);
    auto client = start_client(system, swarm->client_defaults());
    ASSERT_TRUE(client.ok()) << client.error().to_string();
    clients.emplace_back(*client);
  }
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 8; ++i) {
    const answer a = ask(system, clients[size_t(i)].actor(), requests[size_t(i)]);
    ASSERT_EQ(a.error, "");
    alone.push_back(a.reply.stats.tokens);
  }
  // All eight at once, each on a fresh conversation: their decode steps meet in the
  // block actors and run batched.
  caf::scoped_actor self{system};
  for (int i = 0; i < 8; ++i) {
    self->send(clients[size_t(i)].actor(), reset_atom::value);
    self->send(clients[size_t(i)].actor(), requests[size_t(i)]);
  }
  std::map<caf::actor_addr, std::vector<int32_t>> together;
  int done = 0;
  self->receive_while([&] { return done < 8; })(
      [](const text_chunk&) {},
      [&](const generate_reply& r) {
        together[caf::actor_cast<caf::actor_addr>(self->current_sender())] = r.stats.tokens;
        ++done;
      },
      [&](const caf::error& e) {
        ADD_FAILURE() << describe(e);
        ++done;
      },
      caf::after(std::chrono::seconds(60)) >>
          [&] {
            ADD_FAILURE() << "timeout";
            done = 8;
          });
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(together[clients[size_t(i)].actor().address()], alone[size_t(i)]) << prompts[i];
  }
}

}  // namespace
}  // namespace corolla
