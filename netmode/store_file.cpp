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

StoreFile::StoreFile(std::string dir, Sync sync)
    : dir_(std::move(dir)), path_(dir_ + "/records.log"), sync_(sync) {}

StoreFile::~StoreFile() {
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
    Loaded loaded;
    std::uint64_t good_bytes = 0;
    {
        // Entries up to the first one that is torn (no newline) or corrupt (checksum), read a
        // line at a time so a large log is never held whole.
        std::ifstream in(path_, std::ios::binary);
        std::string text;
        while (std::getline(in, text)) {
            if (in.eof()) break;  // the last line had no newline: torn
            const auto line = line_of(text);
            if (!line) break;
            loaded.lines.emplace_back(*line);
            good_bytes += text.size() + 1;
        }
        in.clear();
        in.seekg(0, std::ios::end);
        const auto size = in.tellg();
        loaded.bytes_cut = size > 0 ? static_cast<std::uint64_t>(size) - good_bytes : 0;
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Error{"cannot open " + path_ + ": " + std::strerror(errno)};
    // Later entries follow the last good one.
    if (::ftruncate(fd_, static_cast<off_t>(good_bytes)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(good_bytes), SEEK_SET) < 0)
        return Error{"cannot cut the torn tail of " + path_ + ": " + std::strerror(errno)};
    if (sync_ != Sync::always) thread_ = std::thread([this] { run(); });
    return loaded;
}

void StoreFile::append(std::string_view at_line) {
    HERD_ASSERT(fd_ >= 0);
    std::string e = entry(at_line);
    std::lock_guard<std::mutex> lock(mutex_);
    buffer_ += e;
    buffer_entries_ += 1;
}

void StoreFile::flush() {
    std::string chunk;
    std::size_t entries = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        chunk.swap(buffer_);
        std::swap(entries, buffer_entries_);
    }
    write_out(chunk, entries);
}

void StoreFile::write_out(const std::string& chunk, std::size_t entries) {
    if (chunk.empty()) return;
    std::lock_guard<std::mutex> io(io_mutex_);
    std::size_t done = 0;
    while (done < chunk.size()) {
        const ssize_t n = ::write(fd_, chunk.data() + done, chunk.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    const bool synced = done == chunk.size() && (sync_ == Sync::off || ::fdatasync(fd_) == 0);
    if (!synced) {
        write_failures_ += 1;
        if (!failing_)
            std::fprintf(stderr, "herd: data %s: cannot write: %s (reported once)\n", path_.c_str(),
                         std::strerror(errno));
        failing_ = true;
        return;
    }
    if (failing_) std::fprintf(stderr, "herd: data %s: writing again\n", path_.c_str());
    failing_ = false;
    entries_written_ += entries;
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
        write_out(chunk, entries);
        if (stop) return;
        lock.lock();
    }
}

}  // namespace herd::net
