#include "netmode/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/assert.hpp"
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

}  // namespace

std::optional<Error> Log::make_folder(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error{"cannot create " + path + ": " + ec.message()};
    return std::nullopt;
}

Log::Log(std::string path, LogOptions options)
    : path_(std::move(path)), options_(options), file_(path_, options_.keep) {}

Log::~Log() {
    if (thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    file_.close();
}

std::optional<Error> Log::open() {
    HERD_ASSERT(!started_);
    if (path_.empty()) return std::nullopt;
    if (auto e = file_.open()) return e;
    started_ = true;
    thread_ = std::thread([this] { run(); });
    return std::nullopt;
}

void Log::write(std::string_view line) {
    if (!started_) return;
    std::string text;
    text.reserve(line.size() + 32);
    if (options_.timestamped) append_utc_now(text);
    text += line;
    text += '\n';
    append(text, 1);
}

void Log::write_lines(const std::string& lines) {
    if (!started_ || lines.empty()) return;
    HERD_ASSERT(!options_.timestamped && lines.back() == '\n');
    append(lines, static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n')));
}

void Log::append(const std::string& text, std::size_t lines) {
    if (options_.synchronous) return write_out(text, lines);
    std::lock_guard<std::mutex> lock(mutex_);
    // Bounded even if the disk stalls: past the cap, lines are dropped and counted.
    if (buffer_.size() + text.size() > options_.buffer_bytes_max) {
        lines_lost_ += lines;
        return;
    }
    buffer_ += text;
    buffer_lines_ += lines;
    HERD_ASSERT(buffer_.size() <= options_.buffer_bytes_max);
}

void Log::flush() {
    if (!started_) return;
    std::string chunk;
    std::size_t lines = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        chunk.swap(buffer_);
        std::swap(lines, buffer_lines_);
    }
    write_out(chunk, lines);
}

// The part of `rest` that goes into the current file: whole lines up to the size cap (a file
// never passes it, except by one line longer than the cap, which gets a file of its own).
std::size_t Log::fitting_bytes(std::string_view rest) const {
    if (options_.bytes_max == 0) return rest.size();
    const std::size_t file_bytes = file_.bytes();
    const std::size_t room = options_.bytes_max > file_bytes ? options_.bytes_max - file_bytes : 0;
    if (rest.size() <= room) return rest.size();
    const std::size_t cut = room == 0 ? std::string_view::npos : rest.rfind('\n', room - 1);
    if (cut != std::string_view::npos) return cut + 1;
    if (file_bytes > 0) return 0;  // rotate first
    const std::size_t end = rest.find('\n');
    return end == std::string_view::npos ? rest.size() : end + 1;
}

void Log::write_out(const std::string& chunk, std::size_t lines) {
    std::lock_guard<std::mutex> io(io_mutex_);
    if (reopen_requested_.exchange(false)) file_.close();
    std::string_view rest = chunk;
    while (!rest.empty()) {
        if (!file_.ensure_open()) break;
        std::size_t part = fitting_bytes(rest);
        if (part == 0) {
            // A rotation that fails goes on in the current file, past its cap, and is tried again
            // at the next write.
            if (!file_.rotate() && !file_.is_open()) break;
            part = fitting_bytes(rest);
            if (part == 0) part = rest.size();
        }
        if (!file_.write(rest.substr(0, part))) break;
        rest.remove_prefix(part);
    }
    write_failures_ = file_.failures();
    if (!rest.empty()) {
        // What was not written is lost (a line cut short counts with the rest).
        const auto unwritten = static_cast<std::size_t>(std::count(rest.begin(), rest.end(), '\n'));
        lines_lost_ += std::min(lines, std::max<std::size_t>(unwritten, 1));
        return;
    }
    if (!chunk.empty()) file_.report_recovery(lines_lost_);
}

void Log::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait_for(lock, std::chrono::milliseconds(100));
        std::string chunk;
        chunk.swap(buffer_);
        std::size_t lines = 0;
        std::swap(lines, buffer_lines_);
        const bool stop = stopping_;
        lock.unlock();
        write_out(chunk, lines);
        if (stop) return;
        lock.lock();
    }
}

}  // namespace herd::net
