// The compute executor without actors: where batches form, what close and stop do,
// and that heads of several callers share one pass. A kernel passed to run() that
// waits on a latch holds the executor's thread, so the tests can queue work in a
// known order before anything runs.
#include "actors/compute_executor.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "model/block_forward.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

std::shared_ptr<const llama_model> maker_model(bool with_head = false) {
  const uint64_t seed = testing::test_seed();
  const std::string path = testing::temp_path("executor-" + std::to_string(seed) + ".gguf");
  maker_options m;
  m.shape = *maker_preset("stories260k");
  m.type = ggml_type::q8_0;
  m.seed = seed;
  EXPECT_TRUE(make_model(m, path).ok());
  model_options options;
  options.with_head = with_head;
  auto loaded = llama_model::load(path, options);
  EXPECT_TRUE(loaded.ok()) << loaded.error().to_string();
  return std::make_shared<const llama_model>(std::move(*loaded));
}

std::vector<float> values(int64_t n, float base) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = base + 0.01f * float(i % 37) - 0.2f;
  return v;
}

// Holds the executor's thread until release().
class hold {
 public:
  explicit hold(compute_executor& executor) {
    auto in = entered_.get_future();
    thread_ = std::thread([&executor, this] {
      executor.run([this] {
        entered_.set_value();
        release_.get_future().wait();
      });
    });
    in.wait();
  }
  ~hold() {
    if (thread_.joinable()) release();
  }
  void release() {
    release_.set_value();
    thread_.join();
  }

 private:
  std::promise<void> entered_, release_;
  std::thread thread_;
};

// A step's outcome, delivered on the executor's thread.
struct outcome {
  std::promise<result<block_step>> promise;
  std::future<result<block_step>> future = promise.get_future();
  compute_executor::step_done done() {
    return [this](result<block_step> r) { promise.set_value(std::move(r)); };
  }
};

// An executor with one lane: block 0 of the maker's model.
struct one_block {
  std::shared_ptr<const llama_model> model = maker_model();
  int64_t dim = model->config().dim;
  compute_executor executor;
  std::shared_ptr<compute_executor::lane> lane = executor.add_lane(model, 0, nullptr);
};

// Lanes for blocks 0, 1 and 2, chained; the first two (the third is reached through them).
std::pair<std::shared_ptr<compute_executor::lane>, std::shared_ptr<compute_executor::lane>>
first_two_of_three(compute_executor& executor, const std::shared_ptr<const llama_model>& model) {
  auto lane1 = executor.add_lane(model, 1, executor.add_lane(model, 2, nullptr));
  return {executor.add_lane(model, 0, lane1), lane1};
}

// Blocks [first, end) of `m` on one token at position 0 in fresh caches: a session alone.
std::vector<float> alone(const llama_model& m, int64_t first, int64_t end, std::vector<float> x) {
  block_workspace ws;
  for (int64_t b = first; b < end; ++b) {
    kv_cache cache(m.config().kv_dim(), 16, m.blocks()[size_t(b)].cache_type);
    EXPECT_TRUE(block_forward(m.blocks()[size_t(b)], cache, x.data(), 0, 1, ws).ok());
  }
  return x;
}

block_step decode_step(uint64_t session, int64_t pos, int64_t end_block, std::vector<float> x) {
  return block_step{session, pos, 1, 16, end_block, 0, std::move(x)};
}

TEST(ComputeExecutor, TrailingSessionCatchesUpAndTheyRunAsOneBatch) {
  SCOPED_TRACE("seed " + std::to_string(testing::test_seed()));
  const auto model = maker_model();
  const int64_t dim = model->config().dim;
  compute_executor executor;
  const auto [lane0, lane1] = first_two_of_three(executor, model);
  // Session 1 is one block behind session 2 and arrives later, which would keep them
  // apart if the executor ran steps in arrival order.
  const std::vector<float> x1 = values(dim, 0.1f), x2 = values(dim, -0.3f);
  outcome first, second;
  {
    hold held(executor);
    executor.submit(lane1, decode_step(2, 0, 3, x2), second.done());
    executor.submit(lane0, decode_step(1, 0, 3, x1), first.done());
    EXPECT_EQ(executor.stats().waiting, 2);
  }
  auto r1 = first.future.get(), r2 = second.future.get();
  ASSERT_TRUE(r1.ok()) << r1.error().to_string();
  ASSERT_TRUE(r2.ok()) << r2.error().to_string();
  // Block 0 for session 1 alone, then blocks 1 and 2 for both.
  EXPECT_EQ(executor.stats().batches, 3);
  EXPECT_EQ(executor.stats().rows, 5);

  // Each output is what the blocks give the session alone.
  EXPECT_EQ(r1->hidden, alone(*model, 0, 3, x1));
  EXPECT_EQ(r2->hidden, alone(*model, 1, 3, x2));
  EXPECT_GT(r1->compute_us, 0);
}

TEST(ComputeExecutor, AStepThatWaitedMaxWaitGoesFirst) {
  const auto model = maker_model();
  const int64_t dim = model->config().dim;
  compute_options options;
  options.max_wait = std::chrono::milliseconds(0);  // every step is overdue: oldest first
  compute_executor executor(options);
  const auto [lane0, lane1] = first_two_of_three(executor, model);
  outcome first, second;
  {
    hold held(executor);
    executor.submit(lane1, decode_step(2, 0, 3, values(dim, -0.3f)), second.done());
    executor.submit(lane0, decode_step(1, 0, 3, values(dim, 0.1f)), first.done());
  }
  ASSERT_TRUE(first.future.get().ok());
  ASSERT_TRUE(second.future.get().ok());
  EXPECT_EQ(executor.stats().batches, 5);  // never merged
}

TEST(ComputeExecutor, AStepStopsAtItsEndBlock) {
  const auto model = maker_model();
  compute_executor executor;
  auto lane1 = executor.add_lane(model, 1, nullptr);
  auto lane0 = executor.add_lane(model, 0, lane1);
  outcome o;
  executor.submit(lane0, decode_step(1, 0, 1, values(model->config().dim, 0.5f)), o.done());
  ASSERT_TRUE(o.future.get().ok());
  EXPECT_EQ(executor.stats().batches, 1);
}

TEST(ComputeExecutor, CloseDropsTheCacheAndFailsQueuedSteps) {
  one_block b;
  compute_executor& executor = b.executor;
  const auto& lane = b.lane;
  const int64_t dim = b.dim;
  outcome first;
  executor.submit(lane, decode_step(1, 0, 1, values(dim, 0.1f)), first.done());
  ASSERT_TRUE(first.future.get().ok());

  outcome queued, after;
  {
    hold held(executor);
    executor.submit(lane, decode_step(1, 1, 1, values(dim, 0.2f)), queued.done());
    executor.close(lane, 1);
  }
  auto q = queued.future.get();
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().code(), status_code::not_found) << q.error().to_string();
  EXPECT_NE(q.error().message().find("closed"), std::string::npos);
  // The cache is gone: position 1 is now a gap.
  executor.submit(lane, decode_step(1, 1, 1, values(dim, 0.3f)), after.done());
  auto a = after.future.get();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), status_code::out_of_range) << a.error().to_string();
}

TEST(ComputeExecutor, BadShapeFailsAloneAndItsBatchRuns) {
  one_block b;
  compute_executor& executor = b.executor;
  const auto& lane = b.lane;
  const int64_t dim = b.dim;
  outcome good, bad;
  {
    hold held(executor);
    executor.submit(lane, decode_step(1, 0, 1, values(dim, 0.1f)), good.done());
    executor.submit(lane, decode_step(2, 0, 1, values(dim - 1, 0.1f)), bad.done());
  }
  EXPECT_TRUE(good.future.get().ok());
  auto refused = bad.future.get();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("tokens of width"), std::string::npos);
}

TEST(ComputeExecutor, StoppingFailsWhatWaitsAndWhatComesLater) {
  one_block b;
  compute_executor& executor = b.executor;
  const auto& lane = b.lane;
  const int64_t dim = b.dim;
  outcome waiting, later;
  {
    hold held(executor);
    executor.submit(lane, decode_step(1, 0, 1, values(dim, 0.1f)), waiting.done());
    executor.stop();
  }
  auto w = waiting.future.get();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), status_code::internal);
  executor.submit(lane, decode_step(2, 0, 1, values(dim, 0.1f)), later.done());
  auto l = later.future.get();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.error().message().find("stopped"), std::string::npos);
  float out = 0;
  EXPECT_FALSE(executor.run([&] { out = 1; }).ok());
  EXPECT_EQ(out, 0);
}

TEST(ComputeExecutor, HeadRowsOfSeveralCallersRunAsOnePass) {
  const auto model = maker_model(/*with_head=*/true);
  const int64_t dim = model->config().dim, vocab = model->config().vocab_size;
  compute_executor executor;
  auto head = executor.head_for(model);
  EXPECT_EQ(executor.head_for(model), head);  // one lane per model
  std::vector<std::vector<float>> xs, outs(3, std::vector<float>(size_t(vocab)));
  for (int i = 0; i < 3; ++i) xs.push_back(values(dim, 0.1f * float(i)));
  std::vector<std::thread> callers;
  std::vector<status> results(3);
  {
    hold held(executor);
    for (int i = 0; i < 3; ++i) {
      callers.emplace_back([&, i] {
        results[size_t(i)] = executor.logits(head, xs[size_t(i)].data(), outs[size_t(i)].data());
      });
    }
    while (executor.stats().waiting < 3) std::this_thread::yield();
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(executor.stats().head_batches, 1);
  EXPECT_EQ(executor.stats().head_rows, 3);
  head_workspace ws;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[size_t(i)].ok()) << results[size_t(i)].to_string();
    std::vector<float> alone(static_cast<size_t>(vocab));
    model->head().logits(xs[size_t(i)].data(), 1, alone.data(), ws);
    EXPECT_EQ(outs[size_t(i)], alone) << "caller " << i;
  }
}

}  // namespace
}  // namespace corolla
