#include "netmode/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace herd::net {

namespace {

int open_append(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

std::size_t size_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

}  // namespace

std::optional<Error> LogFile::open() {
    fd_ = open_append(path_);
    if (fd_ < 0) return Error{"cannot open " + path_ + ": " + std::strerror(errno)};
    bytes_ = size_of(fd_);
    return std::nullopt;
}

void LogFile::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void LogFile::trouble(const std::string& what) {
    failures_ += 1;
    if (failing_) return;
    failing_ = true;
    lost_at_failure_ = lines_lost_seen_;
    std::fprintf(stderr,
                 "herd: log %s: %s (reported once; lines are lost until writing works again)\n",
                 path_.c_str(), what.c_str());
}

void LogFile::report_recovery(std::uint64_t lines_lost_total) {
    lines_lost_seen_ = lines_lost_total;
    if (!failing_) return;
    failing_ = false;
    std::fprintf(stderr, "herd: log %s: writing again (%llu lines lost meanwhile)\n", path_.c_str(),
                 static_cast<unsigned long long>(lines_lost_total - lost_at_failure_));
}

bool LogFile::ensure_open() {
    if (fd_ >= 0) return true;
    fd_ = open_append(path_);
    if (fd_ < 0) {
        trouble(std::string("cannot open: ") + std::strerror(errno));
        return false;
    }
    bytes_ = size_of(fd_);
    return true;
}

bool LogFile::rotate() {
    // FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1: a missing older file is no error.
    for (std::size_t k = keep_; k >= 2; --k) {
        const std::string from = path_ + "." + std::to_string(k - 1);
        const std::string to = path_ + "." + std::to_string(k);
        if (std::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
            trouble("cannot rotate " + from + ": " + std::strerror(errno));
            return false;
        }
    }
    const int status =
        keep_ == 0 ? ::unlink(path_.c_str()) : std::rename(path_.c_str(), (path_ + ".1").c_str());
    if (status != 0 && errno != ENOENT) {
        // Go on writing to the current file (past its cap) and try again at the next write.
        trouble("cannot rotate: " + std::string(std::strerror(errno)));
        return false;
    }
    close();
    bytes_ = 0;
    return ensure_open();
}

bool LogFile::shrunk() {
    if (fd_ < 0) return false;
    const std::size_t now = size_of(fd_);
    if (now >= bytes_) return false;
    bytes_ = now;
    return true;
}

bool LogFile::write(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            trouble(std::string("cannot write: ") + std::strerror(n < 0 ? errno : ENOSPC));
            if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) bytes_ += done;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    bytes_ += done;
    return true;
}

}  // namespace herd::net
