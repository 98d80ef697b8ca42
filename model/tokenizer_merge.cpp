// The pairwise merge loops of both tokenizer models (llama.cpp's llm_tokenizer_spm
// and llm_tokenizer_bpe): start from one symbol per UTF-8 character, repeatedly
// merge the adjacent pair with the best priority (ties: leftmost), re-scoring the
// new symbol's neighbours, until no adjacent pair forms a known token or merge.
#include <optional>
#include <queue>

#include "model/tokenizer.hpp"
#include "model/unicode.hpp"

namespace corolla {
namespace {

struct symbol {
  size_t start = 0;
  size_t length = 0;  // 0 once merged into its left neighbour
  int prev = -1;
  int next = -1;
};

struct candidate {
  int left, right;
  double priority;  // higher merges first
  size_t length;    // bytes of the merged text, to detect stale candidates
};

struct lower_priority {
  bool operator()(const candidate& a, const candidate& b) const {
    return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
  }
};

// Merges the characters of `text`. priority_of(merged, left, right) returns the
// priority of merging, or nullopt when the pair may not merge. Returns every symbol, merged-away
// ones with length 0; the survivors form the linked list from index 0 (see for_each_final).
template <class PriorityOf>
std::vector<symbol> merge_symbols(std::string_view text, PriorityOf priority_of) {
  std::vector<symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    symbol s;
    s.start = offset;
    s.length = std::min(utf8_sequence_length(uint8_t(text[offset])), text.size() - offset);
    offset += s.length;
    s.prev = int(symbols.size()) - 1;
    s.next = offset == text.size() ? -1 : int(symbols.size()) + 1;
    symbols.push_back(s);
  }

  std::priority_queue<candidate, std::vector<candidate>, lower_priority> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const symbol& l = symbols[size_t(left)];
    const symbol& r = symbols[size_t(right)];
    const std::string_view merged = text.substr(l.start, l.length + r.length);
    const std::optional<double> p =
        priority_of(merged, text.substr(l.start, l.length), text.substr(r.start, r.length));
    if (!p) return;
    queue.push({left, right, *p, merged.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_pair(int(i) - 1, int(i));

  while (!queue.empty()) {
    const candidate c = queue.top();
    queue.pop();
    symbol& l = symbols[size_t(c.left)];
    symbol& r = symbols[size_t(c.right)];
    if (l.length == 0 || r.length == 0 || l.length + r.length != c.length) continue;
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[size_t(r.next)].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }

  return symbols;
}

// Calls fn(symbol) for the symbols left after merging, left to right.
template <class Fn>
void for_each_final(const std::vector<symbol>& symbols, Fn fn) {
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[size_t(i)].next) {
    fn(symbols[size_t(i)]);
  }
}

}  // namespace

void tokenizer::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
  const std::vector<symbol> symbols = merge_symbols(
      text,
      [&](std::string_view merged, std::string_view, std::string_view) -> std::optional<double> {
        const int32_t id = find(merged);
        if (id < 0) return std::nullopt;
        return double(vocab_.scores[size_t(id)]);
      });
  // Merges only ever form tokens, so a surviving symbol is a token or a single
  // character without one; the latter falls back to byte tokens. (llama.cpp's
  // resegment() also follows recorded merges, a path a merge-only-into-tokens
  // loop can not reach.)
  for_each_final(symbols, [&](const symbol& s) {
    const std::string_view piece = text.substr(s.start, s.length);
    if (const int32_t id = find(piece); id >= 0) {
      out.push_back(id);
      return;
    }
    for (char c : piece) out.push_back(byte_token(uint8_t(c)));
  });
}

void tokenizer::encode_bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {  // Llama 3 sets ignore_merges: a word that is a token stays whole
    if (const int32_t id = find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::string key;
  const std::vector<symbol> symbols =
      merge_symbols(word,
                    [&](std::string_view, std::string_view left,
                        std::string_view right) -> std::optional<double> {
                      key.assign(left);
                      key += ' ';
                      key += right;
                      const auto it = merge_ranks_.find(key);
                      if (it == merge_ranks_.end()) return std::nullopt;
                      return -double(it->second);
                    });
  for_each_final(symbols, [&](const symbol& s) {
    const std::string_view piece = std::string_view(word).substr(s.start, s.length);
    if (const int32_t id = find(piece); id >= 0) {
      out.push_back(id);
      return;
    }
    for (char c : piece) {
      if (const int32_t id = find(std::string(1, c)); id >= 0) out.push_back(id);
    }
  });
}

}  // namespace corolla
