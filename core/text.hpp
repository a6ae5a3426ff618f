// The one text module: byte-exact helpers shared by the client and peer protocols, the herd
// file and the scenario parser. The six white-space bytes of the client protocol, fields and
// source lines, comments, unsigned decimals (whole and fixed-point), and locale-free
// formatting. Every grammar's parser in herd (client and peer lines, herd files, scenarios,
// numeric flags) splits and reads numbers through these. Tools that make or edit scenarios
// (the sweep) edit typed documents (sim/scenario_doc.hpp), never text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
// The inverse, after a JSON reader: it turns each \u00XX into that code point's UTF-8, and this
// turns every such two-byte sequence (U+0080-U+00FF) back into the one byte it stood for.
std::string bytes_of_json_string(std::string_view utf8);

// Splits on runs of white space, ignoring leading and trailing white space. Fills at most
// `fields_max` views and returns how many fields the line has, counting no further than
// fields_max + 1 (enough to tell "too many"): the rest of a long line is not scanned.
std::size_t split_fields(std::string_view line, std::string_view* fields, std::size_t fields_max);

// Every field of `line` (runs of non-white-space), in order.
std::vector<std::string_view> fields_of(std::string_view line);

// Takes the first field off the front of `rest` (skipping white space before it) and returns it;
// `rest` keeps what follows the field, its white space included. Empty when none is left.
std::string_view take_field(std::string_view& rest);

// `s` without white space at its start / end / both.
std::string_view trim_start(std::string_view s);
std::string_view trim_end(std::string_view s);
inline std::string_view trim(std::string_view s) {
    return trim_end(trim_start(s));
}

// `s` up to its first '#' (herd files and scenarios).
std::string_view strip_comment(std::string_view s);

// One line of a source file, numbered from 1, without its "\n" or "\r\n".
struct SourceLine {
    int number;
    std::string_view text;
};
std::vector<SourceLine> source_lines(std::string_view text);

// An unsigned decimal `digits[.digits]` (no sign, no exponent), split at its point.
struct Decimal {
    std::string_view whole;     // at least one digit
    std::string_view fraction;  // empty when there is no point; never empty after a point
    bool has_point = false;
};
std::optional<Decimal> split_decimal(std::string_view text);

// `digits` as a whole number no greater than `max` (leading zeros allowed); nothing when it is
// empty, not all digits, or larger.
std::optional<std::uint64_t> parse_whole(std::string_view digits, std::uint64_t max);

// The first `places` digits of a fraction as an integer, padded with zeros (".5" at 3 places
// is 500); the digits beyond are ignored. `fraction` must be all digits; places <= 18.
std::uint64_t fraction_scaled(std::string_view fraction, int places);

// True if every digit of `fraction` beyond the first `places` is 0.
bool fraction_exact(std::string_view fraction, int places);

}  // namespace herd
