// The inference pieces through their real paths: KV cache positions, block forward
// (prefill vs decode, truncate and replay), int8 vs f32 on a model-maker Q8_0 file,
// the sampler and the generator's stopping rules.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include <algorithm>
#include <cmath>

#include "kernels/matmul_int8.hpp"
#include "model/draft_model.hpp"
#include "model/generator.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

// A stories260K-shaped model from the model maker (the README's demo does the same).
std::string maker_model(ggml_type type, uint64_t seed) {
  const std::string path = testing::temp_path("maker-" + ggml_type_name(uint32_t(type)) + "-" +
                                              std::to_string(seed) + ".gguf");
  maker_options m;
  m.shape = *maker_preset("stories260k");
  m.type = type;
  m.seed = seed;
  const status st = make_model(m, path);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return path;
}

std::vector<float> embed(const llama_model& m, const std::vector<int32_t>& ids) {
  std::vector<float> x(ids.size() * m.config().dim);
  EXPECT_TRUE(m.head().embed(ids.data(), int64_t(ids.size()), x.data()).ok());
  return x;
}

TEST(KvCache, AppendsTruncatesAndRefusesGaps) {
  kv_cache cache(4, 10);
  ASSERT_TRUE(cache.prepare(0, 3).ok());
  cache.commit(3);
  EXPECT_EQ(cache.length(), 3);
  const status gap = cache.prepare(5, 1);
  EXPECT_EQ(gap.code(), status_code::out_of_range);
  EXPECT_NE(gap.message().find("gap"), std::string::npos) << gap.message();
  EXPECT_EQ(cache.length(), 3);           // a refused step changes nothing
  ASSERT_TRUE(cache.prepare(1, 2).ok());  // behind the end: truncate, then append
  EXPECT_EQ(cache.length(), 1);
  cache.commit(3);
  EXPECT_EQ(cache.prepare(8, 3).code(), status_code::out_of_range);  // past max_tokens
}

TEST(KvCache, RowsCopiedToAnotherCacheKeepTheirBits) {
  for (kv_type type : {kv_type::f32, kv_type::f16, kv_type::q8_0}) {
    kv_cache from(64, 16, type);
    ASSERT_TRUE(from.prepare(0, 5).ok());
    std::vector<float> k(64), v(64);
    for (int64_t pos = 0; pos < 5; ++pos) {
      for (int i = 0; i < 64; ++i) {
        k[size_t(i)] = float(pos * 64 + i) * 0.37f - 11.0f;
        v[size_t(i)] = float(i - pos) * 1.3f;
      }
      from.store(pos, k.data(), v.data());
    }
    from.commit(5);
    std::string rows;
    from.append_rows(0, 3, rows);
    from.append_rows(3, 5, rows);
    kv_cache to(64, 16, type);
    // Rows [0, 3) then [3, 5), as a hand-over sends them in chunks.
    const size_t first = 2 * 3 * from.row_bytes();
    const std::string chunk1 = rows.substr(0, first);
    ASSERT_TRUE(to.put_rows(0, 3, chunk1.data(), chunk1.size()).ok());
    const std::string chunk2 = rows.substr(first);
    ASSERT_TRUE(to.put_rows(3, 2, chunk2.data(), chunk2.size()).ok());
    EXPECT_EQ(to.length(), 5);
    std::string back;
    to.append_rows(0, 5, back);
    std::string whole;
    from.append_rows(0, 5, whole);
    EXPECT_EQ(back, whole) << "kv type " << int(type);
    EXPECT_FALSE(to.put_rows(7, 1, chunk2.data(), 2 * to.row_bytes()).ok()) << "a gap";
    EXPECT_EQ(to.put_rows(5, 1, chunk2.data(), 3).code(), status_code::invalid_argument);
  }
}

TEST(BlockForward, PrefillEqualsTokenByTokenDecode) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (precision kind : {precision::f32, precision::int8}) {
    const llama_model m = testing::load_model(maker_model(ggml_type::f32, seed), kind);
    const std::vector<int32_t> ids = {1, 40, 300, 7, 99, 256, 3, 500};
    const int64_t dim = m.config().dim, n = int64_t(ids.size());
    auto all = embed(m, ids);
    local_blocks prefill(m.blocks(), 64);
    ASSERT_TRUE(prefill.forward(0, n, all.data()).ok());
    local_blocks decode(m.blocks(), 64);
    for (int64_t t = 0; t < n; ++t) {
      auto one = embed(m, {ids[t]});
      ASSERT_TRUE(decode.forward(t, 1, one.data()).ok());
      for (int64_t d = 0; d < dim; ++d) {
        // f32: the same arithmetic in another grouping, ~1e-6. int8: each row's
        // activations are quantised with their own scale either way and the sums are
        // exact, so the bits equal — what spot checks (actors/spot_check.hpp) rely on.
        if (kind == precision::int8) {
          ASSERT_EQ(one[d], all[t * dim + d]) << "token " << t << " value " << d;
        } else {
          ASSERT_NEAR(one[d], all[t * dim + d], 1e-4) << "token " << t << " value " << d;
        }
      }
    }
  }
}

TEST(BlockForward, BatchedSequencesEqualSeparateRuns) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (precision kind : {precision::int8, precision::f32}) {
    const llama_model m = testing::load_model(maker_model(ggml_type::q8_0, seed), kind);
    const block_weights& w = m.blocks()[0];
    const int64_t dim = m.config().dim, kv_dim = m.config().kv_dim();
    // Three sessions: a 4-token prefill, then decode steps of two others mid-way.
    const std::vector<std::vector<int32_t>> history = {{1, 5, 9}, {1, 7}, {}};
    const std::vector<std::vector<int32_t>> step = {{11}, {13}, {1, 2, 3, 4}};
    std::vector<kv_cache> alone_caches, batch_caches;
    block_workspace ws;
    std::vector<float> alone_out, batch_in;
    std::vector<sequence_step> seqs;
    for (size_t s = 0; s < step.size(); ++s) {
      for (auto* caches : {&alone_caches, &batch_caches}) {
        caches->emplace_back(kv_dim, 64);
        if (history[s].empty()) continue;
        auto h = embed(m, history[s]);
        ASSERT_TRUE(
            block_forward(w, caches->back(), h.data(), 0, int64_t(history[s].size()), ws).ok());
      }
    }
    for (size_t s = 0; s < step.size(); ++s) {
      auto x = embed(m, step[s]);
      batch_in.insert(batch_in.end(), x.begin(), x.end());
      const int64_t pos = int64_t(history[s].size()), n = int64_t(step[s].size());
      ASSERT_TRUE(block_forward(w, alone_caches[s], x.data(), pos, n, ws).ok());
      alone_out.insert(alone_out.end(), x.begin(), x.end());
      ASSERT_TRUE(batch_caches[s].prepare(pos, n).ok());
    }
    for (size_t s = 0; s < step.size(); ++s) {
      seqs.push_back({&batch_caches[s], int64_t(history[s].size()), int64_t(step[s].size())});
    }
    block_forward_batch(w, seqs, batch_in.data(), ws);
    // Every row is computed as it would be alone: bit for bit.
    ASSERT_EQ(batch_in.size(), alone_out.size());
    for (size_t i = 0; i < batch_in.size(); ++i) {
      ASSERT_EQ(batch_in[i], alone_out[i])
          << to_string(kind) << " value " << i << " of row " << int64_t(i) / dim;
    }
  }
}

TEST(BlockForward, ReplayBehindTheCacheEndEqualsAFreshRun) {
  const llama_model m = testing::load_model(maker_model(ggml_type::q8_0, 7), precision::int8);
  const int64_t dim = m.config().dim;
  local_blocks blocks(m.blocks(), 64);
  auto first = embed(m, {1, 10, 20, 30, 40});
  ASSERT_TRUE(blocks.forward(0, 5, first.data()).ok());
  // Regenerate from position 3 with other tokens: the cache is cut to 3, then appended.
  auto edit = embed(m, {50, 60});
  ASSERT_TRUE(blocks.forward(3, 2, edit.data()).ok());
  local_blocks fresh(m.blocks(), 64);
  auto whole = embed(m, {1, 10, 20, 50, 60});
  ASSERT_TRUE(fresh.forward(0, 5, whole.data()).ok());
  for (int64_t i = 0; i < 2 * dim; ++i) ASSERT_FLOAT_EQ(edit[i], whole[3 * dim + i]);
  auto late = embed(m, {1});
  EXPECT_EQ(blocks.forward(9, 1, late.data()).code(), status_code::out_of_range);
}

TEST(Int8Path, AgreesWithF32TwinOn95PercentOfTopOnes) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const llama_model f32 = testing::load_model(maker_model(ggml_type::f32, seed), precision::f32);
  const llama_model q8 = testing::load_model(maker_model(ggml_type::q8_0, seed), precision::int8);
  // Teacher forcing on the f32 model's own greedy continuation of a prompt.
  local_blocks f32_blocks(f32.blocks(), 256);
  generator gen(f32.head(), f32.tokenizer(), f32_blocks, 256);
  generation_options options;
  options.sampling.temperature = 0;
  options.max_tokens = 96;
  options.stop_at_eos = false;
  const auto prompt = f32.tokenizer().encode("Once upon a time", true, false);
  auto run = gen.generate(prompt, options, [](const std::string&) { return true; });
  ASSERT_TRUE(run.ok()) << run.error().to_string();
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), run->tokens.begin(), run->tokens.end() - 1);

  const int64_t vocab = f32.config().vocab_size, n = int64_t(ids.size());
  auto top_ones = [&](const llama_model& m) {
    local_blocks blocks(m.blocks(), 256);
    auto x = embed(m, ids);
    EXPECT_TRUE(blocks.forward(0, n, x.data()).ok());
    std::vector<float> logits(n * vocab);
    head_workspace ws;
    m.head().logits(x.data(), n, logits.data(), ws);
    std::vector<int32_t> top(n);
    for (int64_t t = 0; t < n; ++t) {
      top[t] = int32_t(std::max_element(&logits[t * vocab], &logits[(t + 1) * vocab]) -
                       &logits[t * vocab]);
    }
    return top;
  };
  const auto a = top_ones(f32), b = top_ones(q8);
  int agree = 0;
  for (int64_t t = 0; t < n; ++t) agree += a[t] == b[t];
  std::printf("int8 (Q8_0 file) vs f32 (F32 twin): top-1 agrees on %d of %lld positions\n", agree,
              (long long)n);
  // Random weights give logits with tiny top-1 margins: on seeds 1-5 this agreement was
  // 92-98%, and the f32 path on the Q8_0 file alone (no int8 kernel) already only
  // 94-97%. The 95% bar is checked on the real model (Golden.Int8TopOne...: 98%);
  // here 90% separates quantisation noise from a broken int8 path (which gives ~0%).
  EXPECT_GE(agree, 0.90 * double(n));
}

TEST(Sampler, GreedyIsArgmaxAndSeedsReproduce) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  sampling_params greedy;
  greedy.temperature = 0;
  EXPECT_EQ(sampler(greedy).sample(logits.data(), 4, {}), 1);
  sampling_params warm;
  warm.temperature = 1.5f;
  warm.top_k = 0;
  warm.top_p = 1;
  warm.min_p = 0;
  warm.seed = 42;
  std::vector<int32_t> a, b;
  sampler sa(warm), sb(warm);
  for (int i = 0; i < 50; ++i) {
    auto la = logits, lb = logits;
    a.push_back(sa.sample(la.data(), 4, {}));
    b.push_back(sb.sample(lb.data(), 4, {}));
  }
  EXPECT_EQ(a, b);
  EXPECT_GT(std::count(a.begin(), a.end(), 3), 0);  // not always the argmax
}

TEST(Sampler, FiltersFollowLlamaCppSemantics) {
  std::vector<candidate> c = {{0, 3.0f}, {1, 2.9f}, {2, 0.0f}, {3, -5.0f}};
  sampling_params p;
  p.temperature = 1;
  p.top_k = 1;
  auto copy = c;
  EXPECT_EQ(sample_candidates(copy, p, 0.99f), 0);  // top-k 1: only the best survives
  p.top_k = 0;
  p.top_p = 0.6f;  // the best alone holds 0.51, with the second 0.97
  p.min_p = 0;
  copy = c;
  sample_candidates(copy, p, 0.0f);
  EXPECT_EQ(copy.size(), 2u);
  p.top_p = 1;
  p.min_p = 0.5f;  // exp(0 - 3) < 0.5: ids 2 and 3 go
  copy = c;
  sample_candidates(copy, p, 0.0f);
  EXPECT_EQ(copy.size(), 2u);
}

// The accept/reject rule for a certain draft gives each token the probability plain
// sampling does, whichever token was drafted, and never a token the filters removed.
TEST(Sampler, ADraftKeptByTheAcceptRejectRuleLeavesTheDistributionAsItWas) {
  const std::vector<candidate> c = {{0, 2.0f}, {1, 1.0f}, {2, 0.5f}, {3, 0.0f}};
  sampling_params p;
  p.temperature = 0.7f;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0;
  std::vector<double> expected(4);
  double sum = 0;
  for (size_t i = 0; i < 4; ++i) sum += expected[i] = std::exp(double(c[i].logit) / 0.7);
  for (double& e : expected) e /= sum;
  const uint64_t seed = testing::test_seed(3);
  std::cout << "coin seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  const auto coin = [&] { return float(rng() >> 40) * 0x1p-24f; };
  const int draws = 200000;
  for (int32_t draft = 0; draft < 4; ++draft) {
    SCOPED_TRACE("draft " + std::to_string(draft));
    std::vector<int> seen(4);
    for (int i = 0; i < draws; ++i) {
      auto copy = c;
      const float accept = coin();
      ++seen[size_t(sample_given_draft(copy, p, draft, accept, coin()))];
    }
    // Five standard deviations of a binomial count at these probabilities: < 0.006.
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(double(seen[i]) / draws, expected[i], 0.006);
  }
  p.top_k = 2;
  for (int i = 0; i < 1000; ++i) {
    auto copy = c;
    const float accept = coin();
    EXPECT_LT(sample_given_draft(copy, p, 3, accept, coin()), 2);
  }
}

TEST(Sampler, RepetitionPenaltyDemotesRecentTokens) {
  std::vector<float> logits = {1.0f, 1.1f};
  sampling_params p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  EXPECT_EQ(sampler(p).sample(logits.data(), 2, {1}), 0);
  EXPECT_FLOAT_EQ(logits[1], 1.1f / 1.5f);
}

TEST(Sampler, RejectsBadParameters) {
  sampling_params p;
  p.top_p = 0;
  EXPECT_NE(p.validate().message().find("top_p"), std::string::npos);
  p = {};
  p.temperature = -1;
  EXPECT_NE(p.validate().message().find("temperature"), std::string::npos);
}

class Generator : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::shared_exists("models/stories260K.gguf")) {
      GTEST_SKIP() << "../shared/models/stories260K.gguf absent";
    }
    model_ = std::make_unique<llama_model>(
        testing::load_model(testing::shared_path("models/stories260K.gguf"), precision::int8));
    blocks_ = std::make_unique<local_blocks>(model_->blocks(), 512);
    gen_ = std::make_unique<generator>(model_->head(), model_->tokenizer(), *blocks_, 512);
    options_.sampling.temperature = 0;
    options_.max_tokens = 48;
  }
  std::string run(const std::string& prompt, generation_stats* stats = nullptr) {
    std::string text;
    auto r = gen_->generate(model_->tokenizer().encode(prompt, true, false), options_,
                            [&](const std::string& piece) {
                              text += piece;
                              return true;
                            });
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    if (stats && r.ok()) *stats = *r;
    return text;
  }
  std::unique_ptr<llama_model> model_;
  std::unique_ptr<local_blocks> blocks_;
  std::unique_ptr<generator> gen_;
  generation_options options_;
};

TEST_F(Generator, StopsAtAStopStringAndHidesIt) {
  const std::string full = run("Lily wanted to play with her ball");
  ASSERT_NE(full.find(" toys"), std::string::npos) << full;
  options_.stop_strings = {" toys"};
  gen_->reset();
  generation_stats stats;
  const std::string cut = run("Lily wanted to play with her ball", &stats);
  EXPECT_EQ(cut, full.substr(0, full.find(" toys")));
  EXPECT_EQ(stats.reason, stop_reason::stop_string);
  EXPECT_LT(stats.generated_tokens(), 48);  // nothing computed past the stop
}

TEST_F(Generator, StopsAtMaxTokensAndWhenTheCallbackSaysSo) {
  options_.max_tokens = 5;
  generation_stats stats;
  run("The cat sat", &stats);
  EXPECT_EQ(stats.generated_tokens(), 5);
  EXPECT_EQ(stats.reason, stop_reason::max_tokens);
  options_.max_tokens = 48;
  int calls = 0;
  auto r = gen_->generate(model_->tokenizer().encode("The cat sat", true, false), options_,
                          [&](const std::string&) { return ++calls < 3; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reason, stop_reason::cancelled);
  EXPECT_EQ(calls, 3);
}

TEST_F(Generator, ReusesTheCachedPrefixOfALongerContext) {
  generation_stats first, second;
  const std::string a = run("Tom and Sue went to the big park.", &first);
  const std::vector<int32_t> context = gen_->context();
  std::vector<int32_t> longer = context;
  const auto more = model_->tokenizer().encode(" They saw a dog.", false, false);
  longer.insert(longer.end(), more.begin(), more.end());
  auto r = gen_->generate(longer, options_, [](const std::string&) { return true; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_tokens, int64_t(more.size()));  // only the new tokens were computed
  // ... and the result equals a fresh run over the same context.
  local_blocks fresh_blocks(model_->blocks(), 512);
  generator fresh(model_->head(), model_->tokenizer(), fresh_blocks, 512);
  auto f = fresh.generate(longer, options_, [](const std::string&) { return true; });
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(r->tokens, f->tokens);
}

TEST_F(Generator, MakesNoMatmulPrimitivePerToken) {
  run("Once upon a time");
  const int64_t before = matmul_int8_primitives_created();
  gen_->reset();
  run("Once upon a time");
  EXPECT_EQ(matmul_int8_primitives_created(), before);
}

// Prompt lookup: the tokens after the latest earlier occurrence of the longest repeated
// suffix (3 tokens at most).
TEST(Speculation, DraftsWhatFollowedTheLatestRepeatOfTheSuffix) {
  EXPECT_EQ(draft_from_context({1, 2, 3, 9, 1, 2, 3, 7, 8, 1, 2, 3}, 4),
            (std::vector<int32_t>{7, 8, 1, 2}));
  EXPECT_EQ(draft_from_context({5, 6, 1, 2, 6}, 3), (std::vector<int32_t>{1, 2, 6}));
  EXPECT_EQ(draft_from_context({4, 4}, 2), std::vector<int32_t>{4});
  EXPECT_TRUE(draft_from_context({1, 2, 3}, 4).empty());
  EXPECT_TRUE(draft_from_context({1, 2, 1}, 0).empty());
  EXPECT_TRUE(draft_from_context({}, 4).empty());
}

// Records every step the generator runs, to see where speculation rewinds.
class recording_runner : public block_runner {
 public:
  explicit recording_runner(block_runner& inner) : inner_(inner) {}
  status forward(int64_t pos, int64_t n, float* x) override {
    steps.push_back({pos, n});
    return inner_.forward(pos, n, x);
  }
  std::vector<std::pair<int64_t, int64_t>> steps;

 private:
  block_runner& inner_;
};

// Speculation changes the steps, never the tokens: for every draft length, the greedy
// tokens are those of plain decoding and the context left behind holds only them; drafts
// are taken, and rejected ones are rewound at several rows of a step.
TEST_F(Generator, SpeculationKeepsTheGreedyTokensAndRewindsRejectedRows) {
  options_.max_tokens = 96;
  const std::vector<std::string> prompts = {"Once upon a time", "Lily and Ben"};
  std::set<int64_t> rewound_rows;
  for (const std::string& prompt : prompts) {
    const auto ids = model_->tokenizer().encode(prompt, true, false);
    gen_->reset();
    auto plain = gen_->generate(ids, options_, [](const std::string&) { return true; });
    ASSERT_TRUE(plain.ok());
    const std::vector<int32_t> plain_context = gen_->context();
    for (int32_t draft : {1, 2, 4, 8, 16}) {
      SCOPED_TRACE(prompt + ", draft " + std::to_string(draft));
      local_blocks blocks(model_->blocks(), 512);
      recording_runner runner(blocks);
      generator g(model_->head(), model_->tokenizer(), runner, 512);
      generation_options o = options_;
      o.draft_tokens = draft;
      auto r = g.generate(ids, o, [](const std::string&) { return true; });
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_EQ(r->tokens, plain->tokens);
      // Invariant 1 either way; speculation may have run the last token already.
      std::vector<int32_t> whole = ids;
      whole.insert(whole.end(), r->tokens.begin(), r->tokens.end());
      const std::vector<int32_t>& context = g.context();
      ASSERT_GE(context.size(), plain_context.size());
      EXPECT_TRUE(std::equal(plain_context.begin(), plain_context.end(), context.begin()));
      ASSERT_LE(context.size(), whole.size());
      EXPECT_TRUE(std::equal(context.begin(), context.end(), whole.begin()));
      EXPECT_GT(r->drafted, 0);
      EXPECT_LE(r->accepted, r->drafted);
      // Every token after the first came from a step or an accepted draft's row; a draft
      // taken as the last token is counted too, though no row after it was needed.
      EXPECT_GE(r->decode_steps + r->accepted, r->generated_tokens() - 1);
      EXPECT_LE(r->decode_steps + r->accepted, r->generated_tokens());
      for (size_t i = 1; i < runner.steps.size(); ++i) {
        const auto [pos, n] = runner.steps[i - 1];
        if (runner.steps[i].first < pos + n) rewound_rows.insert(runner.steps[i].first - pos);
      }
      // The next turn reuses what speculation left as context, like a fresh run would.
      std::vector<int32_t> longer = g.context();
      const auto more = model_->tokenizer().encode(" The end.", false, false);
      longer.insert(longer.end(), more.begin(), more.end());
      auto next = g.generate(longer, o, [](const std::string&) { return true; });
      local_blocks fresh_blocks(model_->blocks(), 512);
      generator fresh(model_->head(), model_->tokenizer(), fresh_blocks, 512);
      auto expected = fresh.generate(longer, options_, [](const std::string&) { return true; });
      ASSERT_TRUE(next.ok() && expected.ok());
      EXPECT_EQ(next->tokens, expected->tokens);
    }
  }
  std::cout << "rows rewound to:";
  for (int64_t r : rewound_rows) std::cout << " " << r;
  std::cout << "\n";
  EXPECT_GE(rewound_rows.size(), 3u);
}

// The model as its own draft model: every greedy draft is what the model picks (a step's
// rows are computed as single rows are), so all are taken and the text is unchanged;
// sampled, a seed gives the same tokens twice.
TEST_F(Generator, ADraftModelsGreedyDraftsAreTakenAndChangeNoToken) {
  const auto ids = model_->tokenizer().encode("Once upon a time", true, false);
  auto plain = gen_->generate(ids, options_, [](const std::string&) { return true; });
  ASSERT_TRUE(plain.ok());
  auto same = std::make_shared<const llama_model>(
      testing::load_model(testing::shared_path("models/stories260K.gguf"), precision::int8));
  for (float temperature : {0.0f, 0.8f}) {
    SCOPED_TRACE("temperature " + std::to_string(temperature));
    std::vector<std::vector<int32_t>> runs;
    for (int run = 0; run < 2; ++run) {
      auto drafts = draft_model::make(same, model_->tokenizer(), 512);
      ASSERT_TRUE(drafts.ok()) << drafts.error().to_string();
      local_blocks blocks(model_->blocks(), 512);
      generator g(model_->head(), model_->tokenizer(), blocks, 512);
      g.set_draft_source(drafts->get());
      generation_options o = options_;
      o.draft_tokens = 4;
      o.sampling.temperature = temperature;
      o.sampling.seed = 7;
      auto r = g.generate(ids, o, [](const std::string&) { return true; });
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_GT(r->drafted, 0);
      if (temperature == 0) {
        EXPECT_EQ(r->tokens, plain->tokens);
        EXPECT_EQ(r->accepted, r->drafted);
        EXPECT_LE(r->decode_steps * 5, r->generated_tokens() + 4);
      } else {
        EXPECT_GT(r->accepted, 0);
        EXPECT_LT(r->accepted, r->drafted);  // sampled tokens leave the greedy drafts
      }
      runs.push_back(r->tokens);
    }
    EXPECT_EQ(runs[0], runs[1]);
  }
}

TEST_F(Generator, ADraftModelWithAnotherVocabularyIsRefusedByName) {
  const std::string path = testing::temp_path("draft-tiny.gguf");
  ASSERT_TRUE(make_preset_model("tiny", ggml_type::q8_0, 5, path).ok());
  auto other = std::make_shared<const llama_model>(testing::load_model(path, precision::int8));
  auto drafts = draft_model::make(other, model_->tokenizer(), 512);
  ASSERT_FALSE(drafts.ok());
  EXPECT_NE(drafts.error().message().find("the vocabularies differ"), std::string::npos)
      << drafts.error().message();
}

TEST_F(Generator, RefusesBadDraftCounts) {
  options_.draft_tokens = max_draft_tokens + 1;
  auto r = gen_->generate({1, 2}, options_, [](const std::string&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("draft_tokens"), std::string::npos);
}

TEST_F(Generator, RefusesAPromptLongerThanTheContext) {
  std::vector<int32_t> huge(600, 300);
  auto r = gen_->generate(huge, options_, [](const std::string&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), status_code::out_of_range);
}

}  // namespace
}  // namespace corolla
