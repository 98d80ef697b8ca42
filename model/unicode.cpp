#include "model/unicode.hpp"

#include <algorithm>

namespace corolla {
namespace {

bool in_ranges(const code_point_range* ranges, size_t n, uint32_t cp) {
  const code_point_range* end = ranges + n;
  const code_point_range* it = std::upper_bound(
      ranges, end, cp, [](uint32_t c, const code_point_range& r) { return c < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

bool is_continuation(uint8_t b) {
  return (b & 0xC0) == 0x80;
}

}  // namespace

uint32_t decode_utf8(const char*& p, const char* end) {
  const auto* s = reinterpret_cast<const uint8_t*>(p);
  const size_t left = size_t(end - p);
  const uint8_t b0 = s[0];
  size_t n = 0;
  uint32_t cp = 0;
  if (b0 < 0x80) {
    ++p;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07;
  } else {
    ++p;
    return kReplacementChar;
  }
  if (left < n) {
    ++p;
    return kReplacementChar;
  }
  for (size_t i = 1; i < n; ++i) {
    if (!is_continuation(s[i])) {
      ++p;
      return kReplacementChar;
    }
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++p;
    return kReplacementChar;
  }
  p += n;
  return cp;
}

std::vector<uint32_t> to_code_points(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) out.push_back(decode_utf8(p, end));
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(unicode_tables::letters, unicode_tables::letters_size, cp);
}

bool is_number(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(unicode_tables::numbers, unicode_tables::numbers_size, cp);
}

bool is_white_space(uint32_t cp) {
  return in_ranges(unicode_tables::white_space, unicode_tables::white_space_size, cp);
}

namespace {

bool maps_to_itself(uint8_t b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
}

struct byte_level_table {
  uint32_t to_cp[256];
  byte_level_table() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) to_cp[b] = maps_to_itself(uint8_t(b)) ? uint32_t(b) : next++;
  }
};

const byte_level_table& byte_level() {
  static const byte_level_table table;
  return table;
}

}  // namespace

uint32_t byte_to_code_point(uint8_t b) {
  return byte_level().to_cp[b];
}

int code_point_to_byte(uint32_t cp) {
  if (cp < 256 && maps_to_itself(uint8_t(cp))) return int(cp);
  if (cp < 256 || cp >= 256 + 256) return -1;
  for (int b = 0; b < 256; ++b) {
    if (byte_level().to_cp[b] == cp) return b;
  }
  return -1;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, byte_to_code_point(uint8_t(c)));
  return out;
}

size_t complete_utf8_prefix(std::string_view bytes) {
  // Look back at most 3 bytes for the lead byte of an unfinished sequence.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = uint8_t(bytes[n - back]);
    if (is_continuation(b)) continue;
    size_t need = 1;
    if ((b & 0xE0) == 0xC0)
      need = 2;
    else if ((b & 0xF0) == 0xE0)
      need = 3;
    else if ((b & 0xF8) == 0xF0)
      need = 4;
    return need > back ? n - back : n;
  }
  return n;
}

}  // namespace corolla
