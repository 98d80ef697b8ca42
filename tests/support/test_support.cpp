#include "tests/support/test_support.hpp"

#include "model/gguf_file.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace corolla::testing {
namespace {

struct temp_root {
  std::filesystem::path path;
  temp_root() {
    std::string pattern = (std::filesystem::temp_directory_path() / "corolla-test-XXXXXX").string();
    path = mkdtemp(pattern.data()) ? std::filesystem::path(pattern)
                                   : std::filesystem::temp_directory_path();
  }
  ~temp_root() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

std::string shared_path(const std::string& relative) {
  return std::string(COROLLA_SHARED_DIR) + "/" + relative;
}

bool shared_exists(const std::string& relative) {
  return std::filesystem::exists(shared_path(relative));
}

std::string temp_dir() {
  static temp_root root;
  return root.path.string();
}

std::string temp_path(const std::string& name) {
  return temp_dir() + "/" + name;
}

uint64_t test_seed(uint64_t fallback) {
  if (const char* s = std::getenv("COROLLA_SEED")) return std::strtoull(s, nullptr, 10);
  return fallback;
}

std::vector<float> uniform_floats(std::mt19937_64& rng, size_t n, float lo, float hi) {
  std::vector<float> values(n);
  for (float& v : values) v = lo + (hi - lo) * float(rng() >> 40) * 0x1p-24f;
  return values;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

command_result run_command(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string app_path(const std::string& name) {
  return std::string(COROLLA_BINARY_DIR) + "/apps/" + name;
}

std::string rewrite_gguf(const std::string& source, const std::string& name,
                         const std::function<void(gguf_writer&)>& edit) {
  auto file = gguf_file::open(source);
  EXPECT_TRUE(file.ok()) << source;
  gguf_writer out;
  if (!file.ok()) return "";
  for (const auto& [key, value] : file->metadata()) out.set(key, value);
  edit(out);
  for (const gguf_tensor& t : file->tensors()) {
    EXPECT_TRUE(out.add_tensor_bytes(t.name, t.shape, ggml_type(t.type), t.data, t.bytes).ok());
  }
  const std::string path = temp_path(name);
  EXPECT_TRUE(out.write_file(path).ok());
  return path;
}

llama_model load_model(const std::string& path, precision kind) {
  model_options options;
  options.kind = kind;
  auto m = llama_model::load(path, options);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  return std::move(*m);
}

std::string param_name(std::string param) {
  for (char& ch : param) ch = ch == '-' ? '_' : ch;
  return param;
}

}  // namespace corolla::testing
