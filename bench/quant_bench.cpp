// `corolla bench quant`: weights at their own bits against int8 — memory, load, prefill
// and decode on the model maker's TinyLlama-1.1B shape per file type, beside the
// machine's bandwidth bound measured in the same run; and accuracy on
// ../shared/golden's random-weight files, beside llama.cpp's own quantised run.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench/bench_commands.hpp"
#include "kernels/cpu_isa.hpp"
#include "model/generator.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"

namespace corolla {
namespace {

struct file_type {
  const char* name;  // the maker's
  ggml_type type;
  bool medium_mix;
};

result<std::string> demo_model(const file_type& t) {
  const std::string path = std::string("demo/tinyllama-1.1b-") + t.name + ".gguf";
  if (std::filesystem::exists(path)) return path;
  std::cerr << "making " << path << " (model maker, preset tinyllama-1.1b, " << t.name
            << ", seed 1)\n";
  COROLLA_RETURN_IF_ERROR(make_preset_model("tinyllama-1.1b", t.type, 1, path, t.medium_mix));
  return path;
}

uint64_t file_tensor_bytes(const std::string& path) {
  auto file = gguf_file::open(path);
  if (!file.ok()) return 0;
  uint64_t total = 0;
  for (const gguf_tensor& t : file->tensors()) total += t.bytes;
  return total;
}

std::vector<float> floats_in(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

std::vector<int32_t> ids_after(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream words(line.substr(key.size()));
    std::vector<int32_t> ids;
    for (int32_t id; words >> id;) ids.push_back(id);
    return ids;
  }
  return {};
}

// Teacher-forced logits of the last `steps` positions of prompt + generated[0, steps - 1),
// in one pass (every path gives a position the same bits in a batch as alone).
result<std::vector<float>> forced(const std::string& model_path, precision kind, kv_type kv,
                                  const std::vector<int32_t>& prompt,
                                  const std::vector<int32_t>& generated, int64_t steps) {
  model_options options;
  options.kind = kind;
  options.kv = kv;
  COROLLA_ASSIGN_OR_RETURN(llama_model m, llama_model::load(model_path, options));
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), generated.begin(), generated.begin() + (steps - 1));
  const int64_t n = int64_t(ids.size()), dim = m.config().dim, vocab = m.config().vocab_size;
  std::vector<float> x(size_t(n * dim));
  COROLLA_RETURN_IF_ERROR(m.head().embed(ids.data(), n, x.data()));
  local_blocks blocks(m.blocks(), n);
  COROLLA_RETURN_IF_ERROR(blocks.forward(0, n, x.data()));
  std::vector<float> logits(size_t(steps * vocab));
  head_workspace ws;
  m.head().logits(&x[size_t((n - steps) * dim)], steps, logits.data(), ws);
  return logits;
}

struct agreement {
  double rms = 0;
  int top1 = 0;
};

agreement against(const std::vector<float>& v, const std::vector<float>& reference, int64_t steps) {
  agreement a;
  const int64_t vocab = int64_t(reference.size()) / steps;
  for (size_t i = 0; i < v.size(); ++i)
    a.rms += double(v[i] - reference[i]) * (v[i] - reference[i]);
  a.rms = std::sqrt(a.rms / double(v.size()));
  for (int64_t s = 0; s < steps; ++s) {
    const float* x = &v[size_t(s * vocab)];
    const float* r = &reference[size_t(s * vocab)];
    a.top1 += std::max_element(x, x + vocab) - x == std::max_element(r, r + vocab) - r;
  }
  return a;
}

void accuracy_table(const std::string& shared, std::ostream& out) {
  const char* types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K_M", "Q5_K_M", "Q6_K"};
  out << "\naccuracy: teacher-forced against the f32 reference (llama.cpp's logits for each "
         "file's f32 twin), "
      << shared
      << "/golden/rand-llama-spm256-*, 32 steps; KV cache f32 as llama.cpp ran, and native "
         "with the default f16 cache\n"
      << "| type | native RMS error | native top-1 | int8 RMS error | int8 top-1 | llama.cpp RMS "
         "error | llama.cpp top-1 | native, f16 KV: RMS error | top-1 |\n"
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  char line[256];
  for (const char* type : types) {
    const std::string name = std::string("rand-llama-spm256-") + type;
    const std::string golden = shared + "/golden/" + name + "/";
    const std::string model = shared + "/models/" + name + ".gguf";
    if (!std::filesystem::exists(model) || !std::filesystem::exists(golden + "greedy-1.txt")) {
      out << "| " << type << " | (absent: " << model << ") | | | | | |\n";
      continue;
    }
    const auto prompt = ids_after(golden + "greedy-1.txt", "prompt_tokens:");
    const auto generated = ids_after(golden + "greedy-1.txt", "generated_ids:");
    const auto twin = floats_in(golden + "greedy-1.f32twin.logits.f32");
    const auto llama = floats_in(golden + "greedy-1.logits.f32");
    const int64_t steps = int64_t(generated.size());
    auto native = forced(model, precision::native, kv_type::f32, prompt, generated, steps);
    auto int8 = forced(model, precision::int8, kv_type::f32, prompt, generated, steps);
    auto native16 = forced(model, precision::native, kv_type::f16, prompt, generated, steps);
    for (const auto* run : {&native, &int8, &native16}) {
      if (!run->ok()) {
        out << "| " << type << " | (could not run: " << run->error().message()
            << ") | | | | | | | |\n";
        break;
      }
    }
    if (!native.ok() || !int8.ok() || !native16.ok()) continue;
    if (native->size() != twin.size()) {
      out << "| " << type << " | (the golden logits are not " << steps
          << " x vocab) | | | | | | | |\n";
      continue;
    }
    const agreement n = against(*native, twin, steps), i = against(*int8, twin, steps),
                    l = against(llama, twin, steps), h = against(*native16, twin, steps);
    const long long all = steps;
    std::snprintf(line, sizeof line,
                  "| %s | %.4f | %d/%lld | %.4f | %d/%lld | %.4f | %d/%lld | %.4f | %d/%lld |\n",
                  type, n.rms, n.top1, all, i.rms, i.top1, all, l.rms, l.top1, all, h.rms, h.top1,
                  all);
    out << line;
  }
}

}  // namespace

int run_quant_bench(const quant_bench_options& options, std::ostream& out) {
  const int threads = omp_get_max_threads();
  const double bandwidth = read_bandwidth_gbs(threads);
  char line[320];
  out << "weights: TinyLlama-1.1B shape (model maker, seed 1), " << threads << " threads; "
      << int8_path_summary() << "\n";
  std::snprintf(line, sizeof line, "memory read bandwidth: %.1f GB/s (this run)\n", bandwidth);
  out << line;
  out << "| file | weights | file tensors | resident weights | load | prefill 64 | decode ("
      << options.steps
      << " steps) | of bandwidth / resident bytes |\n| --- | --- | --- | --- | --- | --- | --- | "
         "--- |\n";
  const file_type types[] = {{"q8_0", ggml_type::q8_0, false},
                             {"q4_0", ggml_type::q4_0, false},
                             {"q4_k_m", ggml_type::q4_k, true}};
  for (const file_type& t : types) {
    auto path = demo_model(t);
    if (!path.ok()) {
      std::cerr << "corolla bench quant: " << path.error().message() << "\n";
      return 1;
    }
    for (const precision kind : {precision::native, precision::int8}) {
      // A Q8_0 file has nothing to keep at other bits: native is int8 there.
      if (t.type == ggml_type::q8_0 && kind == precision::native) continue;
      model_options mo;
      mo.kind = kind;
      auto model = llama_model::load(*path, mo);
      if (!model.ok()) {
        std::cerr << "corolla bench quant: " << model.error().message() << "\n";
        return 1;
      }
      run_random_prompt(*model, 64, 2, 1);  // warms the kernels' primitives and thread teams
      auto prefill = run_random_prompt(*model, 64, 1, 2);
      auto decode = run_random_prompt(*model, 16, options.steps, 3);
      if (!prefill.ok() || !decode.ok()) {
        std::cerr << "corolla bench quant: "
                  << (prefill.ok() ? decode.error().message() : prefill.error().message()) << "\n";
        return 1;
      }
      const double resident = double(model->weight_bytes());
      const double tps = decode->decode_tokens_per_second();
      const double bound = bandwidth * 1e9 / resident;
      std::snprintf(line, sizeof line,
                    "| %s | %s | %.0f MB | %.0f MB | %.2f s | %.1f tokens/s | %.1f tokens/s | "
                    "%.0f%% of %.1f tokens/s |\n",
                    t.name, to_string(kind), double(file_tensor_bytes(*path)) / 1e6, resident / 1e6,
                    model->load_seconds(), prefill->prompt_tokens_per_second(), tps,
                    100.0 * tps / bound, bound);
      out << line;
    }
  }
  accuracy_table(options.shared_dir, out);
  return 0;
}

}  // namespace corolla
