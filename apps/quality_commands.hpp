// The tools for checking a model's quality, as llama.cpp users have them:
//   corolla score --model FILE --tokens "ID ID ..." [--f32] --logits OUT [--against FILE]
//     teacher-forced logits of the sequence: row i = the logits after tokens[0..i]
//     (little-endian f32, n_tokens x n_vocab); --against compares the last rows with a
//     file of the same layout (../shared/golden's .logits.f32) and prints the largest
//     difference and the top-1 agreement.
//   corolla perplexity --model FILE --file TEXT [--context N] [--f32]
//     llama-perplexity's measure: the text in chunks of N tokens (BOS first), each
//     scored on its second half; prints each chunk's running estimate and the final
//     PPL with its standard error.
// Both run the single-process path (llama_model + local_blocks). Return the exit code.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_score(const std::vector<std::string>& args, std::ostream& out);
int run_perplexity(const std::vector<std::string>& args, std::ostream& out);

}  // namespace corolla
