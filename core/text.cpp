#include "core/text.hpp"

namespace herd {

void append_decimal(std::string& out, std::uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0)
        out.push_back(digits[--n]);
}

void append_padded(std::string& out, std::uint64_t value, int width) {
    char digits[20];
    for (int i = width - 1; i >= 0; --i) {
        digits[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    out.append(digits, static_cast<std::size_t>(width));
}

void append_json_escaped(std::string& out, std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
}

std::string bytes_of_json_string(std::string_view utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (std::size_t i = 0; i < utf8.size(); ++i) {
        const auto c = static_cast<unsigned char>(utf8[i]);
        if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size()) {
            const auto next = static_cast<unsigned char>(utf8[++i]);
            out += static_cast<char>(((c & 0x03) << 6) | (next & 0x3F));
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::size_t split_fields(std::string_view line, std::string_view* fields, std::size_t fields_max) {
    std::size_t count = 0;
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (i < n) {
        while (i < n && is_space(line[i]))
            ++i;
        if (i == n) break;
        const std::size_t start = i;
        while (i < n && !is_space(line[i]))
            ++i;
        if (count < fields_max) fields[count] = line.substr(start, i - start);
        if (++count > fields_max) break;
    }
    return count;
}

std::vector<std::string_view> fields_of(std::string_view line) {
    std::vector<std::string_view> out;
    for (std::string_view f = take_field(line); !f.empty(); f = take_field(line))
        out.push_back(f);
    return out;
}

std::string_view take_field(std::string_view& rest) {
    std::size_t i = 0;
    while (i < rest.size() && is_space(rest[i]))
        ++i;
    std::size_t j = i;
    while (j < rest.size() && !is_space(rest[j]))
        ++j;
    const std::string_view field = rest.substr(i, j - i);
    rest.remove_prefix(j);
    return field;
}

std::string_view trim_start(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    return s;
}

std::string_view trim_end(std::string_view s) {
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string_view strip_comment(std::string_view s) {
    const std::size_t hash = s.find('#');
    return hash == std::string_view::npos ? s : s.substr(0, hash);
}

std::vector<SourceLine> source_lines(std::string_view text) {
    std::vector<SourceLine> out;
    int number = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.push_back(SourceLine{++number, line});
        start = end + 1;
    }
    return out;
}

std::optional<Decimal> split_decimal(std::string_view text) {
    Decimal d;
    const std::size_t dot = text.find('.');
    d.whole = text.substr(0, dot);
    d.has_point = dot != std::string_view::npos;
    if (d.has_point) d.fraction = text.substr(dot + 1);
    if (d.whole.empty() || !all_digits(d.whole)) return std::nullopt;
    if (d.has_point && (d.fraction.empty() || !all_digits(d.fraction))) return std::nullopt;
    return d;
}

std::optional<std::uint64_t> parse_whole(std::string_view digits, std::uint64_t max) {
    if (digits.empty() || !all_digits(digits)) return std::nullopt;
    // value * 10 + d > max exactly when value > max / 10, or value == max / 10 and d > max % 10:
    // two divisions per call instead of one per digit (every record's time and coordinate).
    const std::uint64_t value_max = max / 10;
    const std::uint64_t last_digit_max = max % 10;
    std::uint64_t value = 0;
    for (char c : digits) {
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (value > value_max || (value == value_max && d > last_digit_max)) return std::nullopt;
        value = value * 10 + d;
    }
    return value;
}

std::uint64_t fraction_scaled(std::string_view fraction, int places) {
    std::uint64_t value = 0;
    for (int i = 0; i < places; ++i) {
        const std::size_t at = static_cast<std::size_t>(i);
        value = value * 10 +
                (at < fraction.size() ? static_cast<std::uint64_t>(fraction[at] - '0') : 0);
    }
    return value;
}

bool fraction_exact(std::string_view fraction, int places) {
    const std::size_t from = static_cast<std::size_t>(places);
    return fraction.size() <= from ||
           fraction.find_first_not_of('0', from) == std::string_view::npos;
}

}  // namespace herd
