#include "netmode/store_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/peer_protocol.hpp"

namespace herd::net {

std::string StoreFile::entry(std::string_view at_line) {
    std::string out = hex64(fnv1a64(at_line));
    out += ' ';
    out += at_line;
    out += '\n';
    return out;
}

std::optional<std::string_view> StoreFile::line_of(std::string_view e) {
    if (e.size() < 18 || e[16] != ' ') return std::nullopt;
    const std::string_view line = e.substr(17);
    if (hex64(fnv1a64(line)) != e.substr(0, 16)) return std::nullopt;
    return line;
}

namespace {

// Reads the entries of `path` into `lines` up to the first torn (no newline) or corrupt one, a
// line at a time so a large file is never held whole. The bytes of good entries, and of the file.
struct Read {
    std::uint64_t good = 0;
    std::uint64_t size = 0;
};

Read read_entries(const std::string& path, std::vector<std::string>& lines) {
    Read r;
    std::ifstream in(path, std::ios::binary);
    if (!in) return r;
    std::string text;
    while (std::getline(in, text)) {
        if (in.eof()) break;  // the last line had no newline: torn
        const auto line = StoreFile::line_of(text);
        if (!line) break;
        lines.emplace_back(*line);
        r.good += text.size() + 1;
    }
    in.clear();
    in.seekg(0, std::ios::end);
    const auto size = in.tellg();
    r.size = size > 0 ? static_cast<std::uint64_t>(size) : 0;
    return r;
}

bool sync_folder(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// Writes all of `bytes` unless a write fails; how many were written.
std::size_t write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

bool write_synced(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    const bool ok = write_all(fd, bytes) == bytes.size() && ::fdatasync(fd) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

StoreFile::StoreFile(std::string dir, Options options)
    : dir_(std::move(dir)), path_(dir_ + "/records.log"), options_(options) {}

StoreFile::~StoreFile() {
    if (compactor_.joinable()) compactor_.join();
    if (thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    if (fd_ >= 0) {
        flush();  // what is still buffered (always: whatever the driver did not commit yet)
        ::close(fd_);
    }
}

Result<StoreFile::Loaded> StoreFile::open() {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Error{"cannot create " + dir_ + ": " + ec.message()};
    std::filesystem::remove(dir_ + "/snapshot.tmp", ec);  // a compaction cut short
    Loaded loaded;
    snapshot_bytes_ = read_entries(dir_ + "/snapshot", loaded.lines).size;
    loaded.from_snapshot = loaded.lines.size();
    old_log_ = std::filesystem::exists(dir_ + "/records.old", ec);
    read_entries(dir_ + "/records.old", loaded.lines);
    const Read log = read_entries(path_, loaded.lines);
    loaded.bytes_cut = log.size - log.good;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Error{"cannot open " + path_ + ": " + std::strerror(errno)};
    // Later entries follow the last good one.
    if (::ftruncate(fd_, static_cast<off_t>(log.good)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(log.good), SEEK_SET) < 0)
        return Error{"cannot cut the torn tail of " + path_ + ": " + std::strerror(errno)};
    log_bytes_ = log.good;
    if (options_.sync != Sync::always) thread_ = std::thread([this] { run(); });
    return loaded;
}

void StoreFile::append_entry(std::string& out, std::string_view at_line) {
    out += hex64(fnv1a64(at_line));
    out += ' ';
    out += at_line;
    out += '\n';
}

void StoreFile::append(std::string_view at_line) {
    HERD_ASSERT(fd_ >= 0);
    std::lock_guard<std::mutex> lock(mutex_);
    append_entry(buffer_, at_line);
    buffer_entries_ += 1;
}

bool StoreFile::flush() {
    std::string chunk;
    std::size_t entries = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        chunk.swap(buffer_);
        std::swap(entries, buffer_entries_);
    }
    write_out(std::move(chunk), entries);
    std::lock_guard<std::mutex> io(io_mutex_);
    return retry_.empty() && !dropped_;
}

void StoreFile::write_out(std::string chunk, std::size_t entries) {
    std::lock_guard<std::mutex> io(io_mutex_);
    if (!retry_.empty()) {
        chunk.insert(0, retry_);
        entries += retry_entries_;
        retry_.clear();
        retry_entries_ = 0;
    }
    if (chunk.empty()) return;
    const std::size_t done = write_all(fd_, chunk);
    const bool synced =
        done == chunk.size() && (options_.sync == Sync::off || ::fdatasync(fd_) == 0);
    if (!synced) {
        write_failed(std::move(chunk), entries, done);
        return;
    }
    log_bytes_ += done;
    if (failing_) report("writing again", false);
    failing_ = false;
    entries_written_ += entries;
}

// Under io_mutex_: the log is cut back to its last whole entry, and the entries are kept for
// the next write, or dropped past the retry bound (a snapshot then brings them back).
void StoreFile::write_failed(std::string chunk, std::size_t entries, std::size_t written) {
    const int error = errno;
    write_failures_ += 1;
    if (!failing_) report(std::strerror(error), true);
    failing_ = true;
    if (written > 0) {
        const auto end = static_cast<off_t>(log_bytes_.load());
        if (::ftruncate(fd_, end) != 0 || ::lseek(fd_, end, SEEK_SET) < 0)
            report("cannot cut back a failed write", true);
    }
    if (chunk.size() <= options_.retry_bytes_max) {
        retry_ = std::move(chunk);
        retry_entries_ = entries;
        return;
    }
    entries_dropped_ += entries;
    dropped_ = true;
}

void StoreFile::report(const char* what, bool failed) {
    std::fprintf(stderr, "herd: data %s: %s%s\n", dir_.c_str(), failed ? "cannot write: " : "",
                 what);
}

void StoreFile::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait_for(lock, batch_window);
        std::string chunk;
        chunk.swap(buffer_);
        std::size_t entries = 0;
        std::swap(entries, buffer_entries_);
        const bool stop = stopping_;
        lock.unlock();
        write_out(std::move(chunk), entries);
        if (stop) return;
        lock.lock();
    }
}

bool StoreFile::wants_snapshot() const {
    if (compacting_) return false;
    if (std::chrono::steady_clock::now().time_since_epoch().count() < retry_at_) return false;
    const std::uint64_t log = log_bytes_;
    return old_log_ || dropped_ || (log >= options_.compact_bytes && log >= snapshot_bytes_);
}

// Under io_mutex_: the log so far becomes records.old and a new one begins (unless a set-aside
// log is still waiting for its snapshot: then the log stays, and the snapshot covers both).
bool StoreFile::set_log_aside() {
    if (old_log_) return true;
    const std::string old = dir_ + "/records.old";
    if (::rename(path_.c_str(), old.c_str()) != 0) return false;
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ::rename(old.c_str(), path_.c_str());
        return false;
    }
    ::close(fd_);
    fd_ = fd;
    log_bytes_ = 0;
    old_log_ = true;
    sync_folder(dir_);
    return true;
}

void StoreFile::snapshot(std::string entries) {
    HERD_ASSERT(!compacting_);
    if (compactor_.joinable()) compactor_.join();
    {
        std::lock_guard<std::mutex> io(io_mutex_);
        if (!set_log_aside()) {
            report("cannot set the log aside for a snapshot", true);
            retry_at_ =
                (std::chrono::steady_clock::now() + snapshot_retry).time_since_epoch().count();
            return;
        }
    }
    // Entries dropped until now are in `entries`; dropped later, they wait for the next one.
    const std::uint64_t dropped_before = entries_dropped_;
    compacting_ = true;
    compactor_ = std::thread([this, dropped_before, entries = std::move(entries)] {
        const std::string temporary = dir_ + "/snapshot.tmp";
        const bool ok = write_synced(temporary, entries) &&
                        ::rename(temporary.c_str(), (dir_ + "/snapshot").c_str()) == 0 &&
                        sync_folder(dir_);
        if (ok) {
            ::unlink((dir_ + "/records.old").c_str());
            sync_folder(dir_);
            old_log_ = false;
            if (entries_dropped_ == dropped_before) dropped_ = false;
            snapshot_bytes_ = entries.size();
            snapshots_written_ += 1;
        } else {
            ::unlink(temporary.c_str());
            report("a snapshot failed; tried again in 5 s", true);
            retry_at_ =
                (std::chrono::steady_clock::now() + snapshot_retry).time_since_epoch().count();
        }
        compacting_ = false;
    });
}

}  // namespace herd::net
