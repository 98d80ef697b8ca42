// Balancing in a swarm of real actor-node processes: balancers with a short check
// period (1 s, jittered by +-50%) move servers that all started on one span until the
// model is covered, and re-cover the blocks of a node killed during a generation.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>

#include "actors/balance_plan.hpp"
#include "actors/membership.hpp"
#include "actors/route_planner.hpp"
#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

constexpr auto check_period = 1000ms;
constexpr int64_t n_blocks = 5;  // stories260K's

class SwarmBalancing : public Cluster {
 protected:
  static std::vector<std::string> balancing_args(const std::string& name, const std::string& span,
                                                 const std::vector<std::string>& seeds,
                                                 const std::string& mode = "petals") {
    std::vector<std::string> args = node_args(name, span, seeds);
    args.insert(args.end(), {"--balance", "on", "--mean-balance-check-period-ms",
                             std::to_string(check_period.count()), "--balance-grace-ms", "500",
                             "--balance-mode", mode});
    return args;
  }

  void four_nodes_on_one_span_cover_the_model(const std::string& mode);
  void a_killed_nodes_blocks_are_re_covered(const std::string& mode);

  // Blocks no online server covers, as `table` sees them.
  int64_t uncovered(const routing_table_actor& table) {
    int64_t out = 0;
    for (int64_t c : block_coverage(list(table), n_blocks)) out += c == 0;
    return out;
  }

  static size_t moves(node_process& node) {
    const std::string& text = node.output();
    size_t count = 0;
    for (size_t at = text.find("moving from"); at != std::string::npos;
         at = text.find("moving from", at + 1)) {
      ++count;
    }
    return count;
  }
};

void SwarmBalancing::four_nodes_on_one_span_cover_the_model(const std::string& mode) {
  std::vector<std::unique_ptr<node_process>> nodes;
  const auto started = std::chrono::steady_clock::now();
  for (const std::string name : {"a", "b", "c", "d"}) {
    std::vector<std::string> seeds;
    if (!nodes.empty()) seeds.push_back(nodes.front()->address());
    nodes.push_back(std::make_unique<node_process>(testing::app_path("actor-node"),
                                                   balancing_args(name, "0:2", seeds, mode)));
  }
  for (auto& n : nodes) ASSERT_TRUE(n->wait_for("serving blocks [0, 2)")) << n->output();
  remote_swarm& swarm = join(*nodes.front());

  // Each node checks once per period on average, its first check within 1.5 periods of
  // its start; three periods at the longest jitter, and the processes' start-up, bound
  // the convergence counted from the first node's start.
  const auto deadline = started + 3 * check_period * 3 / 2 + 2s;
  int64_t left = n_blocks;
  while ((left = uncovered(swarm.routing_table())) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  const double periods = std::chrono::duration<double>(std::chrono::steady_clock::now() - started) /
                         std::chrono::duration<double>(check_period);
  std::cout << "every block covered " << periods << " check periods after the first node started\n";
  for (auto& n : nodes) std::cout << n->output();
  ASSERT_EQ(left, 0);

  // A covered swarm of four 2-block spans over 5 blocks can not do better than one
  // server on its weakest block: nobody moves again.
  size_t moved = 0;
  for (auto& n : nodes) moved += moves(*n);
  std::this_thread::sleep_for(check_period * 2);
  size_t moved_later = 0;
  for (auto& n : nodes) moved_later += moves(*n);
  EXPECT_EQ(moved_later, moved) << "a server moved in a covered, steady swarm";
  EXPECT_GE(moved, 2u);  // two of [0, 2)'s four servers, at least

  // The moved servers serve: the swarm gives the single-process answer.
  auto client = start_client(*system_, failover_client(swarm, 3));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const generate_request req = testing::greedy("Once upon a time", 24);
  const testing::answer got = testing::ask(*system_, *client, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, testing::single_process_tokens(model_, precision::int8, req));
}

TEST_F(SwarmBalancing, FourNodesStartingOnOneSpanCoverTheModelWithinThreeCheckPeriods) {
  four_nodes_on_one_span_cover_the_model("petals");
}

// The same in plan mode: every node computes the one plan from its table and moves
// only itself.
TEST_F(SwarmBalancing, InPlanModeFourNodesOnOneSpanCoverTheModelWithinThreeCheckPeriods) {
  four_nodes_on_one_span_cover_the_model("plan");
}

// corolla plan --peer: a live swarm of three nodes on [0, 3) of 5 blocks, blocks 3 and 4
// served by none, and the plan that moves one of them there.
TEST_F(SwarmBalancing, PlanPeerPrintsTheLiveSpansBesideThePlan) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:3", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process b(testing::app_path("actor-node"), node_args("b", "0:3", {a.address()}));
  node_process c(testing::app_path("actor-node"), node_args("c", "0:3", {a.address()}));
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();
  ASSERT_TRUE(c.wait_for("serving blocks")) << c.output();
  const auto shown = testing::run_command(testing::app_path("corolla") + " plan --peer " +
                                          a.address() + " --model " + model_ + " 2>&1");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("3 servers over 5 blocks"), std::string::npos) << shown.output;
  for (const std::string name : {"| a | no | ", "| b | no | ", "| c | no | "}) {
    EXPECT_NE(shown.output.find(name), std::string::npos) << shown.output;
  }
  EXPECT_NE(shown.output.find("| 2:5 |"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("weakest block: 0.0 steps/s now"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("(1 moves)"), std::string::npos) << shown.output;
}

// b alone serves [2, 4); s is a spare on [0, 2) with a balancer. b is killed during a
// generation: s moves to [2, 4), the client replays there, and the answer is unchanged.
void SwarmBalancing::a_killed_nodes_blocks_are_re_covered(const std::string& mode) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:2", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process s(testing::app_path("actor-node"), balancing_args("s", "0:2", {a.address()}, mode));
  node_process b(testing::app_path("actor-node"), node_args("b", "2:4", {a.address()}));
  node_process c(testing::app_path("actor-node"), node_args("c", "4:5", {a.address()}));
  for (node_process* n : {&s, &b, &c}) ASSERT_TRUE(n->wait_for("serving blocks")) << n->output();
  remote_swarm& swarm = join(a);
  ASSERT_TRUE(wait_for_servers(swarm, 4));

  const generate_request req = testing::greedy("Once upon a time", 64);
  const auto expected = testing::single_process_tokens(model_, precision::int8, req);
  auto client = start_client(*system_, failover_client(swarm, 21));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const testing::answer got = ask_with_fault(*client, req, 10, [&] { b.signal(SIGKILL); });
  std::cout << s.output();
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
  ASSERT_GE(got.reply.recoveries.size(), 1u);
  // b's loss, and s's own hand-over when the route's [0, 2) was s.
  bool b_replaced_by_s = false;
  for (const recovery_report& r : got.reply.recoveries) {
    std::cout << "recovery from " << r.failed_server << ": " << r.cause << "; " << r.replayed_tokens
              << " tokens replayed in " << r.replay_ms << " ms\n";
    if (r.failed_server != "b") continue;
    for (const std::string& name : r.replaced_by) b_replaced_by_s |= name == "s";
  }
  EXPECT_TRUE(b_replaced_by_s);
  EXPECT_TRUE(s.wait_for("s: moving from blocks [0, 2) to [2, 4)")) << s.output();
  EXPECT_EQ(uncovered(swarm.routing_table()), 0);
  // The records say who may be moved: s (a balancer, one of its two moves an hour left),
  // not a and c (no balancer).
  for (const server_record& r : list(swarm.routing_table())) {
    EXPECT_EQ(r.movable, r.name == "s") << r.name;
  }
}

// Nodes of unequal speed (fault-block-ms: a block pass takes 4, 16, 8 or 12 ms, as on
// machines that far apart) all start at block 0, blocks 3 and 4 served by none. In plan
// mode they settle within three check periods; then one session's decode steps/s is what
// the plan promises from the announced speeds (its route's block times and round trips),
// within 10%. A node that alone serves some blocks leaves (SIGTERM): they are served again
// within two check periods.
TEST_F(SwarmBalancing, InPlanModeUnequalNodesSettleDecodeAtThePlannedRateAndHealALeave) {
  struct spec {
    std::string name, span, block_ms;
  };
  const std::vector<spec> specs{
      {"a", "0:3", "4"}, {"b", "0:2", "16"}, {"c", "0:2", "8"}, {"d", "0:2", "12"}};
  std::map<std::string, std::unique_ptr<node_process>> nodes;
  const auto started = std::chrono::steady_clock::now();
  for (const spec& sp : specs) {
    std::vector<std::string> seeds;
    if (!nodes.empty()) seeds.push_back(nodes.at("a")->address());
    std::vector<std::string> args = balancing_args(sp.name, sp.span, seeds, "plan");
    args.insert(args.end(), {"--fault-block-ms", sp.block_ms});
    nodes[sp.name] = std::make_unique<node_process>(testing::app_path("actor-node"), args);
  }
  for (auto& [name, n] : nodes) ASSERT_TRUE(n->wait_for("serving blocks")) << n->output();
  remote_swarm& swarm = join(*nodes.at("a"));

  // Settled: every block served, every server online, and the plan no better than now
  // by the margin plan mode moves for.
  const auto settled = [&](std::vector<server_record>& records) {
    records = list(swarm.routing_table());
    if (records.size() < nodes.size() || uncovered(swarm.routing_table()) > 0) return false;
    for (const server_record& r : records) {
      if (r.state != uint8_t(serving_state::online)) return false;
    }
    std::vector<swarm_span> spans = balancing_spans(records);
    for (swarm_span& sp : spans) sp.can_move = true;
    return swarm_throughput(spans, n_blocks) >= plan_placement(spans, n_blocks).throughput * 0.95;
  };
  std::vector<server_record> records;
  const auto deadline = started + 3 * check_period * 3 / 2 + 2s;
  bool done = false;
  while (!(done = settled(records)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  const double periods = std::chrono::duration<double>(std::chrono::steady_clock::now() - started) /
                         std::chrono::duration<double>(check_period);
  std::cout << "settled " << periods << " check periods after the first node started\n";
  for (auto& [name, n] : nodes) std::cout << n->output();
  ASSERT_TRUE(done);
  size_t moved = 0;
  for (auto& [name, n] : nodes) moved += moves(*n);
  std::this_thread::sleep_for(check_period * 2);
  size_t moved_later = 0;
  for (auto& [name, n] : nodes) moved_later += moves(*n);
  EXPECT_EQ(moved_later, moved) << "a server moved in a settled swarm";

  // The plan's promise for one session: the cheapest route over the announced speeds and
  // this process's measured round trips, as routing itself counts them.
  const auto candidates_of = [](const std::vector<server_record>& now) {
    std::vector<route_candidate> out;
    for (const server_record& r : now) out.push_back(route_candidate_of(r));
    return out;
  };
  records = list(swarm.routing_table());
  const auto route = plan_min_latency_route(candidates_of(records), 0, n_blocks);
  ASSERT_TRUE(route.has_value());
  // A step's cost over the route's hops, as `now` announce them.
  const auto route_ms = [&](const std::vector<server_record>& now) {
    return cost_of(*route, candidates_of(now)).total_ms();
  };
  std::vector<std::string> route_names;
  for (const planned_hop& h : *route) {
    for (const server_record& r : records) {
      if (r.server_id == h.server_id) route_names.push_back(r.name);
    }
  }
  const double promised = 1000.0 / route_ms(records);
  auto client = start_client(*system_, swarm.client_defaults());
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const generate_request req = testing::greedy("Once upon a time", 32);
  const testing::answer got = testing::ask(*system_, *client, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, testing::single_process_tokens(model_, precision::int8, req));
  // Servers announce the block times they measure as they serve (a loaded machine's
  // are above the emulated ones): the plan's figure from what they announce now.
  std::this_thread::sleep_for(testing::gossip_period * 3);
  records = list(swarm.routing_table());
  const double predicted = 1000.0 / route_ms(records);
  const double measured = got.reply.stats.decode_tokens_per_second();
  std::cout << "route " << ::testing::PrintToString(route_of(*client)) << " (planned "
            << ::testing::PrintToString(route_names) << "): " << measured
            << " decode steps/s, the plan's " << predicted << " (" << promised
            << " before serving)\n";
  for (const hop_timing& h : got.reply.mean_token) {
    std::cout << "  " << h.server_name << ": " << h.compute_ms << " ms compute, " << h.transfer_ms
              << " ms transfer a step\n";
  }
  EXPECT_EQ(route_of(*client), route_names);
  EXPECT_NEAR(measured / predicted, 1.0, 0.1);

  // A leave: the node with the fewest blocks among those that alone serve some.
  const std::vector<int64_t> coverage = block_coverage(records, n_blocks);
  const server_record* sole = nullptr;
  for (const server_record& r : records) {
    const bool alone = std::any_of(coverage.begin() + r.start_block, coverage.begin() + r.end_block,
                                   [](int64_t c) { return c == 1; });
    if (alone && (!sole || r.end_block - r.start_block < sole->end_block - sole->start_block)) {
      sole = &r;
    }
  }
  ASSERT_NE(sole, nullptr);
  std::cout << "SIGTERM to " << sole->name << ", the only server of some of "
            << span_text(sole->start_block, sole->end_block) << "\n";
  const auto left = std::chrono::steady_clock::now();
  nodes.at(sole->name)->signal(SIGTERM);
  const std::string gone = sole->name;
  const auto healed = [&] {  // its record no longer online, and every block served
    for (const server_record& r : list(swarm.routing_table())) {
      if (r.name == gone && r.state == uint8_t(serving_state::online)) return false;
    }
    return uncovered(swarm.routing_table()) == 0;
  };
  bool again = false;
  while (!(again = healed()) && std::chrono::steady_clock::now() < left + check_period * 4) {
    std::this_thread::sleep_for(10ms);
  }
  const double heal_periods =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - left) /
      std::chrono::duration<double>(check_period);
  std::cout << "served again " << heal_periods << " check periods after the leave\n";
  for (auto& [name, n] : nodes) std::cout << n->output();
  ASSERT_TRUE(again);
  EXPECT_LE(heal_periods, 2.0);
}

// Plan mode's join: a (8 ms a block) on [0, 3) and b (4 ms) on [2, 5) without balancers,
// c (8 ms) on [1, 3) balancing; n (16 ms, two blocks, span = auto) joins. Rule 1 would
// put it on [0, 2), the weakest block's window (the swarm then 72.9 steps/s); the plan
// puts n on [3, 5) and c on [0, 2) (104.2). n starts there, not counting a move, and c
// moves at its check.
TEST_F(SwarmBalancing, InPlanModeAJoiningNodeStartsWhereThePlanPutsIt) {
  const auto with = [](std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  node_process a(testing::app_path("actor-node"),
                 with(node_args("a", "0:3", {}), {"--fault-block-ms", "8"}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process b(testing::app_path("actor-node"),
                 with(node_args("b", "2:5", {a.address()}), {"--fault-block-ms", "4"}));
  node_process c(
      testing::app_path("actor-node"),
      with(balancing_args("c", "1:3", {a.address()}, "plan"), {"--fault-block-ms", "8"}));
  for (node_process* n : {&b, &c}) ASSERT_TRUE(n->wait_for("serving blocks")) << n->output();
  remote_swarm& swarm = join(a);
  ASSERT_TRUE(wait_for_servers(swarm, 3));
  node_process n(testing::app_path("actor-node"),
                 with(balancing_args("n", "auto", {a.address()}, "plan"),
                      {"--fault-block-ms", "16", "--num-blocks", "2", "--join-delay-ms", "0"}));
  ASSERT_TRUE(n.wait_for("serving blocks")) << n.output();
  EXPECT_TRUE(n.wait_for("n: serving blocks [3, 5)")) << n.output();
  EXPECT_TRUE(n.wait_for("the swarm's plan put it there instead of rule 1's [0, 2)")) << n.output();
  EXPECT_TRUE(c.wait_for("c: moving from blocks [1, 3) to [0, 2)")) << c.output();
  EXPECT_EQ(moves(n), 0u) << n.output();
}

TEST_F(SwarmBalancing, AKilledNodesBlocksAreReCoveredByABalancerWhileAGenerationGoesOn) {
  a_killed_nodes_blocks_are_re_covered("petals");
}

TEST_F(SwarmBalancing, InPlanModeAKilledNodesBlocksAreReCoveredWhileAGenerationGoesOn) {
  a_killed_nodes_blocks_are_re_covered("plan");
}

}  // namespace
}  // namespace corolla
