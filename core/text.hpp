// Small byte-exact text helpers shared by the protocol code: the six white-space bytes of the
// client protocol, digit checks and locale-free decimal formatting.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace herd {

// Space, tab, CR, LF, FF, VT: exactly the white space of design §3 (not the locale's). A table,
// since every byte of every line goes through it.
inline constexpr std::array<bool, 256> space_table = [] {
    std::array<bool, 256> t{};
    for (unsigned char c : {' ', '\t', '\r', '\n', '\f', '\v'})
        t[c] = true;
    return t;
}();
constexpr bool is_space(char c) {
    return space_table[static_cast<unsigned char>(c)];
}

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

constexpr bool all_digits(std::string_view s) {
    for (char c : s) {
        if (!is_digit(c)) return false;
    }
    return true;
}

void append_decimal(std::string& out, std::uint64_t value);

// Appends `value` as exactly `width` digits, zero-padded on the left.
void append_padded(std::string& out, std::uint64_t value, int width);

// Appends `bytes` as the inside of a JSON string. Bytes outside printable ASCII become \u00XX
// escapes (one per byte), so any line, even binary, stays one valid JSON line.
void append_json_escaped(std::string& out, std::string_view bytes);

// Splits on runs of white space, ignoring leading and trailing white space. Fills at most
// `fields_max` views and returns how many fields the line has, counting no further than
// fields_max + 1 (enough to tell "too many"): the rest of a long line is not scanned.
std::size_t split_fields(std::string_view line, std::string_view* fields, std::size_t fields_max);

}  // namespace herd
