// UTF-8 and Unicode helpers for the tokenizers: code point decoding, the
// categories the byte-level BPE pre-tokenizers test (\p{L}, \p{N}, \s), and
// GPT-2's reversible byte <-> printable code point mapping.
//
// Invariants:
//  1. decode_utf8 never reads past `end` and always advances by at least one
//     byte; an invalid or truncated sequence decodes as U+FFFD, one byte long.
//  2. byte_to_code_point and code_point_to_byte are inverse bijections between
//     the 256 byte values and 256 code points.
// Pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corolla {

struct code_point_range {
  uint32_t first, last;  // inclusive
};

namespace unicode_tables {
extern const code_point_range letters[];
extern const size_t letters_size;
extern const code_point_range numbers[];
extern const size_t numbers_size;
extern const code_point_range white_space[];
extern const size_t white_space_size;
}  // namespace unicode_tables

constexpr uint32_t kReplacementChar = 0xFFFD;
// U+2581, SentencePiece's visible space, UTF-8 encoded.
constexpr char kSentencePieceSpace[] = "\xE2\x96\x81";

// Length of the UTF-8 sequence that starts with `lead` by its high bits (1 for
// continuation or invalid bytes), as llama.cpp's SentencePiece splitter counts.
inline size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// Decodes the code point at *p and advances p past it.
uint32_t decode_utf8(const char*& p, const char* end);
std::vector<uint32_t> to_code_points(std::string_view text);
void append_utf8(std::string& out, uint32_t cp);

bool is_letter(uint32_t cp);
bool is_number(uint32_t cp);
bool is_white_space(uint32_t cp);

// GPT-2 byte-level mapping: printable bytes map to themselves, the others to
// code points from U+0100 upwards.
uint32_t byte_to_code_point(uint8_t b);
// The byte for `cp`, or -1 when cp is not in the mapping's image.
int code_point_to_byte(uint32_t cp);
// Each byte of `bytes` as its code point, UTF-8 encoded ("Ġ" for a space).
std::string bytes_to_byte_level(std::string_view bytes);

// Splits `bytes` so that every piece but possibly the last ends on a complete
// UTF-8 sequence; returns the length of the complete prefix. Used to stream
// decoded text without emitting half a character.
size_t complete_utf8_prefix(std::string_view bytes);

}  // namespace corolla
