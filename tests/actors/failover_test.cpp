// Client failover in one process: servers made to crash, stall or time out by fault
// injection in the middle of greedy generations, with spare servers (or none) for
// their spans. The output must be the output without failures, or a clear error.
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include <caf/scoped_actor.hpp>

#include "tests/actors/swarm_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

class Failover : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = testing::made_stories_model("failover", 23);
    ASSERT_FALSE(model_.empty());
    expected_ = testing::single_process_tokens(model_, precision::int8, request());
    ASSERT_EQ(expected_.size(), 48u);
  }

  static generate_request request() { return testing::greedy("Once upon a time", 48); }

  // A swarm of `spans`, server i with faults[i]; a client with quick retries.
  local_swarm start(const std::vector<block_span>& spans, std::vector<fault_injection> faults) {
    auto swarm = testing::start_swarm(system_, model_, spans, std::move(faults));
    EXPECT_TRUE(swarm.ok()) << swarm.error().message();
    return std::move(*swarm);
  }

  client_config client_cfg(const local_swarm& swarm, bool push) {
    client_config c = swarm.client_defaults();
    c.push = push;
    c.session_id = 1000 + push;
    c.step_timeout = 300ms;
    c.failover.backoff_base = 20ms;
    c.failover.attempts = 6;
    return c;
  }

  // A client made from `c` asked for request(); its answer (or why it could not start).
  testing::answer generate(const client_config& c) {
    auto client = start_client(system_, c);
    if (!client.ok()) return testing::answer{"", {}, "start_client: " + client.error().message()};
    client_handle owner(*client);
    return testing::ask(system_, *client, request());
  }

  // The same, with the swarm's server `leaver` told to drain after `after_chunks` pieces
  // of text (a planned leave), or to move to blocks [2, 5) (a balancer's move).
  testing::answer generate_draining(const client_config& c, const local_swarm& swarm, size_t leaver,
                                    int after_chunks, bool move = false) {
    auto client = start_client(system_, c);
    if (!client.ok()) return testing::answer{"", {}, "start_client: " + client.error().message()};
    client_handle owner(*client);
    caf::scoped_actor self{system_};
    return testing::ask(system_, *client, request(), std::chrono::seconds(60), [&](int chunks) {
      if (chunks != after_chunks) return;
      if (move) {
        self->send(swarm.servers()[leaver], move_atom::value, int64_t(2), int64_t(5));
      } else {
        self->send(swarm.servers()[leaver], drain_atom::value);
      }
    });
  }

  static fault_injection crash_after(int64_t steps) {
    fault_injection f;
    f.crash_after_steps = steps;
    return f;
  }

  node_config cfg_;
  caf::actor_system system_{cfg_};
  std::vector<server_actor> rescuers_;
  static std::string model_;
  static std::vector<int32_t> expected_;
};

std::string Failover::model_;
std::vector<int32_t> Failover::expected_;

TEST_F(Failover, CrashingServersAreReplacedAndTheOutputIsTheOutputWithoutFailures) {
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    // Routes prefer the lower server id: servers 1 and 3 are used first and crash.
    local_swarm swarm =
        start({{0, 2}, {0, 2}, {2, 5}, {2, 5}}, {crash_after(7), {}, crash_after(20), {}});
    const testing::answer got = generate(client_cfg(swarm, push));
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected_);
    ASSERT_EQ(got.reply.recoveries.size(), 2u);
    const recovery_report& first = got.reply.recoveries[0];
    EXPECT_EQ(first.failed_server, "server-1");
    EXPECT_EQ(first.start_block, 0);
    EXPECT_EQ(first.end_block, 2);
    EXPECT_EQ(first.replaced_by, std::vector<std::string>{"server-2"});
    EXPECT_NE(first.cause.find("crashed (fault injection) after 7 steps"), std::string::npos)
        << first.cause;
    const recovery_report& second = got.reply.recoveries[1];
    EXPECT_EQ(second.failed_server, "server-3");
    EXPECT_EQ(second.replaced_by, std::vector<std::string>{"server-4"});
    // The prompt is one step; every later step adds a token: the crash came at a step
    // after 20 of the session's steps on that server had run (replays count).
    EXPECT_GT(second.replayed_tokens, 0);
    std::cout << (push ? "push" : "round trips") << ": recovered in "
              << first.reroute_ms + first.replay_ms << " ms (replayed " << first.replayed_tokens
              << " tokens) and " << second.reroute_ms + second.replay_ms << " ms (replayed "
              << second.replayed_tokens << ")\n";
  }
}

TEST_F(Failover, AStalledServerTimesOutAndASlowOneWithinTheTimeoutDoesNot) {
  fault_injection stall;
  stall.stall_after_steps = 10;
  fault_injection slow;
  slow.reply_delay = 5ms;  // well within the 300 ms step timeout
  local_swarm swarm = start({{0, 3}, {0, 3}, {3, 5}}, {stall, {}, slow});
  const testing::answer got = generate(client_cfg(swarm, true));
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  EXPECT_EQ(got.reply.recoveries[0].failed_server, "server-1");
  EXPECT_NE(got.reply.recoveries[0].cause.find("no reply within 300 ms"), std::string::npos)
      << got.reply.recoveries[0].cause;
}

// Opening fails over as a step does: a server that does not answer the open is banned and
// the route asked for again, so new sessions reach the healthy server of the same span.
TEST_F(Failover, OpeningASessionOnAStalledServerFailsOverToTheHealthyOne) {
  fault_injection stalled;
  stalled.stall_after_steps = 0;  // answers nothing at all, opens included
  local_swarm swarm = start({{0, 3}, {0, 3}, {3, 5}}, {stalled, {}, {}});
  client_config c = client_cfg(swarm, true);
  c.open_timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  const testing::answer got = generate(c);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  ASSERT_EQ(got.reply.last_token.size(), 2u);
  EXPECT_EQ(got.reply.last_token[0].server_name, "server-2");
  // Ties in the route go to the lower server id, server-1's: it was tried first and its
  // open timed out, once.
  EXPECT_GE(took.count(), 300) << "server-1 was never tried";
  std::cout << "opened through server-2 after server-1's open timed out: " << took.count()
            << " ms\n";
}

TEST_F(Failover, TheOnlyServerOfASpanFailingEndsInAClearErrorAfterTheRetryBudget) {
  local_swarm swarm = start({{0, 2}, {2, 5}}, {{}, crash_after(5)});
  auto client = start_client(system_, client_cfg(swarm, true));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const auto started = std::chrono::steady_clock::now();
  const testing::answer got = testing::ask(system_, *client, request());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_NE(got.error.find("blocks [2, 5) have no working server after 6 tries"), std::string::npos)
      << got.error;
  EXPECT_NE(got.error.find("no_route"), std::string::npos) << got.error;
  std::cout << "gave up after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  // A new session finds no route either, and says so.
  auto again = start_client(system_, client_cfg(swarm, true));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message().find("blocks [2, 5)"), std::string::npos)
      << again.error().message();
}

TEST_F(Failover, AServerForTheSpanAppearingWithinTheBudgetRescuesTheGeneration) {
  local_swarm swarm = start({{0, 2}, {2, 5}}, {{}, crash_after(5)});
  client_config c = client_cfg(swarm, true);
  c.failover.backoff_base = 100ms;  // tries at 0, 100, 200, 400, 800 ms
  auto client = start_client(system_, c);
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);

  // The rescuer comes 150 ms after the crash: the session is between tries then.
  std::thread rescuer([&] {
    caf::scoped_actor self{system_};
    self->monitor(swarm.servers()[1]);
    self->receive([](const caf::down_msg&) {});
    std::this_thread::sleep_for(150ms);
    model_options span;
    span.first_block = 2;
    span.end_block = 5;
    span.with_head = false;
    result<llama_model> loaded = status::internal("not loaded");
    swarm.executor()->run([&] { loaded = llama_model::load(model_, span); });
    ASSERT_TRUE(loaded.ok());
    server_config sc;
    sc.server_id = 99;
    sc.name = "rescuer";
    sc.model = std::make_shared<const llama_model>(std::move(*loaded));
    sc.routing_table = swarm.routing_table();
    sc.executor = swarm.executor();
    rescuers_.push_back(spawn_server(system_, sc));
  });
  const testing::answer got = testing::ask(system_, *client, request());
  rescuer.join();
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  EXPECT_EQ(got.reply.recoveries[0].replaced_by, std::vector<std::string>{"rescuer"});
  EXPECT_GT(got.reply.recoveries[0].attempts, 1);
  for (const server_actor& r : rescuers_) caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
}

// The record a server announces.
server_record record_of(caf::actor_system& system, const server_actor& server) {
  caf::scoped_actor self{system};
  server_record out;
  self->request(server, 5s, info_atom::value)
      .receive([&](server_record& r) { out = std::move(r); }, [](const caf::error&) {});
  return out;
}

fault_injection block_crash(int64_t block, int64_t after_steps, int64_t lives) {
  fault_injection f;
  f.crash_block = block;
  f.block_crash_after_steps = after_steps;
  f.block_crashes = lives;
  return f;
}

TEST_F(Failover, ABlockThatThrowsIsRestartedInProcessAndTheClientSeesNoError) {
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    local_swarm swarm = start({{0, 2}, {2, 5}}, {{}, block_crash(2, 10, 1)});
    const testing::answer got = generate(client_cfg(swarm, push));
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected_);
    EXPECT_TRUE(got.reply.recoveries.empty());  // a slower step, not a failover
    const server_record r = record_of(system_, swarm.servers()[1]);
    EXPECT_EQ(r.block_restarts, 1);
    EXPECT_EQ(serving_state(r.state), serving_state::online);
  }
}

TEST_F(Failover, RepeatedBlockCrashesHandTheSpanOverAndItsSessionsCachesToASpare) {
  // Server 2's block 2 crashes in every life after 4 steps: three restarts, then the
  // fourth crash within the window hands the span over to server 3 — with the session's
  // caches, whole again after the last restart's replay, so the client replays nothing.
  local_swarm swarm = start({{0, 2}, {2, 5}, {2, 5}}, {{}, block_crash(2, 4, 100), {}});
  const testing::answer got = generate(client_cfg(swarm, true));
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  const recovery_report& rep = got.reply.recoveries[0];
  EXPECT_EQ(rep.failed_server, "server-2");
  EXPECT_EQ(rep.replaced_by, std::vector<std::string>{"server-3"});
  EXPECT_TRUE(rep.planned) << rep.cause;
  EXPECT_EQ(rep.replayed_tokens, 0) << rep.cause;
  EXPECT_GT(rep.handed_over_tokens, 0);
  const server_record r = record_of(system_, swarm.servers()[1]);
  EXPECT_EQ(r.block_restarts, 3);
  EXPECT_EQ(serving_state(r.state), serving_state::draining);
}

// A planned leave (messages/session.hpp, Hand-over): server-1 drains mid-generation, or
// drains to move as a balancer moves it; its session's caches move to server-2, and the
// client goes on from there without a replay.
TEST_F(Failover, ADrainingOrMovingServerHandsItsSessionsOverWithoutAReplay) {
  for (auto [push, move] : {std::pair{false, false}, {true, false}, {true, true}}) {
    SCOPED_TRACE(std::string(push ? "push" : "round trips") + (move ? ", a move" : ", a drain"));
    local_swarm swarm = start({{0, 2}, {0, 2}, {2, 5}}, {});
    const testing::answer got = generate_draining(client_cfg(swarm, push), swarm, 0, 20, move);
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected_);
    ASSERT_EQ(got.reply.recoveries.size(), 1u);
    const recovery_report& r = got.reply.recoveries[0];
    EXPECT_TRUE(r.planned);
    EXPECT_EQ(r.failed_server, "server-1");
    EXPECT_EQ(r.replaced_by, std::vector<std::string>{"server-2"});
    EXPECT_EQ(r.replayed_tokens, 0);
    // Nothing replayed, yet the tokens after the switch are right: server-2 computed them
    // on the caches it took over.
    EXPECT_GE(r.handed_over_tokens, 20);
  }
}

// The leaver can not send its caches: the client replays to the receiver instead.
TEST_F(Failover, AHandOverWhoseTransferFailsFallsBackToAReplay) {
  fault_injection broken;
  broken.fail_kv_requests = true;
  local_swarm swarm = start({{0, 2}, {0, 2}, {2, 5}}, {broken, {}, {}});
  const testing::answer got = generate_draining(client_cfg(swarm, true), swarm, 0, 10);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected_);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  const recovery_report& r = got.reply.recoveries[0];
  EXPECT_TRUE(r.planned);
  EXPECT_EQ(r.replaced_by, std::vector<std::string>{"server-2"});
  EXPECT_EQ(r.handed_over_tokens, 0);
  EXPECT_GE(r.replayed_tokens, 10);
}

// The receiver dies as it is asked to take the caches over, or has no room for the
// session and refuses it: the session goes to the next server of the span (the leaver,
// still up, hands it over there), the text unchanged.
TEST_F(Failover, AReceiverThatDiesOrHasNoRoomIsPassedOverForTheNextServerOfTheSpan) {
  for (bool dies : {true, false}) {
    SCOPED_TRACE(dies ? "server-2 dies adopting" : "server-2 has 1 KiB of cache budget");
    local_swarm_options o;
    o.model_path = model_;
    o.spans = {{0, 2}, {0, 2}, {0, 2}, {2, 5}};
    o.faults.resize(4);
    o.faults[1].crash_on_adopt = dies;
    if (!dies) o.kv_budgets = {int64_t(1) << 30, 1 << 10, int64_t(1) << 30, int64_t(1) << 30};
    auto swarm = local_swarm::start(system_, o);
    ASSERT_TRUE(swarm.ok()) << swarm.error().message();
    const testing::answer got = generate_draining(client_cfg(*swarm, true), *swarm, 0, 10);
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected_);
    ASSERT_FALSE(got.reply.recoveries.empty());
    const recovery_report& r = got.reply.recoveries.back();
    EXPECT_EQ(r.replaced_by, std::vector<std::string>{"server-3"});
    EXPECT_GE(r.attempts, 2) << "server-2 was tried first";
    EXPECT_GE(r.replayed_tokens + r.handed_over_tokens, 10);
  }
}

// Checkpoints: each route server's standby (the other server of its blocks) takes its new
// cache rows over every 8 tokens; when server-3 crashes at its 30th step, its standby
// replaces it and only the tokens since the last checkpoint are replayed.
TEST_F(Failover, WithCheckpointsACrashReplaysOnlyTheTokensSinceTheLast) {
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    local_swarm swarm = start({{0, 2}, {0, 2}, {2, 5}, {2, 5}}, {{}, {}, crash_after(30), {}});
    client_config c = client_cfg(swarm, push);
    c.checkpoint_every = 8;
    const testing::answer got = generate(c);
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected_);
    ASSERT_EQ(got.reply.recoveries.size(), 1u);
    const recovery_report& r = got.reply.recoveries[0];
    EXPECT_EQ(r.failed_server, "server-3");
    EXPECT_EQ(r.replaced_by, std::vector<std::string>{"server-4"});
    EXPECT_FALSE(r.planned);
    std::cout << "  server-4 held " << r.checkpoint_tokens << " tokens, replayed "
              << r.replayed_tokens << "\n";
    EXPECT_GE(r.checkpoint_tokens, 16);
    EXPECT_LE(r.replayed_tokens, 2 * c.checkpoint_every);
  }
}

TEST_F(Failover, AClientThatDiesWithoutClosingFreesItsSessionsOnTheServers) {
  local_swarm swarm = start({{0, 2}, {2, 5}}, {});
  auto client = start_client(system_, client_cfg(swarm, true));
  ASSERT_TRUE(client.ok()) << client.error().message();
  ASSERT_EQ(testing::ask(system_, *client, testing::greedy("Once", 4)).error, "");
  EXPECT_EQ(record_of(system_, swarm.servers()[1]).sessions, 1);
  caf::anon_send_exit(*client, caf::exit_reason::kill);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (record_of(system_, swarm.servers()[1]).sessions != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  const server_record r = record_of(system_, swarm.servers()[1]);
  EXPECT_EQ(r.sessions, 0);
  EXPECT_EQ(r.cache_bytes_free, int64_t(1) << 30);  // the whole budget again
}

TEST_F(Failover, ABannedServerIsNotReusedBeforeItsBanEnds) {
  // Server 2 answers too late (400 ms against a 300 ms step timeout): banned (for 20 s
  // here), its blocks go to server 3, which later crashes. Server 2 is the only other
  // server of [2, 5) and still banned: every try finds no route, and the answer fails
  // when the budget is spent instead of going back to it.
  fault_injection slow;
  slow.reply_delay = 400ms;
  local_swarm swarm = start({{0, 2}, {2, 5}, {2, 5}}, {{}, slow, crash_after(12)});
  client_config c = client_cfg(swarm, true);
  c.failover.ban_base = 20000ms;
  const testing::answer got = generate(c);
  EXPECT_NE(got.error.find("blocks [2, 5) have no working server"), std::string::npos) << got.error;
  EXPECT_NE(got.error.find("no online server holds blocks [2, 5)"), std::string::npos) << got.error;
}

}  // namespace
}  // namespace corolla
