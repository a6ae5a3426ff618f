// Glob: the pattern of `expect reply S "GLOB"` (design §6). `*` matches any run of bytes and
// `?` exactly one byte (both include newlines); `\n`, `\"`, `\\`, `\*`, `\?` are escapes; nothing
// else is special.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herd::sim {

class Glob {
  public:
    // `text` is what stands between the quotes, escapes still in it.
    static std::optional<Glob> compile(std::string_view text);
    bool matches(std::string_view subject) const;
    const std::string& source() const { return source_; }

  private:
    enum class Op : char { literal, any_run, any_one };
    struct Token {
        Op op;
        char byte;
    };
    std::vector<Token> tokens_;
    std::string source_;
};

}  // namespace herd::sim
