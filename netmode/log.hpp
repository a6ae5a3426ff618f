// Log: a text file of lines (a server's record trace), written off the hot path. Callers append
// lines (timestamped here) to a buffer under a mutex; a background thread writes the buffer out
// about every 100 ms. (The server's own log of events and lines is an EventLog.)
//
// Limits and trouble (each reported, none fatal):
// - the file is rotated before it would pass `bytes_max` (cut at a line end): FILE.1 ..
//   FILE.<keep> hold the older ones (the oldest is dropped), so a log takes at most
//   (keep + 1) x bytes_max;
// - lines waiting for the disk are capped at `buffer_bytes_max`; past it they are dropped and
//   counted;
// - a write, open or rotation that fails is reported once (LogFile), the lines are counted as
//   lost, and the file is retried at every later write;
// - reopen() (SIGHUP) closes the file and opens the path again, for external log rotation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/error.hpp"
#include "netmode/log_file.hpp"

namespace herd::net {

struct LogOptions {
    std::size_t bytes_max = 64u << 20;  // rotate past this (0: never)
    std::size_t keep = 5;               // rotated files kept
    std::size_t buffer_bytes_max = 64u << 20;
    bool timestamped = true;  // prefix lines with UTC time
    // Every line written to the file at once, by the caller (a SIGKILL loses none): for the
    // record trace, which `herd replay` reads after killing servers.
    bool synchronous = false;
};

class Log {
  public:
    // An empty path: a log that writes nothing.
    explicit Log(std::string path, LogOptions options = {});
    ~Log();
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;

    // Opens the file; the reason if it cannot be (the log then stays off).
    std::optional<Error> open();
    bool enabled() const { return started_; }
    void write(std::string_view line);  // one line, no newline needed
    // Whole lines, each ending in '\n', as they are (a log without timestamps).
    void write_lines(const std::string& lines);
    void flush();
    // Closes and reopens the path (after an outside tool moved the file away).
    void reopen() { reopen_requested_ = true; }

    std::uint64_t lines_lost() const { return lines_lost_; }
    std::uint64_t write_failures() const { return write_failures_; }

    // Creates the folder (and its parents) if missing.
    static std::optional<Error> make_folder(const std::string& path);

  private:
    void run();
    void append(const std::string& text, std::size_t lines);
    void write_out(const std::string& chunk, std::size_t lines);
    std::size_t fitting_bytes(std::string_view rest) const;

    std::string path_;
    LogOptions options_;
    bool started_ = false;
    LogFile file_;  // under io_mutex_
    std::atomic<bool> reopen_requested_{false};
    std::atomic<std::uint64_t> lines_lost_{0};
    std::atomic<std::uint64_t> write_failures_{0};
    std::mutex io_mutex_;  // the file: written by the thread, or by flush()
    std::mutex mutex_;     // the buffer
    std::condition_variable wake_;
    std::string buffer_;
    std::size_t buffer_lines_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herd::net
