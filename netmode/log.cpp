#include "netmode/log.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/text.hpp"

namespace herd::net {

namespace {

void append_utc_now(std::string& out) {
    // The date and time of day change once a second: format them then, and only the
    // microseconds on every call (logging every line must not cost a printf each).
    thread_local std::int64_t cached_second = -1;
    thread_local char cached[80];
    const auto now = std::chrono::system_clock::now();
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    const std::int64_t second = us / 1'000'000;
    if (second != cached_second) {
        const std::time_t t = static_cast<std::time_t>(second);
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_second = second;
    }
    out += cached;
    append_padded(out, static_cast<std::uint64_t>(us % 1'000'000), 6);
    out += "Z ";
}

void append_escaped(std::string& out, std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    // Most lines need no escaping at all: copy them whole.
    bool plain = true;
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\\' || c < 0x20 || c == 0x7f) {
            plain = false;
            break;
        }
    }
    if (plain) {
        out += bytes;
        return;
    }
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;  // UTF-8 stays readable
        }
    }
}

}  // namespace

bool Log::make_folder(const std::string& path, std::string* error) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec && error != nullptr) *error = ec.message();
    return !ec;
}

Log::Log(std::string path, std::size_t bytes_max, bool timestamped)
    : path_(std::move(path)), bytes_max_(bytes_max), timestamped_(timestamped) {
    if (path_.empty()) return;
    file_ = std::fopen(path_.c_str(), "ab");
    if (file_ == nullptr) return;
    std::fseek(file_, 0, SEEK_END);
    file_bytes_ = static_cast<std::size_t>(std::ftell(file_));
    thread_ = std::thread([this] { run(); });
}

Log::~Log() {
    if (file_ == nullptr) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    if (file_ != nullptr) std::fclose(file_);
}

void Log::write(std::string_view line) {
    if (file_ == nullptr) return;
    std::string text;
    text.reserve(line.size() + 32);
    if (timestamped_) append_utc_now(text);
    text += line;
    text += '\n';
    std::lock_guard<std::mutex> lock(mutex_);
    // Bounded even if the disk stalls: past 64 MiB waiting, lines are dropped.
    if (buffer_.size() < (64u << 20)) buffer_ += text;
}

void Log::write_lines(std::string_view prefix, std::string_view bytes) {
    if (file_ == nullptr) return;
    // One timestamp and one lock for all the lines of a chunk.
    std::string stamp;
    if (timestamped_) append_utc_now(stamp);
    std::string text;
    text.reserve(bytes.size() + 64);
    std::size_t start = 0;
    while (start < bytes.size()) {
        std::size_t end = bytes.find('\n', start);
        if (end == std::string_view::npos) end = bytes.size();
        text += stamp;
        text += prefix;
        append_escaped(text, bytes.substr(start, end - start));
        text += '\n';
        start = end + 1;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (buffer_.size() < (64u << 20)) buffer_ += text;
}

void Log::flush() {
    if (file_ == nullptr) return;
    std::string chunk;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        chunk.swap(buffer_);
    }
    write_out(chunk);
}

void Log::write_out(const std::string& chunk) {
    if (chunk.empty() || file_ == nullptr) return;
    if (bytes_max_ > 0 && file_bytes_ + chunk.size() > bytes_max_) {
        std::fclose(file_);
        std::rename(path_.c_str(), (path_ + ".1").c_str());
        file_ = std::fopen(path_.c_str(), "wb");
        file_bytes_ = 0;
        if (file_ == nullptr) return;
    }
    std::fwrite(chunk.data(), 1, chunk.size(), file_);
    std::fflush(file_);
    file_bytes_ += chunk.size();
}

void Log::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait_for(lock, std::chrono::milliseconds(100));
        std::string chunk;
        chunk.swap(buffer_);
        const bool stop = stopping_;
        lock.unlock();
        write_out(chunk);
        if (stop) return;
        lock.lock();
    }
}

}  // namespace herd::net
