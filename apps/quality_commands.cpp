#include "apps/quality_commands.hpp"

#include <omp.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/command_line.hpp"
#include "model/generator.hpp"
#include "model/llama_model.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

// Logits [ids, vocab] of the sequence as one teacher-forced pass from position 0.
status forced_logits(const llama_model& model, local_blocks& blocks,
                     const std::vector<int32_t>& ids, std::vector<float>& logits) {
  const int64_t n = int64_t(ids.size()), dim = model.config().dim;
  std::vector<float> x(size_t(n * dim));
  COROLLA_RETURN_IF_ERROR(model.head().embed(ids.data(), n, x.data()));
  COROLLA_RETURN_IF_ERROR(blocks.forward(0, n, x.data()));
  logits.resize(size_t(n * model.config().vocab_size));
  head_workspace ws;
  model.head().logits(x.data(), n, logits.data(), ws);
  return status();
}

result<llama_model> load(const std::string& path, precision kind, std::optional<kv_type> kv) {
  model_options options;
  options.kind = kind;
  options.kv = kv;
  return llama_model::load(path, options);
}

int64_t argmax(const float* row, int64_t n) {
  return int64_t(std::max_element(row, row + n) - row);
}

// log(sum(exp(row))) - row[target], in double.
double negative_log_likelihood(const float* row, int64_t n, int32_t target) {
  const float max = *std::max_element(row, row + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(row[i]) - max);
  return std::log(sum) + max - row[target];
}

}  // namespace

int run_score(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts(
      "corolla score --model FILE --tokens \"ID ID ...\" [--weights native|int8] [--f32] --logits "
      "OUT [--against FILE]");
  std::string model_path, token_text, logits_path, against;
  int threads = 0;
  opts.add_options()("help,h", "show this help")("model,m", po::value(&model_path), "GGUF file")(
      "tokens", po::value(&token_text), "token ids, separated by spaces")(
      "logits", po::value(&logits_path), "file to write (n_tokens x n_vocab f32)")(
      "against", po::value(&against), "compare the last rows with this logits file")(
      "threads,t", po::value(&threads), "OpenMP threads (default: all cores)");
  std::string weights, kv_name;
  add_precision_options(opts, weights, &kv_name);
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla score", out, vm)) return *done;
  const auto kind = precision_from_options(vm, weights, "corolla score");
  std::optional<kv_type> kv;
  if (!kind || !kv_from_options(kv_name, "corolla score", kv)) return 2;
  if (model_path.empty() || token_text.empty() || (logits_path.empty() && against.empty())) {
    std::cerr << "corolla score: --model FILE, --tokens IDS and --logits OUT (or --against "
                 "FILE) are required\n";
    return 2;
  }
  std::vector<int32_t> ids;
  std::istringstream in(token_text);
  for (std::string word; in >> word;) {
    char* end = nullptr;
    const long id = std::strtol(word.c_str(), &end, 10);
    if (*end != '\0' || id < 0 || id > INT32_MAX) {
      std::cerr << "corolla score: --tokens: '" << word << "' is not a token id\n";
      return 2;
    }
    ids.push_back(int32_t(id));
  }
  if (!use_threads(threads, "corolla score")) return 2;
  auto model = load(model_path, *kind, kv);
  if (!model.ok()) {
    std::cerr << "corolla score: " << model.error().message() << "\n";
    return 1;
  }
  const int64_t vocab = model->config().vocab_size, n = int64_t(ids.size());
  local_blocks blocks(model->blocks(), n);
  std::vector<float> logits;
  if (status st = forced_logits(*model, blocks, ids, logits); !st.ok()) {
    std::cerr << "corolla score: " << st.message() << "\n";
    return 1;
  }
  if (!logits_path.empty()) {
    std::ofstream file(logits_path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(logits.data()),
               std::streamsize(logits.size() * sizeof(float)));
    if (!file) {
      std::cerr << "corolla score: can not write " << logits_path << "\n";
      return 1;
    }
    out << "wrote " << logits_path << ": " << n << " x " << vocab << " f32 logits ("
        << to_string(*kind) << ")\n";
  }
  if (!against.empty()) {
    std::ifstream file(against, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), {});
    const int64_t rows = int64_t(bytes.size() / sizeof(float)) / vocab;
    if (!file || rows <= 0 || rows > n || int64_t(bytes.size()) != rows * vocab * 4) {
      std::cerr << "corolla score: " << against << " is not 1 to " << n << " rows of " << vocab
                << " f32 values\n";
      return 1;
    }
    std::vector<float> theirs(size_t(rows * vocab));
    std::memcpy(theirs.data(), bytes.data(), bytes.size());
    const float* ours = logits.data() + (n - rows) * vocab;
    double worst = 0;
    int64_t agree = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < vocab; ++i) {
        worst =
            std::max(worst, double(std::fabs(ours[r * vocab + i] - theirs[size_t(r * vocab + i)])));
      }
      agree += argmax(ours + r * vocab, vocab) == argmax(&theirs[size_t(r * vocab)], vocab);
    }
    out << "against " << against << " (the last " << rows << " rows): max |difference| " << worst
        << ", top-1 equal on " << agree << " of " << rows << "\n";
  }
  return 0;
}

int run_perplexity(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts("corolla perplexity --model FILE --file TEXT [--context N]");
  std::string model_path, text_path;
  int64_t context = 512;
  int threads = 0;
  opts.add_options()("help,h", "show this help")("model,m", po::value(&model_path), "GGUF file")(
      "file,f", po::value(&text_path), "text to score")(
      "context,c", po::value(&context)->default_value(512), "tokens per chunk")(
      "threads,t", po::value(&threads), "OpenMP threads (default: all cores)");
  std::string weights, kv_name;
  add_precision_options(opts, weights, &kv_name);
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla perplexity", out, vm)) return *done;
  const auto kind = precision_from_options(vm, weights, "corolla perplexity");
  std::optional<kv_type> kv;
  if (!kind || !kv_from_options(kv_name, "corolla perplexity", kv)) return 2;
  if (model_path.empty() || text_path.empty()) {
    std::cerr << "corolla perplexity: --model FILE and --file TEXT are required\n";
    return 2;
  }
  if (context < 4) {
    std::cerr << "corolla perplexity: --context must be at least 4\n";
    return 2;
  }
  std::ifstream file(text_path, std::ios::binary);
  if (!file) {
    std::cerr << "corolla perplexity: can not read " << text_path << "\n";
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(file)), {});
  if (!use_threads(threads, "corolla perplexity")) return 2;
  auto model = load(model_path, *kind, kv);
  if (!model.ok()) {
    std::cerr << "corolla perplexity: " << model.error().message() << "\n";
    return 1;
  }
  const auto tokens = model->tokenizer().encode(text, /*add_bos=*/false, /*parse_special=*/false);
  context = std::min(context, model->config().context_length);
  // A text shorter than one chunk is one chunk of its own length.
  const int64_t chunk = std::min<int64_t>(context, int64_t(tokens.size()) + 1);
  const int64_t chunks = int64_t(tokens.size() + 1) / chunk;
  if (chunk < 4 || chunks == 0) {
    std::cerr << "corolla perplexity: " << text_path << " has " << tokens.size()
              << " tokens, too few to score\n";
    return 1;
  }
  const int64_t vocab = model->config().vocab_size;
  const int32_t bos = model->tokenizer().vocab().bos;
  local_blocks blocks(model->blocks(), chunk);
  std::vector<float> logits;
  double sum = 0, sum_squares = 0;
  int64_t count = 0;
  out << "perplexity: " << tokens.size() << " tokens, " << chunks << " chunks of " << chunk << " ("
      << to_string(*kind) << ")\n";
  for (int64_t c = 0; c < chunks; ++c) {
    // As llama-perplexity: each chunk opens with BOS and only its second half is scored,
    // so every scored token has at least half a chunk of context.
    std::vector<int32_t> ids(tokens.begin() + c * chunk, tokens.begin() + (c + 1) * chunk - 1);
    ids.insert(ids.begin(), bos >= 0 ? bos : tokens[size_t(c * chunk)]);
    if (status st = forced_logits(*model, blocks, ids, logits); !st.ok()) {
      std::cerr << "corolla perplexity: " << st.message() << "\n";
      return 1;
    }
    for (int64_t i = chunk / 2; i + 1 < chunk; ++i) {
      const double nll =
          negative_log_likelihood(&logits[size_t(i * vocab)], vocab, tokens[size_t(c * chunk + i)]);
      sum += nll;
      sum_squares += nll * nll;
      ++count;
    }
    out << "[" << c + 1 << "]" << std::exp(sum / double(count)) << (c + 1 < chunks ? "," : "\n")
        << std::flush;
  }
  const double mean = sum / double(count);
  const double variance = std::max(0.0, sum_squares / double(count) - mean * mean);
  const double ppl = std::exp(mean);
  const double error = count > 1 ? ppl * std::sqrt(variance / double(count - 1)) : 0.0;
  char line[128];
  std::snprintf(line, sizeof line, "Final estimate: PPL = %.4f +/- %.5f (%lld tokens scored)\n",
                ppl, error, static_cast<long long>(count));
  out << line;
  return 0;
}

}  // namespace corolla
