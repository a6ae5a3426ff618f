#include "netmode/files.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace herd::net {

bool read_text_file(const std::string& path, std::string* text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream s;
    s << in.rdbuf();
    *text = s.str();
    return true;
}

std::variant<HerdSpec, std::string> load_herd_file(const std::string& path) {
    std::string text;
    if (!read_text_file(path, &text)) return "cannot read " + path;
    auto parsed = parse_herd_file(text, path);
    if (auto* e = std::get_if<ParseError>(&parsed)) return e->message;
    return std::get<HerdSpec>(std::move(parsed));
}

std::string self_executable() {
    char path[4096];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return "herd";
    path[n] = '\0';
    return path;
}

}  // namespace herd::net
