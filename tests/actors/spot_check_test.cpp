// Spot checks: the comparison and the verdict as plain functions, then liars among real
// server actors in one process — on the route, as the checker, with and without a
// referee, in the first hop of two — in round trips and push mode.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <set>

#include <caf/scoped_actor.hpp>

#include "actors/spot_check.hpp"
#include "messages/caf_types.hpp"
#include "tests/actors/swarm_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

TEST(SpotCheckCompare, FindsTheFirstDifferingBitAndCountsRows) {
  std::vector<float> a(4 * 3, 1.5f), b = a;
  EXPECT_FALSE(first_mismatch(a.data(), b.data(), 4, 3, 10));
  b[7] = std::nextafter(b[7], 2.0f);  // row 2, value 1: one unit in the last place
  b[10] = -b[10];                     // row 3
  const auto m = first_mismatch(a.data(), b.data(), 4, 3, 10);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->position, 12);
  EXPECT_EQ(m->value, 1);
  EXPECT_EQ(m->expected, 1.5f);
  EXPECT_EQ(m->got, b[7]);
  EXPECT_EQ(m->rows_differing, 2);
  // Bits, not values: -0 is not 0, and a NaN is not equal to itself but is to its bits.
  std::vector<float> z{0.0f}, nz{-0.0f}, nan{std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(first_mismatch(z.data(), nz.data(), 1, 1, 0));
  EXPECT_FALSE(first_mismatch(nan.data(), nan.data(), 1, 1, 0));
}

TEST(SpotCheckVerdict, TheOneTheRefereeDisagreesWithLied) {
  EXPECT_EQ(judge(false, true), spot_verdict::route_server);
  EXPECT_EQ(judge(true, false), spot_verdict::checker);
  EXPECT_EQ(judge(false, false), spot_verdict::both);
  EXPECT_EQ(judge(std::nullopt, std::nullopt), spot_verdict::both);  // no referee
}

TEST(SpotCheckSchedule, ChecksEveryPeriodFromASeededPhase) {
  spot_check_schedule off;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.due());
  EXPECT_EQ(spot_check_schedule({0.01}, 1).period(), 100);
  EXPECT_EQ(spot_check_schedule({1.0}, 1).period(), 1);
  spot_check_schedule a({0.25}, 7), b({0.25}, 7);
  std::vector<int> at;
  for (int i = 1; i <= 400; ++i) {
    const bool d = a.due();
    EXPECT_EQ(d, b.due());
    if (d) at.push_back(i);
  }
  ASSERT_EQ(at.size(), 100u);
  EXPECT_LE(at[0], 4);
  for (size_t i = 1; i < at.size(); ++i) EXPECT_EQ(at[i] - at[i - 1], 4);
  std::set<int> phases;  // seeds spread the first check over the period
  for (uint64_t seed = 0; seed < 64; ++seed) {
    spot_check_schedule s({0.1}, seed);
    int i = 1;
    while (!s.due()) ++i;
    phases.insert(i);
  }
  EXPECT_GE(phases.size(), 6u);
}

class SpotCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = testing::made_stories_model("spot-check", 29);
    ASSERT_FALSE(model_.empty());
    expected_ = testing::single_process_tokens(model_, precision::int8, request());
  }

  static generate_request request() { return testing::greedy("Once upon a time", 48); }

  static fault_injection liar(int64_t every) {
    fault_injection f;
    f.alter_every = every;
    return f;
  }

  // Routes and checkers prefer the lower server id: server-1 is the route's for its span,
  // server-2 its checker, server-3 the referee.
  testing::answer generate(const std::vector<block_span>& spans,
                           std::vector<fault_injection> faults, bool push) {
    auto swarm = testing::start_swarm(system_, model_, spans, std::move(faults));
    if (!swarm.ok()) return testing::answer{"", {}, swarm.error().message()};
    client_config c = swarm->client_defaults();
    c.push = push;
    c.session_id = 2000 + push;
    c.failover.backoff_base = 20ms;
    c.failover.attempts = 4;
    c.spot_checks.fraction = 0.25;
    auto client = start_client(system_, c);
    if (!client.ok()) return testing::answer{"", {}, client.error().message()};
    client_handle owner(*client);
    return testing::ask(system_, *client, request());
  }

  node_config cfg_;
  caf::actor_system system_{cfg_};
  static std::string model_;
  static std::vector<int32_t> expected_;
};

std::string SpotCheck::model_;
std::vector<int32_t> SpotCheck::expected_;

TEST_F(SpotCheck, HonestServersPassEveryCheck) {
  const testing::answer got = generate({{0, 5}, {0, 5}}, {{}, {}}, true);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  EXPECT_TRUE(got.reply.recoveries.empty());
  const spot_check_totals& t = got.reply.spot_checks;
  EXPECT_GT(t.checks, 3);
  EXPECT_EQ(t.mismatches, 0);
  EXPECT_GT(t.positions, 20);
  EXPECT_GT(t.check_compute_ms, 0);
  EXPECT_EQ(t.first_ban_step, 0);
}

TEST_F(SpotCheck, ALiarOnTheRouteIsBannedAndReplaced) {
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    const testing::answer got = generate({{0, 5}, {0, 5}, {0, 5}}, {liar(5), {}, {}}, push);
    ASSERT_EQ(got.error, "");
    ASSERT_EQ(got.reply.recoveries.size(), 1u);
    const recovery_report& r = got.reply.recoveries[0];
    EXPECT_EQ(r.failed_server, "server-1");
    EXPECT_NE(r.cause.find("spot check: blocks [0, 5)"), std::string::npos) << r.cause;
    EXPECT_NE(r.cause.find("server-1 returned"), std::string::npos) << r.cause;
    EXPECT_NE(r.cause.find("referee server-3 agrees with the checker"), std::string::npos)
        << r.cause;
    EXPECT_EQ(r.replaced_by, std::vector<std::string>{"server-2"});
    EXPECT_EQ(got.reply.last_token.at(0).server_name, "server-2");
    EXPECT_GE(got.reply.spot_checks.mismatches, 1);
    EXPECT_GT(got.reply.spot_checks.first_ban_step, 0);
  }
}

TEST_F(SpotCheck, ALyingCheckerIsBannedAndTheRouteKept) {
  const testing::answer got = generate({{0, 5}, {0, 5}, {0, 5}}, {{}, liar(3), {}}, true);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  EXPECT_TRUE(got.reply.recoveries.empty());
  EXPECT_EQ(got.reply.last_token.at(0).server_name, "server-1");
  const spot_check_totals& t = got.reply.spot_checks;
  EXPECT_EQ(t.mismatches, 1);  // then server-3 checks, and agrees
  EXPECT_GT(t.checks, t.mismatches);
}

TEST_F(SpotCheck, WithoutARefereeBothAreBanned) {
  const testing::answer got = generate({{0, 5}, {0, 5}}, {liar(5), {}}, true);
  EXPECT_NE(got.error.find("spot check"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("no third server to referee"), std::string::npos) << got.error;
}

// The liar runs the first hop: after its replacement the second hop and its shadow
// recompute from the first wrong position, and only the liar is ever blamed.
TEST_F(SpotCheck, TheHopsAfterALiarRecomputeWhatItGotWrong) {
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    const testing::answer got =
        generate({{0, 2}, {0, 2}, {0, 2}, {2, 5}, {2, 5}}, {liar(4), {}, {}, {}, {}}, push);
    ASSERT_EQ(got.error, "");
    ASSERT_EQ(got.reply.recoveries.size(), 1u);
    EXPECT_EQ(got.reply.recoveries[0].failed_server, "server-1");
    EXPECT_EQ(got.reply.spot_checks.mismatches, 1) << "an honest server was caught";
    EXPECT_GT(got.reply.spot_checks.checks, 4);
  }
}

// Push mode: server-1 hands server-3 a changed input while sending the session the true
// output. server-3 reports a digest of what it computed on, the session sees it is not
// what server-1 sent it, and both are replaced before the step completes: no lie reaches
// the answer.
TEST_F(SpotCheck, AServerHandingTheNextOneSomethingElseIsCaughtAtOnce) {
  fault_injection handover_liar;
  handover_liar.alter_handover_every = 5;
  const testing::answer got =
      generate({{0, 2}, {0, 2}, {2, 5}, {2, 5}}, {handover_liar, {}, {}, {}}, true);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  ASSERT_EQ(got.reply.recoveries.size(), 2u);
  EXPECT_EQ(got.reply.recoveries[0].failed_server, "server-1");
  EXPECT_NE(got.reply.recoveries[0].cause.find("computed on another input than server"),
            std::string::npos)
      << got.reply.recoveries[0].cause;
  EXPECT_EQ(got.reply.recoveries[1].failed_server, "server-3");
  EXPECT_EQ(got.reply.last_token.at(0).server_name, "server-2");
  EXPECT_EQ(got.reply.last_token.at(1).server_name, "server-4");
}

// A server that says it is fast but answers slowly: after a session's decode steps its
// client's table counts it at the speed measured, and the next session goes elsewhere.
TEST_F(SpotCheck, AServerSlowerThanItClaimsIsDiscountedInRoutes) {
  fault_injection slow;
  slow.reply_delay = 20ms;  // not part of the compute it measures and announces
  local_swarm_options o;
  o.model_path = model_;
  o.spans = {{0, 5}, {0, 5}};
  o.faults = {slow, {}};
  auto swarm = local_swarm::start(system_, o);
  ASSERT_TRUE(swarm.ok()) << swarm.error().message();
  auto route_of = [&](uint64_t session_id) {
    client_config c = swarm->client_defaults();
    c.session_id = session_id;
    auto client = start_client(system_, c);
    EXPECT_TRUE(client.ok());
    client_handle owner(*client);
    const testing::answer got = testing::ask(system_, *client, testing::greedy("Once", 12));
    EXPECT_EQ(got.error, "");
    return got.reply.last_token.empty() ? std::string() : got.reply.last_token[0].server_name;
  };
  EXPECT_EQ(route_of(3001), "server-1");  // the tie goes to the lower id
  caf::scoped_actor self{system_};
  self->request(swarm->routing_table(), 5s, list_atom::value)
      .receive(
          [](const std::vector<server_record>& records) {
            ASSERT_EQ(records.size(), 2u);
            const server_record& r = records[0].name == "server-1" ? records[0] : records[1];
            EXPECT_GT(r.compute_ms_per_block, 20.0 / 5 / 2) << "counted as it claims";
          },
          [](const caf::error& e) { FAIL() << caf::to_string(e); });
  EXPECT_EQ(route_of(3002), "server-2");
}

}  // namespace
}  // namespace corolla
