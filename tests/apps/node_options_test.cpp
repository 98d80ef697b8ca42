// actor-node's options: a config file and the command line, and the errors a user sees
// for a bad one (each names the key and the file and line, or the flag).
#include "apps/node_options.hpp"
#include "apps/command_line.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

std::string write_config(const std::string& name, const std::string& text) {
  const std::string path = testing::temp_path(name);
  std::ofstream(path) << text;
  return path;
}

const char* good_config =
    "# a node of a loopback swarm\n"
    "name = node-1\n"
    "port = 7001   # listen here\n"
    "seed = 127.0.0.1:7002\n"
    "seed = 127.0.0.1:7003\n"
    "model = /models/tiny.gguf\n"
    "span = 0:8\n"
    "codec = int8\n"
    "\n"
    "heartbeat-interval-ms = 250\n";

std::string error_of(const std::vector<std::string>& args) {
  auto o = read_node_options(args);
  EXPECT_FALSE(o.ok());
  return o.ok() ? "" : o.error().message();
}

TEST(NodeOptions, ConfigFileValuesAreRead) {
  const std::string path = write_config("node-good.conf", good_config);
  auto o = read_node_options({"--config", path});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->name, "node-1");
  EXPECT_EQ(o->port, 7001);
  EXPECT_EQ(o->seeds, (std::vector<std::string>{"127.0.0.1:7002", "127.0.0.1:7003"}));
  EXPECT_EQ(o->span_start, 0);
  EXPECT_EQ(o->span_end, 8);
  EXPECT_EQ(o->codec, tensor_codec::int8_block);
  EXPECT_EQ(o->heartbeat_interval_ms, 250);
  EXPECT_EQ(o->heartbeat_timeout_ms, 700);  // the default
  EXPECT_EQ(o->host, "127.0.0.1");
}

TEST(NodeOptions, TheCommandLineWins) {
  const std::string path = write_config("node-override.conf", good_config);
  auto o = read_node_options({"--config", path, "--port", "7100", "--span", "auto"});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->port, 7100);
  EXPECT_EQ(o->span_start, -1);
  EXPECT_EQ(o->name, "node-1");
}

TEST(NodeOptions, UnknownKeyNamesKeyFileAndLine) {
  const std::string path =
      write_config("node-unknown.conf", "model = m.gguf\n\n# note\nheartbeat = 100\n");
  const std::string e = error_of({"--config", path});
  EXPECT_NE(e.find(path + ":4"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'heartbeat'"), std::string::npos) << e;
}

TEST(NodeOptions, KvTypeTakesEachCacheTypeAndNamesABadOne) {
  for (const auto& [name, type] : {std::pair{"f16", kv_type::f16}, std::pair{"f32", kv_type::f32},
                                   std::pair{"q8_0", kv_type::q8_0}}) {
    const std::string path =
        write_config("node-kv.conf", std::string("model = m.gguf\nkv-type = ") + name + "\n");
    auto o = read_node_options({"--config", path});
    ASSERT_TRUE(o.ok()) << o.error().to_string();
    EXPECT_EQ(o->kv, type);
  }
  const std::string path = write_config("node-kv-bad.conf", "model = m.gguf\nkv-type = q4_0\n");
  const std::string e = error_of({"--config", path});
  EXPECT_NE(e.find("kv-type: 'q4_0' is not f16, f32 or q8_0"), std::string::npos) << e;
}

TEST(NodeOptions, BalanceModeIsPetalsOrPlan) {
  auto o = read_node_options(
      {"--config", write_config("node-plan.conf", "model = m.gguf\nbalance-mode = plan\n")});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->balance_mode, "plan");
  const std::string path =
      write_config("node-mode-bad.conf", "model = m.gguf\nbalance-mode = greedy\n");
  EXPECT_NE(error_of({"--config", path}).find("balance-mode: 'greedy' is not petals or plan"),
            std::string::npos);
}

TEST(NodeOptions, AdvertiseIsHostAndPort) {
  auto o = read_node_options({"--model", "m.gguf", "--advertise", "relay.example:7901"});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->advertise_host, "relay.example");
  EXPECT_EQ(o->advertise_port, 7901);
  for (const char* bad : {"relay.example", ":7901", "relay:0", "relay:70000", "relay:7x"}) {
    EXPECT_NE(error_of({"--model", "m.gguf", "--advertise", bad}).find("advertise: '"),
              std::string::npos)
        << bad;
  }
}

TEST(NodeOptions, BadValueNamesKeyFileAndLine) {
  const std::string path = write_config("node-badport.conf", "model = m.gguf\nport = seven\n");
  const std::string e = error_of({"--config", path});
  EXPECT_NE(e.find(path + ":2: port: 'seven'"), std::string::npos) << e;
}

TEST(NodeOptions, RangeErrorsNameWhereTheValueCameFrom) {
  const std::string path = write_config("node-range.conf", "model = m.gguf\nspan = 5:3\n");
  std::string e = error_of({"--config", path});
  EXPECT_NE(e.find(path + ":2: span:"), std::string::npos) << e;
  e = error_of({"--config", path, "--span", "0:2", "--port", "70000"});
  EXPECT_NE(e.find("--port: port: 70000 is not a port"), std::string::npos) << e;
  e = error_of({"--model", "m.gguf", "--heartbeat-interval-ms", "2000"});
  EXPECT_NE(e.find("heartbeat-timeout-ms"), std::string::npos) << e;
  e = error_of({"--model", "m.gguf", "--checkpoint-every", "-3"});
  EXPECT_NE(e.find("checkpoint-every: -3 is negative"), std::string::npos) << e;
  // libgomp crashes on 100000 threads: refused before any thread starts.
  e = error_of({"--model", "m.gguf", "--threads", "100000"});
  EXPECT_NE(e.find("--threads: threads: 100000 is outside 0 (every core) .. " +
                   std::to_string(max_threads()) + " (4 per core)"),
            std::string::npos)
      << e;
}

TEST(NodeOptions, MalformedLinesAndRepeatsAreRefused) {
  std::string e = error_of({"--config", write_config("node-noeq.conf", "model m.gguf\n")});
  EXPECT_NE(e.find(":1: expected 'key = value'"), std::string::npos) << e;
  e = error_of({"--config", write_config("node-twice.conf", "model = a\nport = 1\nport = 2\n")});
  EXPECT_NE(e.find(":3: port: given twice (first on line 2)"), std::string::npos) << e;
  e = error_of({"--config", write_config("node-seed.conf", "model = a\nseed = nohost\n")});
  EXPECT_NE(e.find(":2: seed: 'nohost' is not host:port"), std::string::npos) << e;
}

TEST(NodeOptions, TlsIsAllThreeFilesOrNone) {
  const std::string e =
      error_of({"--model", "m.gguf", "--tls-cert", "a.pem", "--tls-key", "k.pem"});
  EXPECT_EQ(e.find("tls-ca: missing"), 0u) << e;
}

TEST(NodeOptions, ASwarmKeyFileIsReadAndABadOneNamed) {
  const std::string key = testing::temp_path("node-options.key");
  testing::write_file(key, std::string(64, 'a') + "\n");
  ::chmod(key.c_str(), 0600);
  auto o = read_node_options({"--model", "m.gguf", "--swarm-key", key});
  ASSERT_TRUE(o.ok()) << o.error().message();
  ASSERT_TRUE(o->key.has_value());
  EXPECT_EQ(o->key->bytes[0], 0xaa);
  EXPECT_TRUE(network_settings(*o).key.has_value());
  ::chmod(key.c_str(), 0644);
  const std::string e = error_of({"--model", "m.gguf", "--swarm-key", key});
  EXPECT_EQ(e.find("--swarm-key: swarm-key: swarm key "), 0u) << e;
  EXPECT_NE(e.find("chmod 600"), std::string::npos) << e;
  EXPECT_NE(error_of({"--model", "m.gguf", "--max-connections", "0"}).find("max-connections"),
            std::string::npos);
}

TEST(NodeOptions, MissingFileAndMissingModelAreClear) {
  auto o = read_node_options({"--config", testing::temp_path("no-such.conf")});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code(), status_code::not_found);
  EXPECT_NE(error_of({}).find("model: required"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--bogus", "1"}).find("bogus"), std::string::npos);
}

// The files under config/ are what users copy: they must parse and say what they claim.
TEST(NodeOptions, TheShippedConfigFilesParse) {
  const std::string dir = std::string(COROLLA_SOURCE_DIR) + "/config/";
  auto defaults = read_node_options({"--config", dir + "defaults.ini", "--model", "m.gguf"});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  auto built_in = read_node_options({"--model", "m.gguf"});
  ASSERT_TRUE(built_in.ok());
  const node_options& d = *defaults;
  const node_options& b = *built_in;
  EXPECT_EQ(d.host, b.host);
  EXPECT_EQ(d.port, b.port);
  EXPECT_EQ(d.span, b.span);
  EXPECT_EQ(d.threads, b.threads);
  EXPECT_EQ(d.kv_budget_mib, b.kv_budget_mib);
  EXPECT_EQ(d.heartbeat_interval_ms, b.heartbeat_interval_ms);
  EXPECT_EQ(d.heartbeat_timeout_ms, b.heartbeat_timeout_ms);
  EXPECT_EQ(d.gossip_period_ms, b.gossip_period_ms);
  EXPECT_EQ(d.record_ttl_ms, b.record_ttl_ms);
  EXPECT_EQ(d.drain_timeout_ms, b.drain_timeout_ms);
  EXPECT_EQ(d.codec, b.codec);
  EXPECT_EQ(d.handshake_timeout_ms, b.handshake_timeout_ms);
  EXPECT_EQ(d.max_connections, b.max_connections);
  EXPECT_EQ(d.max_pending_per_address, b.max_pending_per_address);
  EXPECT_EQ(d.log_level, b.log_level);
  EXPECT_EQ(d.checkpoint_every, b.checkpoint_every);
  EXPECT_EQ(d.fault_crash_after_steps, b.fault_crash_after_steps);
  EXPECT_EQ(d.fault_stall_after_steps, b.fault_stall_after_steps);
  EXPECT_EQ(d.fault_delay_ms, b.fault_delay_ms);
  EXPECT_EQ(d.fault_drop_fraction, b.fault_drop_fraction);
  EXPECT_EQ(d.fault_crash_block, b.fault_crash_block);
  EXPECT_EQ(d.fault_block_crash_after_steps, b.fault_block_crash_after_steps);
  EXPECT_EQ(d.fault_block_crashes, b.fault_block_crashes);
  EXPECT_EQ(d.host_budget_mib, b.host_budget_mib);
  EXPECT_EQ(d.throughput_cache, b.throughput_cache);
  EXPECT_EQ(d.http, b.http);
  EXPECT_EQ(d.http_api_key, b.http_api_key);
  EXPECT_EQ(d.http_max_requests, b.http_max_requests);
  EXPECT_EQ(d.http_kept_sessions, b.http_kept_sessions);

  const std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> nodes{
      {"a", {0, 2}}, {"b", {2, 4}}, {"c", {4, 5}}};
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto o = read_node_options({"--config", dir + "loopback/" + nodes[i].first + ".ini"});
    ASSERT_TRUE(o.ok()) << o.error().message();
    EXPECT_EQ(o->name, nodes[i].first);
    EXPECT_EQ(o->port, 7701 + int64_t(i));
    EXPECT_EQ(std::make_pair(o->span_start, o->span_end), nodes[i].second);
    EXPECT_EQ(o->seeds,
              i == 0 ? std::vector<std::string>{} : std::vector<std::string>{"127.0.0.1:7701"});
    EXPECT_EQ(o->model, "build/demo/stories260k-q8_0.gguf");
  }
}

}  // namespace
}  // namespace corolla
