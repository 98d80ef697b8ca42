// The `corolla` tool as a user runs it: a real process, its exit code and output.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

// `corolla ARGS`, stdout and stderr together.
testing::command_result run(const std::string& args) {
  return testing::run_command(testing::app_path("corolla") + " " + args + " 2>&1");
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs `args`, expecting a refusal: exit code `code` and an output naming `problem`.
void expect_refusal(const std::string& args, int code, const std::string& problem) {
  SCOPED_TRACE("corolla " + args);
  const auto r = run(args);
  EXPECT_EQ(r.exit_code, code);
  EXPECT_TRUE(contains(r.output, problem)) << r.output;
}

TEST(CorollaCli, MakesAModelAndDescribesIt) {
  const std::string path = testing::temp_path("cli-tiny.gguf");
  const auto made = run("gguf make --preset tiny --type q8_0 --seed 3 -o " + path);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_TRUE(contains(made.output, "wrote " + path)) << made.output;
  const auto info = run("gguf info " + path);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_TRUE(contains(info.output, "GGUF v3")) << info.output;
  EXPECT_TRUE(contains(info.output, "blocks 4, dim 128, hidden 384, heads 4 (kv 2")) << info.output;
  EXPECT_TRUE(contains(info.output, "tensors: complete")) << info.output;
  EXPECT_TRUE(contains(info.output, "tensors (39):")) << info.output;
  EXPECT_TRUE(contains(info.output, "blk.3.ffn_down.weight       Q8_0  [384, 128]")) << info.output;
  EXPECT_TRUE(contains(info.output, "verdict: Corolla runs this file (model llama-4x128-"))
      << info.output;
  const std::string head = testing::temp_path("cli-tiny-head.gguf");
  ASSERT_EQ(run("gguf head " + path + " -o " + head).exit_code, 0);
  const auto head_info = run("gguf info " + head);
  EXPECT_TRUE(contains(head_info.output, "verdict: Corolla's clients run this head file"))
      << head_info.output;
}

// gguf info gives its verdict: a Qwen2 file runs, the same as a mixture of experts does
// not, an IQ4 type does.
TEST(CorollaCli, InfoGivesTheVerdictOnFilesCorollaCanNotRun) {
  if (!testing::shared_exists("models/rand-qwen2.gguf")) GTEST_SKIP() << "../shared is absent";
  const auto qwen = run("gguf info " + testing::shared_path("models/rand-qwen2.gguf"));
  ASSERT_EQ(qwen.exit_code, 0) << qwen.output;
  EXPECT_TRUE(contains(qwen.output, "verdict: Corolla runs this file")) << qwen.output;
  EXPECT_TRUE(contains(qwen.output, "qwen2: NEOX RoPE, SwiGLU")) << qwen.output;
  // The same file as a mixture of experts.
  const std::string moe_path = testing::rewrite_gguf(
      testing::shared_path("models/rand-qwen2.gguf"), "cli-moe.gguf",
      [](gguf_writer& out) { out.set("qwen2.expert_count", gguf_value::u32(4)); });
  const auto moe = run("gguf info " + moe_path);
  EXPECT_TRUE(contains(moe.output, "verdict: Corolla can not run this file:")) << moe.output;
  EXPECT_TRUE(contains(moe.output, "a mixture of experts (qwen2.expert_count = 4")) << moe.output;
  const auto iq4 = run("gguf info " + testing::shared_path("models/rand-llama-spm256-IQ4_XS.gguf"));
  EXPECT_TRUE(contains(iq4.output, "IQ4_XS")) << iq4.output;
  EXPECT_TRUE(contains(iq4.output, "verdict: Corolla runs this file")) << iq4.output;
}

TEST(CorollaCli, DescribesStories260K) {
  if (!testing::shared_exists("models/stories260K.gguf")) GTEST_SKIP() << "../shared is absent";
  const auto info = run("gguf info " + testing::shared_path("models/stories260K.gguf"));
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_TRUE(contains(info.output, "blocks 5, dim 64, hidden 172, heads 8 (kv 4, head dim 8)"));
  EXPECT_TRUE(contains(info.output, "total: 292800 parameters")) << info.output;
}

// The stats line names the kernel path; a cap names it too, and a misspelt cap is
// reported rather than silently testing the wrong path.
TEST(CorollaCli, GenerateNamesTheKernelPathAndTheCap) {
  const std::string path = testing::temp_path("cli-path.gguf");
  ASSERT_EQ(run("gguf make --preset tiny --type q8_0 --seed 3 -o " + path).exit_code, 0);
  const std::string generate = " generate --model " + path + " --prompt hi --max-tokens 2";
  const auto plain = testing::run_command(testing::app_path("corolla") + generate + " 2>&1");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_TRUE(contains(plain.output, "kernels: int8 ")) << plain.output;
  const auto capped = testing::run_command("DNNL_MAX_CPU_ISA=SSE41 " +
                                           testing::app_path("corolla") + generate + " 2>&1");
  ASSERT_EQ(capped.exit_code, 0) << capped.output;
  EXPECT_TRUE(contains(capped.output, "kernels: int8 portable (CPU: ")) << capped.output;
  EXPECT_TRUE(contains(capped.output, "cap DNNL_MAX_CPU_ISA=SSE41)")) << capped.output;
  const auto misspelt = testing::run_command("DNNL_MAX_CPU_ISA=AVX3 " +
                                             testing::app_path("corolla") + generate + " 2>&1");
  ASSERT_EQ(misspelt.exit_code, 0) << misspelt.output;
  EXPECT_TRUE(contains(misspelt.output, "DNNL_MAX_CPU_ISA=AVX3 is not one of oneDNN's ISA names"))
      << misspelt.output;
}

TEST(CorollaCli, BadInputGivesOneClearLineAndNonZeroExit) {
  expect_refusal("gguf info " + testing::temp_path("missing.gguf"), 1,
                 "missing.gguf: can not open");

  const std::string junk = testing::temp_path("junk.gguf");
  testing::write_file(junk, "this is not a model");
  expect_refusal("gguf info " + junk, 1, "not a GGUF file");
  expect_refusal("gguf make --preset nope -o " + testing::temp_path("x.gguf"), 2,
                 "unknown preset 'nope'");
  expect_refusal("gguf make --dimm 3 -o x", 2, "dimm");
  expect_refusal("gguf make --preset tiny --type q2_k -o " + testing::temp_path("x.gguf"), 2,
                 "weight type 'q2_k'");
  expect_refusal("frobnicate", 2, "unknown command 'frobnicate'");
  expect_refusal("bench wan --link 50ms", 2, "--link '50ms' is not LATENCY_MS:MBITS");
  expect_refusal("bench wan --link 5:0", 2, "--link '5:0' is not LATENCY_MS:MBITS");
  expect_refusal("bench wan --servers 9", 2, "--servers 9 is not in 1..8");
  expect_refusal("bench wan --draft-tokens 17", 2, "--draft-tokens 17 is not in 0..16");
  expect_refusal("bench wan --prefill-chunk -1", 2, "--prefill-chunk -1 is negative");
  expect_refusal("bench wan --codec f8", 2, "--codec: ");
  expect_refusal("generate --model " + junk + " --prompt x --draft " + junk, 1, "not a GGUF file");
  const std::string model = testing::temp_path("cli-draft.gguf");
  const std::string other = testing::temp_path("cli-draft-tiny.gguf");
  ASSERT_EQ(run("gguf make --preset stories260k --type q8_0 --seed 5 -o " + model).exit_code, 0);
  ASSERT_EQ(run("gguf make --preset tiny --vocab 640 --type q8_0 --seed 5 -o " + other).exit_code,
            0);
  expect_refusal("generate --model " + model + " --prompt x --draft " + other, 1,
                 "--draft: the draft model's vocabulary has 640 tokens");
}

TEST(CorollaCli, GeneratesFromAMadeModelWithStats) {
  const std::string path = testing::temp_path("cli-gen.gguf");
  ASSERT_EQ(run("gguf make --preset stories260k --type q8_0 --seed 5 -o " + path).exit_code, 0);
  const auto greedy = run("generate --model " + path +
                          " --prompt 'Once upon a time' --temperature 0 --max-tokens 12");
  ASSERT_EQ(greedy.exit_code, 0) << greedy.output;
  EXPECT_TRUE(contains(greedy.output, "Once upon a time")) << greedy.output;
  EXPECT_TRUE(contains(greedy.output, "ms/token) | stop: ")) << greedy.output;
  EXPECT_TRUE(contains(greedy.output, "peak RSS")) << greedy.output;
  // The same command twice gives the same text; --f32 runs the reference path.
  EXPECT_EQ(run("generate --model " + path +
                " --prompt 'Once upon a time' --temperature 0 --max-tokens 12")
                .output.substr(0, 40),
            greedy.output.substr(0, 40));
  const auto f32 = run("generate --model " + path + " --prompt 'Hi' --f32 --max-tokens 4 --seed 9");
  ASSERT_EQ(f32.exit_code, 0) << f32.output;
  EXPECT_TRUE(contains(f32.output, "f32, KV f32, load")) << f32.output;
  // Each KV cache type runs; q8_0's coarser rows still start the same story here.
  for (const std::string kv : {"f16", "f32", "q8_0"}) {
    const auto out =
        run("generate --model " + path +
            " --prompt 'Once upon a time' --temperature 0 --max-tokens 12 --kv-type " + kv);
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_TRUE(contains(out.output, "native, KV " + kv + ", load")) << out.output;
    EXPECT_EQ(out.output.substr(0, 20), greedy.output.substr(0, 20)) << kv;
  }
  expect_refusal("generate --model " + path + " --prompt hi --kv-type q4_0", 2,
                 "--kv-type 'q4_0' is not auto, f16, f32 or q8_0");
}

TEST(CorollaCli, GenerateRefusesBadInputClearly) {
  expect_refusal("generate --model /nonexistent.gguf --prompt hi", 1, "/nonexistent.gguf");
  expect_refusal("generate --model x.gguf", 2, "--prompt");
  const std::string path = testing::temp_path("cli-gen-bad.gguf");
  ASSERT_EQ(run("gguf make --preset tiny --type f32 --seed 1 -o " + path).exit_code, 0);
  expect_refusal("generate --model " + path + " --prompt hi --top-p 0", 1, "top_p");
}

TEST(CorollaCli, PlansSpansForHeterogeneousNodesAndRefusesBadNodes) {
  const auto plan =
      run("plan --blocks 22 --block-mib 44.6 --node a,4096,120,0:11 --node b,4096,100,11:22 "
          "--node c,700,300");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_TRUE(contains(plan.output,
                       "bottleneck: 23.08 steps/s; split by memory (as exo and "
                       "llama.cpp): 10.00 steps/s"))
      << plan.output;
  EXPECT_TRUE(contains(plan.output, "blocks kept in place: 9 of 22")) << plan.output;
  EXPECT_TRUE(contains(plan.output, "  a: span = 0:5\n  c: span = 5:18\n  b: span = 18:22"))
      << plan.output;
  expect_refusal("plan --blocks 22 --block-mib 44.6 --node a,lots,120", 2,
                 "--node 'a,lots,120': memory is not a number of MiB");
  expect_refusal("plan --blocks 22 --block-mib 44.6 --node a,100,120", 1,
                 "the nodes' memory holds fewer than the model's 22 blocks");
  expect_refusal("plan --node a,100,120", 2, "give --model FILE");
}

TEST(CorollaCli, SimulatesBalancingDeterministicallyAndWritesCsv) {
  const std::string csv = testing::temp_path("sim.csv");
  // Without the exact yardstick, whose result depends on the solver's time limit.
  const std::string sim = "sim --hours 1.5 --servers 12 --exact-time-limit-s 0 --seed ";
  const auto first = run(sim + "1 --csv " + csv);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(contains(first.output,
                       "| hours | servers | no balancing | new servers only | petals mode | "
                       "plan mode | exact optimum | upper bound |"))
      << first.output;
  EXPECT_TRUE(contains(first.output, "  plan mode: ")) << first.output;
  // Seeded: the same run prints the same figures.
  EXPECT_EQ(run(sim + "1 --csv " + csv).output, first.output);
  EXPECT_NE(run(sim + "2").output, first.output);
  const std::string samples = testing::read_file(csv);
  EXPECT_EQ(samples.rfind(
                "hours,servers,none,new_only,petals,plan,optimum,optimum_proven,upper_bound\n", 0),
            0u);
  EXPECT_EQ(std::count(samples.begin(), samples.end(), '\n'), 1 + 91);  // a sample a minute
  expect_refusal("sim --servers 0", 2, "servers >= 1");
}

TEST(CorollaCli, SimulatesAScenarioFileAndNamesWhatIsWrongInOne) {
  const std::string path = testing::temp_path("scenario.json");
  testing::write_file(path, R"({"blocks": 8, "hours": 1.5, "churn": false, "servers": [
      {"name": "big", "throughput": 4, "blocks": 4, "join_s": 0},
      {"name": "small", "throughput": 1, "blocks": 2, "join_s": 60, "count": 3},
      {"name": "leaver", "throughput": 2, "blocks": 4, "join_s": 0, "leave_s": 4000}]})");
  const auto out = run("sim --exact-time-limit-s 0 --scenario " + path);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_TRUE(contains(out.output, "8 blocks, the scenario's 5 servers, checks every"))
      << out.output;
  // The leaver's blocks are left to the others after 4000 s: 4 servers at 1.5 h.
  EXPECT_TRUE(contains(out.output, "| 1.5 | 4 |")) << out.output;
  EXPECT_TRUE(contains(out.output, "  plan mode: ")) << out.output;
  auto refused = [&](const std::string& text, const std::string& why) {
    testing::write_file(path, text);
    expect_refusal("sim --scenario " + path, 2, path + ": " + why);
  };
  refused("{\"servers\": [{\"throughput\": 1, \"blocks\": 40}]}",
          "servers[0].blocks: 40 is not a whole number of blocks in 1..32");
  refused("{\"servers\": [{\"throughput\": 1, \"blocks\": 2, \"speed\": 3}]}",
          "servers[0]: unknown key 'speed'");
  refused("{\"severs\": []}", "unknown key 'severs'");
  refused("{\"servers\": [{\"blocks\": 2}]}", "servers[0]: throughput and blocks are required");
  refused("{\"servers\": [", "not JSON");
  refused("{\"servers\": [{\"throughput\": 1, \"blocks\": 2, \"join_s\": 9, \"leave_s\": 5}]}",
          "servers[0].leave_s: not after join_s");
}

// generate --json gives the ids; score's teacher-forced logits pick the same greedy ids
// (two tools, one model, no shared code between them but the model).
TEST(CorollaCli, GenerateJsonAndScoreAgreeOnTheGreedyIds) {
  const std::string path = testing::temp_path("cli-qwen2.gguf");
  ASSERT_EQ(run("gguf make --preset tiny --arch qwen2 --type q8_0 --seed 4 -o " + path).exit_code,
            0);
  const auto generated =
      testing::run_command(testing::app_path("corolla") + " generate --model " + path +
                           " --prompt 'Once upon a time' --temperature 0 --max-tokens 12 --json");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  const auto report = nlohmann::json::parse(generated.output);
  const auto prompt = report.at("prompt_ids").get<std::vector<int32_t>>();
  const auto ids = report.at("generated_ids").get<std::vector<int32_t>>();
  ASSERT_EQ(ids.size(), 12u);
  EXPECT_EQ(report.at("stats").at("generated_tokens"), 12);
  EXPECT_EQ(report.at("stop"), "max tokens");

  std::string tokens;
  for (int32_t id : prompt) tokens += std::to_string(id) + " ";
  for (size_t i = 0; i + 1 < ids.size(); ++i) tokens += std::to_string(ids[i]) + " ";
  const std::string logits = testing::temp_path("cli-qwen2.logits.f32");
  const auto scored =
      run("score --model " + path + " --tokens '" + tokens + "' --logits " + logits);
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  const std::string bytes = testing::read_file(logits);
  const size_t rows = prompt.size() + ids.size() - 1, vocab = 512;
  ASSERT_EQ(bytes.size(), rows * vocab * sizeof(float));
  const float* values = reinterpret_cast<const float*>(bytes.data());
  for (size_t s = 0; s < ids.size(); ++s) {
    const float* row = values + (prompt.size() - 1 + s) * vocab;
    EXPECT_EQ(std::max_element(row, row + vocab) - row, ids[s]) << "step " << s;
  }
  // Its own logits as the reference: identical.
  const auto again =
      run("score --model " + path + " --tokens '" + tokens + "' --against " + logits);
  EXPECT_TRUE(contains(again.output, "max |difference| 0, top-1 equal on " + std::to_string(rows) +
                                         " of " + std::to_string(rows)))
      << again.output;
  expect_refusal("generate --model " + path + " --prompt hi --threads 100000", 2,
                 "--threads 100000 is outside 0 (every core) .. ");
  expect_refusal("score --model " + path + " --tokens '1 x 3' --logits " + logits, 2,
                 "'x' is not a token id");
  expect_refusal("score --model " + path + " --tokens '1 99999' --logits " + logits, 1,
                 "token id 99999 is outside the vocabulary");
}

TEST(CorollaCli, ScoreMatchesLlamaCppsGoldenLogits) {
  if (!testing::shared_exists("golden/rand-qwen2/greedy-1.txt"))
    GTEST_SKIP() << "../shared is absent";
  const std::string golden =
      testing::read_file(testing::shared_path("golden/rand-qwen2/greedy-1.txt"));
  auto ids_after = [&](const std::string& key) {
    const size_t at = golden.find(key) + key.size();
    return golden.substr(at, golden.find('\n', at) - at);
  };
  std::string generated = ids_after("generated_ids:");
  generated = generated.substr(0, generated.find_last_of(' '));  // the last id is not fed
  const auto r =
      run("score --f32 --model " + testing::shared_path("models/rand-qwen2.gguf") + " --tokens '" +
          ids_after("prompt_tokens:") + " " + generated + "' --against " +
          testing::shared_path("golden/rand-qwen2/greedy-1.logits.f32"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "top-1 equal on 32 of 32")) << r.output;
  const double worst = std::stod(r.output.substr(r.output.find("max |difference| ") + 17));
  EXPECT_LT(worst, 1e-3) << r.output;
}

TEST(CorollaCli, PerplexityOfAStoryIsBetweenOneAndTheVocabulary) {
  const std::string path = testing::temp_path("cli-ppl.gguf");
  ASSERT_EQ(run("gguf make --preset tiny --type q8_0 --seed 5 -o " + path).exit_code, 0);
  const std::string text = testing::temp_path("story.txt");
  std::string story;
  for (int i = 0; i < 10; ++i) story += "Once upon a time there was a little girl named Lily. ";
  testing::write_file(text, story);
  for (const char* kind : {"", " --f32"}) {
    const auto r = run("perplexity --model " + path + " --file " + text + " --context 64" + kind);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(contains(r.output, "Final estimate: PPL = ")) << r.output;
    const double ppl = std::stod(r.output.substr(r.output.find("PPL = ") + 6));
    // Random weights: near-uniform over the 512 tokens, never below 1.
    EXPECT_GT(ppl, 1.0) << r.output;
    EXPECT_LT(ppl, 5000.0) << r.output;
  }
  expect_refusal("perplexity --model " + path + " --file " + testing::temp_path("none.txt"), 1,
                 "can not read");
}

}  // namespace
}  // namespace corolla
