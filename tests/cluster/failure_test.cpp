// Failures in a swarm of real actor-node processes: servers killed with SIGKILL, stopped
// with SIGSTOP or told to leave with SIGTERM at a random step of a greedy generation. Every span
// has a spare, so the answer must be the single-process generator's, with no error surfaced.
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <random>

#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

class Failures : public Cluster {
 protected:
  // Two nodes per span of [0, 2), [2, 4), [4, 5), joined through the first.
  struct spared_swarm {
    std::vector<std::unique_ptr<node_process>> nodes;
    node_process& find(const std::string& name) {
      for (auto& n : nodes) {
        if (n->output().rfind(name + ":", 0) == 0) return *n;
      }
      throw std::runtime_error("no node " + name);
    }
  };

  spared_swarm start_spared() {
    spared_swarm s;
    const std::vector<std::pair<std::string, std::string>> spans = {
        {"a0", "0:2"}, {"a1", "0:2"}, {"b0", "2:4"}, {"b1", "2:4"}, {"c0", "4:5"}, {"c1", "4:5"}};
    for (const auto& [name, span] : spans) {
      std::vector<std::string> seeds;
      if (!s.nodes.empty()) seeds.push_back(s.nodes.front()->address());
      s.nodes.push_back(std::make_unique<node_process>(testing::app_path("actor-node"),
                                                       node_args(name, span, seeds)));
      if (!s.nodes.back()->wait_for("serving blocks")) ADD_FAILURE() << s.nodes.back()->output();
    }
    return s;
  }

  // For each span in turn, a fresh client's route server of that span gets `signal_number`
  // after a random token of a 64-token greedy generation; the answer must be the
  // single-process text with one recovery, which `check` looks at further.
  void fault_each_span(
      int signal_number, uint64_t default_seed,
      const std::function<void(const recovery_report&, int at, node_process& server)>& check) {
    spared_swarm s = start_spared();
    remote_swarm& swarm = join(*s.nodes.front());
    ASSERT_TRUE(wait_for_servers(swarm, 6));
    const generate_request req = testing::greedy("Once upon a time", 64);
    const auto expected = testing::single_process_tokens(model_, precision::int8, req);
    const uint64_t seed = testing::test_seed(default_seed);
    std::cout << "fault seed " << seed << "\n";
    std::mt19937_64 rng(seed);
    for (size_t span = 0; span < 3; ++span) {
      auto client = start_client(*system_, failover_client(swarm, seed + span));
      ASSERT_TRUE(client.ok()) << client.error().message();
      client_handle owner(*client);
      const std::vector<std::string> route = route_of(*client);
      ASSERT_EQ(route.size(), 3u);
      node_process& victim = s.find(route[span]);
      const int at = 2 + int(rng() % 56);
      std::cout << "signal " << signal_number << " to " << route[span] << " after token " << at
                << "\n";
      const testing::answer got =
          ask_with_fault(*client, req, at, [&] { victim.signal(signal_number); });
      ASSERT_EQ(got.error, "");
      EXPECT_EQ(got.reply.stats.tokens, expected);
      ASSERT_EQ(got.reply.recoveries.size(), 1u);
      EXPECT_EQ(got.reply.recoveries[0].failed_server, route[span]);
      check(got.reply.recoveries[0], at, victim);
    }
  }
};

TEST_F(Failures, KillingEachSpansRouteServerMidGenerationChangesNoToken) {
  fault_each_span(SIGKILL, 31, [](const recovery_report& r, int, node_process&) {
    EXPECT_FALSE(r.planned);
    std::cout << "  noticed: " << r.cause << "; rerouted to " << r.replaced_by.front() << " in "
              << r.reroute_ms << " ms, replayed " << r.replayed_tokens << " tokens in "
              << r.replay_ms << " ms\n";
  });
}

// A planned leave in real processes: SIGTERM drains the node, which tells its sessions'
// clients to move off; the other server of its span takes each session's caches over from
// it, and the generation goes on there without a replay.
TEST_F(Failures, LeavingEachSpansRouteServerMidGenerationHandsItsCachesOverWithoutAReplay) {
  fault_each_span(SIGTERM, 37, [](const recovery_report& r, int at, node_process& leaver) {
    EXPECT_TRUE(r.planned) << r.cause;
    EXPECT_EQ(r.replayed_tokens, 0);
    EXPECT_GE(r.handed_over_tokens, at);
    std::cout << "  " << r.cause << "; " << r.replaced_by.front() << " took "
              << r.handed_over_tokens << " tokens' caches over in " << r.replay_ms << " ms\n";
    EXPECT_EQ(leaver.wait_exit(std::chrono::seconds(10)), 0) << leaver.output();
  });
}

TEST_F(Failures, AStoppedServerIsFoundByHeartbeatsAndRoutedAround) {
  spared_swarm s = start_spared();
  remote_swarm& swarm = join(*s.nodes.front());
  ASSERT_TRUE(wait_for_servers(swarm, 6));
  const generate_request req = testing::greedy("Once upon a time", 64);
  const auto expected = testing::single_process_tokens(model_, precision::int8, req);
  auto client = start_client(*system_, failover_client(swarm, 77));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const std::vector<std::string> route = route_of(*client);
  ASSERT_EQ(route.size(), 3u);
  node_process& victim = s.find(route[1]);
  std::chrono::steady_clock::time_point stopped;
  const testing::answer got = ask_with_fault(*client, req, 20, [&] {
    victim.signal(SIGSTOP);
    stopped = std::chrono::steady_clock::now();
  });
  victim.signal(SIGCONT);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  const recovery_report& r = got.reply.recoveries[0];
  EXPECT_EQ(r.failed_server, route[1]);
  const double detected_ms =
      double(r.noticed_ns -
             std::chrono::duration_cast<std::chrono::nanoseconds>(stopped.time_since_epoch())
                 .count()) /
      1e6;
  std::cout << "SIGSTOP noticed after " << detected_ms << " ms: " << r.cause << "\n";
  // The heartbeat timeout of this process is 1000 ms (interval 100 ms).
  EXPECT_LT(detected_ms, 1500);
}

// An operator's fault injection: x crashes its server after 3 steps; y, started after
// the session opened on x, takes over.
TEST_F(Failures, ANodeToldToCrashByItsFaultKeysIsReplacedByALaterNode) {
  std::vector<std::string> args = node_args("x", "0:5", {});
  args.insert(args.end(), {"--fault-crash-after-steps", "3"});
  node_process x(testing::app_path("actor-node"), args);
  ASSERT_TRUE(x.wait_for("fault injection on: crash after 3 steps")) << x.output();
  remote_swarm& swarm = join(x);
  auto client = start_client(*system_, failover_client(swarm, 5));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  node_process y(testing::app_path("actor-node"), node_args("y", "0:5", {x.address()}));
  ASSERT_TRUE(y.wait_for("serving blocks")) << y.output();
  ASSERT_TRUE(wait_for_servers(swarm, 2));

  const generate_request req = testing::greedy("Once upon a time", 32);
  const testing::answer got = testing::ask(*system_, *client, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, testing::single_process_tokens(model_, precision::int8, req));
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  EXPECT_EQ(got.reply.recoveries[0].failed_server, "x");
  EXPECT_EQ(got.reply.recoveries[0].replaced_by, std::vector<std::string>{"y"});
  EXPECT_NE(got.reply.recoveries[0].cause.find("crashed (fault injection) after 3 steps"),
            std::string::npos)
      << got.reply.recoveries[0].cause;
}

// Repeated block crashes: b gives [2, 5) up after 3 restarts, h (which has room) hosts
// it, and the client fails over to h's new server and replays there.
TEST_F(Failures, ANodeWhoseBlocksKeepCrashingHasItsSpanRehostedOnANodeWithRoom) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:2", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  std::vector<std::string> b_args = node_args("b", "2:5", {a.address()});
  b_args.insert(b_args.end(), {"--fault-crash-block", "2", "--fault-block-crash-after-steps", "4",
                               "--fault-block-crashes", "100"});
  node_process b(testing::app_path("actor-node"), b_args);
  std::vector<std::string> h_args = node_args("h", "0:2", {a.address()});
  h_args.insert(h_args.end(), {"--host-budget-mib", "64"});
  node_process h(testing::app_path("actor-node"), h_args);
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();
  ASSERT_TRUE(h.wait_for("serving blocks")) << h.output();
  remote_swarm& swarm = join(a);
  ASSERT_TRUE(wait_for_servers(swarm, 3));

  auto client = start_client(*system_, failover_client(swarm, 9));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const generate_request req = testing::greedy("Once upon a time", 32);
  const testing::answer got = testing::ask(*system_, *client, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, testing::single_process_tokens(model_, precision::int8, req));
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  const recovery_report& r = got.reply.recoveries[0];
  EXPECT_EQ(r.failed_server, "b");
  EXPECT_EQ(r.replaced_by, std::vector<std::string>{"h+2:5"});
  // b gave its span up with its last caches whole: the session's caches went over to the
  // server h started for it, and nothing was replayed.
  EXPECT_TRUE(r.planned) << r.cause;
  EXPECT_EQ(r.replayed_tokens, 0);
  EXPECT_GT(r.handed_over_tokens, 0);
  EXPECT_TRUE(h.wait_for("h: hosting blocks [2, 5) as h+2:5")) << h.output();
}

}  // namespace
}  // namespace corolla

namespace corolla::testing {
namespace {

// The REPL's case: every server gone, the answer fails; a node comes back on the seed's
// address and the same client answers again, with the same tokens.
TEST_F(Failures, AClientWhoseWholeSwarmDiedAnswersAgainWhenANodeComesBack) {
  auto first = std::make_unique<node_process>(app_path("actor-node"), node_args("a", "0:5", {}));
  ASSERT_TRUE(first->wait_for("serving blocks")) << first->output();
  const std::string port = std::to_string(first->port());
  remote_swarm& swarm = join(*first);
  client_config c = failover_client(swarm, 601);
  c.failover.attempts = 3;
  c.failover.backoff_max = 200ms;
  auto client = start_client(*system_, c);
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const generate_request req = greedy("Once upon a time", 8);
  const answer before = ask(*system_, *client, req);
  ASSERT_TRUE(before.error.empty()) << before.error;
  first->signal(SIGKILL);
  first->wait_exit();
  EXPECT_FALSE(ask(*system_, *client, req).error.empty());

  std::vector<std::string> args = node_args("a-again", "0:5", {});
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--port") args[i + 1] = port;
  }
  node_process again(app_path("actor-node"), args);
  ASSERT_TRUE(again.wait_for("serving blocks")) << again.output();
  answer back;
  for (int i = 0; i < 50; ++i) {
    back = ask(*system_, *client, req);
    if (back.error.empty()) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(back.error.empty()) << back.error;
  EXPECT_EQ(back.text, before.text);
}

}  // namespace
}  // namespace corolla::testing
