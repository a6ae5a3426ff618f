#include "sim/glob.hpp"

namespace herd::sim {

std::optional<Glob> Glob::compile(std::string_view text) {
    Glob g;
    g.source_ = std::string(text);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '*') {
            g.tokens_.push_back({Op::any_run, 0});
        } else if (c == '?') {
            g.tokens_.push_back({Op::any_one, 0});
        } else if (c == '\\') {
            if (i + 1 == text.size()) return std::nullopt;
            const char e = text[++i];
            switch (e) {
                case 'n':
                    g.tokens_.push_back({Op::literal, '\n'});
                    break;
                case '"':
                case '\\':
                case '*':
                case '?':
                    g.tokens_.push_back({Op::literal, e});
                    break;
                default:
                    return std::nullopt;
            }
        } else if (c == '"') {
            return std::nullopt;  // an unescaped quote cannot stand inside the pattern
        } else {
            g.tokens_.push_back({Op::literal, c});
        }
    }
    return g;
}

bool Glob::matches(std::string_view s) const {
    // Iterative wildcard matching: on a mismatch, back up to the last `*` and let it take one
    // more byte. O(|pattern| * |subject|) at worst, no recursion.
    std::size_t p = 0, i = 0;
    std::size_t star_p = std::string::npos, star_i = 0;
    while (i < s.size()) {
        if (p < tokens_.size() && (tokens_[p].op == Op::any_one ||
                                   (tokens_[p].op == Op::literal && tokens_[p].byte == s[i]))) {
            ++p;
            ++i;
        } else if (p < tokens_.size() && tokens_[p].op == Op::any_run) {
            star_p = p++;
            star_i = i;
        } else if (star_p != std::string::npos) {
            p = star_p + 1;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (p < tokens_.size() && tokens_[p].op == Op::any_run)
        ++p;
    return p == tokens_.size();
}

}  // namespace herd::sim
