// libFuzzer target for everything that reads a GGUF: the parser, the llama
// hyper-parameters and tensor checks, the tokenizer loader, and row
// dequantisation. Any crash, sanitizer report, leak or hang is a finding.
// Run by scripts/fuzz.sh, seeded with stories260K.gguf and model-maker files.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/dequantize.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"
#include "model/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace corolla;
  auto file = gguf_file::parse(data, size, "fuzz.gguf");
  if (!file) return 0;
  if (auto config = read_llama_config(*file)) (void)check_llama_tensors(*file, *config);
  if (auto tok = tokenizer::from_gguf(*file)) {
    const auto ids =
        tok->encode("Hello wörld 123 <s></s>", /*add_bos=*/true, /*parse_special=*/true);
    token_stream stream(*tok);
    for (int32_t id : ids) (void)stream.push(id);
    (void)stream.flush();
  }
  std::vector<float> row;
  for (const gguf_tensor& t : file->tensors()) {
    if (t.row_length() > (1 << 16)) continue;
    row.resize(size_t(t.row_length()));
    (void)dequantize_tensor_row(t, t.rows() - 1, row.data());
  }
  return 0;
}
