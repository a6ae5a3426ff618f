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

std::optional<Error> Log::make_folder(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error{"cannot create " + path + ": " + ec.message()};
    return std::nullopt;
}

Log::Log(std::string path, LogOptions options) : path_(std::move(path)), options_(options) {}

Log::~Log() {
    if (thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    close_file();
}

std::optional<Error> Log::open() {
    HERD_ASSERT(!started_);
    if (path_.empty()) return std::nullopt;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return Error{"cannot open " + path_ + ": " + std::strerror(errno)};
    struct stat st {};
    if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<std::size_t>(st.st_size);
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

void Log::write_lines(std::string_view prefix, std::string_view bytes, std::string_view skip) {
    if (!started_) return;
    // One timestamp and one lock for all the lines of a chunk.
    std::string stamp;
    if (options_.timestamped) append_utc_now(stamp);
    std::string text;
    text.reserve(bytes.size() + 64);
    std::size_t start = 0;
    std::size_t lines = 0;
    while (start < bytes.size()) {
        std::size_t end = bytes.find('\n', start);
        if (end == std::string_view::npos) end = bytes.size();
        const std::string_view line = bytes.substr(start, end - start);
        start = end + 1;
        if (!skip.empty() && line == skip) continue;
        text += stamp;
        text += prefix;
        // A very long line is logged by its first 4 KiB and its length.
        constexpr std::size_t logged_bytes_max = 4096;
        append_escaped(text, line.substr(0, logged_bytes_max));
        if (line.size() > logged_bytes_max)
            text += "... (" + std::to_string(line.size()) + " bytes)";
        text += '\n';
        lines += 1;
    }
    if (lines > 0) append(text, lines);
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

void Log::close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Log::trouble(const std::string& what) {
    write_failures_ += 1;
    if (failing_) return;
    failing_ = true;
    lost_at_failure_ = lines_lost_;
    std::fprintf(stderr,
                 "herd: log %s: %s (reported once; lines are lost until writing works again)\n",
                 path_.c_str(), what.c_str());
}

bool Log::ensure_open() {
    if (fd_ >= 0) return true;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        trouble(std::string("cannot open: ") + std::strerror(errno));
        return false;
    }
    struct stat st {};
    file_bytes_ = ::fstat(fd_, &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
    return true;
}

bool Log::rotate() {
    // FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1: a missing older file is no error.
    for (std::size_t k = options_.keep; k >= 2; --k) {
        const std::string from = path_ + "." + std::to_string(k - 1);
        const std::string to = path_ + "." + std::to_string(k);
        if (std::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
            trouble("cannot rotate " + from + ": " + std::strerror(errno));
            return false;
        }
    }
    const int status = options_.keep == 0 ? ::unlink(path_.c_str())
                                          : std::rename(path_.c_str(), (path_ + ".1").c_str());
    if (status != 0 && errno != ENOENT) {
        // Go on writing to the current file (past its cap) and try again at the next write.
        trouble("cannot rotate: " + std::string(std::strerror(errno)));
        return false;
    }
    close_file();
    file_bytes_ = 0;
    return ensure_open();
}

// The part of `rest` that goes into the current file: whole lines up to the size cap (a file
// never passes it, except by one line longer than the cap, which gets a file of its own).
std::size_t Log::fitting_bytes(std::string_view rest) const {
    if (options_.bytes_max == 0) return rest.size();
    const std::size_t room =
        options_.bytes_max > file_bytes_ ? options_.bytes_max - file_bytes_ : 0;
    if (rest.size() <= room) return rest.size();
    const std::size_t cut = room == 0 ? std::string_view::npos : rest.rfind('\n', room - 1);
    if (cut != std::string_view::npos) return cut + 1;
    if (file_bytes_ > 0) return 0;  // rotate first
    const std::size_t end = rest.find('\n');
    return end == std::string_view::npos ? rest.size() : end + 1;
}

bool Log::write_fd(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            trouble(std::string("cannot write: ") + std::strerror(n < 0 ? errno : ENOSPC));
            file_bytes_ += done;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    file_bytes_ += done;
    return true;
}

void Log::write_out(const std::string& chunk, std::size_t lines) {
    std::lock_guard<std::mutex> io(io_mutex_);
    if (reopen_requested_.exchange(false)) close_file();
    std::string_view rest = chunk;
    while (!rest.empty()) {
        if (!ensure_open()) break;
        std::size_t part = fitting_bytes(rest);
        if (part == 0) {
            // A rotation that fails goes on in the current file, past its cap, and is tried again
            // at the next write.
            if (!rotate() && fd_ < 0) break;
            part = fitting_bytes(rest);
            if (part == 0) part = rest.size();
        }
        if (!write_fd(rest.substr(0, part))) break;
        rest.remove_prefix(part);
    }
    if (!rest.empty()) {
        // What was not written is lost (a line cut short counts with the rest).
        const auto unwritten = static_cast<std::size_t>(std::count(rest.begin(), rest.end(), '\n'));
        lines_lost_ += std::min(lines, std::max<std::size_t>(unwritten, 1));
        return;
    }
    if (failing_ && !chunk.empty()) {
        failing_ = false;
        std::fprintf(stderr, "herd: log %s: writing again (%llu lines lost meanwhile)\n",
                     path_.c_str(),
                     static_cast<unsigned long long>(lines_lost_ - lost_at_failure_));
    }
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
