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

}  // namespace herd
