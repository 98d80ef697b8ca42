// `corolla generate --model FILE --prompt TEXT [...]`: single-process generation on
// the library path the actors reuse (llama_model + local_blocks + generator). Streams
// the text to `out` and ends with a stats line on stderr, or with --json prints one
// object (prompt and generated ids, text, stats) for scripts. Returns the exit code.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_generate(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
