#include "netmode/files.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace herd::net {

std::string read_bounded(std::istream& in, std::size_t bytes_max) {
    std::string out;
    char chunk[65536];
    while (out.size() < bytes_max && in) {
        in.read(chunk,
                static_cast<std::streamsize>(std::min(sizeof chunk, bytes_max - out.size())));
        out.append(chunk, static_cast<std::size_t>(in.gcount()));
    }
    return out;
}

Result<std::string> read_text_file(const std::string& path, std::size_t bytes_max) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return Error{path + " is a directory"};
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"cannot read " + path + ": " + std::strerror(errno)};
    return read_bounded(in, bytes_max);
}

std::optional<Error> write_text_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return Error{"cannot write " + path + ": " + std::strerror(errno)};
    out << text;
    out.close();
    if (!out) return Error{"cannot write " + path + ": " + std::strerror(errno)};
    return std::nullopt;
}

Result<HerdSpec> load_herd_file(const std::string& path) {
    auto text = read_text_file(path);
    if (auto* e = error_of(text)) return *e;
    return parse_herd_file(std::get<std::string>(text), path);
}

std::string self_executable() {
    char path[4096];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return "herd";
    path[n] = '\0';
    return path;
}

std::string trimmed_file(const std::string& text) {
    std::string out = text;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' '))
        out.pop_back();
    return out;
}

}  // namespace herd::net
