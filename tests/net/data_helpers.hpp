// Helpers of the data-folder tests: opening a StoreFile into a list or a real Node, a folder's
// bytes, and a file layer that fails on demand.
#pragma once

#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "netmode/data_format.hpp"
#include "netmode/data_fs.hpp"
#include "netmode/store_file.hpp"

namespace herd::test {

inline net::StoreFile::Options data_options(net::StoreFile::Sync sync, net::DataFs* fs = nullptr) {
    net::StoreFile::Options o;
    o.sync = sync;
    o.server = "A";
    o.herd = "A";
    o.fs = fs;
    return o;
}

struct Opened {
    std::optional<Error> error;
    net::StoreFile::Opened opened;
    std::vector<std::string> lines;  // what was restored, in order
};

// Opens `f`, collecting every restored line; lines that are no AT line are refused like the
// server refuses them.
inline Opened open_store(net::StoreFile& f) {
    Opened out;
    auto r = f.open([&out](std::string_view line) -> std::optional<std::string> {
        if (!AtLineView::parse(line)) return std::string("not an AT line");
        out.lines.emplace_back(line);
        return std::nullopt;
    });
    if (const Error* e = error_of(r)) {
        out.error = *e;
    } else {
        out.opened = std::get<net::StoreFile::Opened>(r);
    }
    return out;
}

inline Opened open_dir(const std::string& dir,
                       net::StoreFile::Sync sync = net::StoreFile::Sync::off) {
    net::StoreFile f(dir, data_options(sync));
    return open_store(f);
}

// Every file of a folder (but the lock, whose PID changes) and its bytes.
inline std::map<std::string, std::string> folder_bytes(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name == "lock") continue;
        std::ifstream in(e.path(), std::ios::binary);
        out[name] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A file layer that fails the `fail_at`-th mutating call (0-based: open for writing, write,
// fdatasync, ftruncate, rename, unlink, folder sync). `crash`: that call and every later one
// fail, as if the process had died there (a failing write first writes half its bytes).
// Otherwise only that call fails (a transient error such as a full disk).
class FaultyFs : public net::DataFs {
  public:
    std::atomic<long> fail_at{-1};
    std::atomic<bool> crash{false};
    std::atomic<int> error{EIO};
    std::atomic<long> calls{0};
    std::atomic<bool> failed{false};  // the fault was reached
    std::atomic<bool> fail_reads{false};

    int open(const std::string& path, int flags, mode_t mode) override {
        if ((flags & (O_WRONLY | O_RDWR)) != 0 && fails()) return -1;
        return DataFs::open(path, flags, mode);
    }
    ssize_t write(int fd, const char* data, std::size_t n) override {
        if (fails()) {
            if (crash && n > 1) DataFs::write(fd, data, n / 2);
            errno = error;
            return -1;
        }
        return DataFs::write(fd, data, n);
    }
    int fdatasync(int fd) override { return fails() ? -1 : DataFs::fdatasync(fd); }
    int ftruncate(int fd, off_t size) override {
        return fails() ? -1 : DataFs::ftruncate(fd, size);
    }
    int rename(const std::string& a, const std::string& b) override {
        return fails() ? -1 : DataFs::rename(a, b);
    }
    int unlink(const std::string& p) override { return fails() ? -1 : DataFs::unlink(p); }
    bool sync_folder(const std::string& d) override { return !fails() && DataFs::sync_folder(d); }
    Result<net::FileBytes> read(const std::string& path, bool* missing) override {
        if (fail_reads) {
            *missing = false;
            return Error{path + ": cannot read: Permission denied"};
        }
        return DataFs::read(path, missing);
    }

  private:
    bool fails() {
        const long n = calls++;
        const long at = fail_at;
        if (at < 0) return false;
        const bool hit = n == at || (crash && n > at);
        if (hit) {
            failed = true;
            errno = error;
        }
        return hit;
    }
};

}  // namespace herd::test
