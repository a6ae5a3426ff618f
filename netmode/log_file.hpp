// LogFile: the file under a log (the text Log of record traces, and the server's EventLog): it
// opens and reopens its path, rotates it, and reports trouble. Not thread-safe: its owner
// writes from one thread at a time.
//
// Trouble (each reported, none fatal): a write, open or rotation that fails (a full disk, a
// folder gone) is reported once on stderr, and the file is retried at every later write; when
// writing works again that is reported too, with the number of lines lost meanwhile (the owner
// counts them). Rotation: FILE.1 .. FILE.<keep> hold the older files (the oldest is dropped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace herd::net {

class LogFile {
  public:
    LogFile(std::string path, std::size_t keep) : path_(std::move(path)), keep_(keep) {}
    ~LogFile() { close(); }
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;

    // The first open: the reason if the path cannot be opened.
    std::optional<Error> open();
    // Opens the path again if it is closed; false (reported) if it cannot be.
    bool ensure_open();
    // FILE -> FILE.1 -> ... -> FILE.keep, then a new FILE; false (reported) on failure, after
    // which writing goes on in the current file if it is still open.
    bool rotate();
    // Writes all of `bytes`; false (reported) if it could not. A write cut short is cut back
    // off the file where it can be, so that what follows starts where an entry ends.
    bool write(std::string_view bytes);
    // True once when the file became shorter than what was written to it (an outside tool
    // truncated it: logrotate's copytruncate); its size is taken as it is now.
    bool shrunk();
    void close();

    bool is_open() const { return fd_ >= 0; }
    std::size_t bytes() const { return bytes_; }  // in the current file
    const std::string& path() const { return path_; }
    std::uint64_t failures() const { return failures_; }
    // After a write that worked: if writing had failed before, reports that it works again.
    void report_recovery(std::uint64_t lines_lost_total);

  private:
    void trouble(const std::string& what);

    std::string path_;
    std::size_t keep_;
    int fd_ = -1;
    std::size_t bytes_ = 0;
    bool failing_ = false;
    std::uint64_t lost_at_failure_ = 0;
    std::uint64_t lines_lost_seen_ = 0;
    std::uint64_t failures_ = 0;
};

}  // namespace herd::net
