#include "netmode/data_fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

namespace herd::net {

FileBytes::FileBytes(std::string owned) : owned_(std::move(owned)) {
    data_ = owned_.data();
    size_ = owned_.size();
}

FileBytes::FileBytes(FileBytes&& other) noexcept {
    *this = std::move(other);
}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
    if (this == &other) return *this;
    if (mapped_) ::munmap(const_cast<char*>(data_), size_);
    mapped_ = std::exchange(other.mapped_, false);
    owned_ = std::move(other.owned_);
    size_ = std::exchange(other.size_, 0);
    const char* data = std::exchange(other.data_, nullptr);
    data_ = mapped_ ? data : owned_.data();
    return *this;
}

FileBytes::~FileBytes() {
    if (mapped_) ::munmap(const_cast<char*>(data_), size_);
}

int DataFs::open(const std::string& path, int flags, mode_t mode) {
    return ::open(path.c_str(), flags | O_CLOEXEC, mode);
}

ssize_t DataFs::write(int fd, const char* data, std::size_t n) {
    return ::write(fd, data, n);
}

int DataFs::fdatasync(int fd) {
    return ::fdatasync(fd);
}

int DataFs::ftruncate(int fd, off_t size) {
    return ::ftruncate(fd, size);
}

off_t DataFs::seek_end(int fd) {
    return ::lseek(fd, 0, SEEK_END);
}

int DataFs::close(int fd) {
    return ::close(fd);
}

int DataFs::rename(const std::string& from, const std::string& to) {
    return ::rename(from.c_str(), to.c_str());
}

int DataFs::unlink(const std::string& path) {
    return ::unlink(path.c_str());
}

bool DataFs::sync_folder(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

Result<FileBytes> DataFs::read(const std::string& path, bool* missing) {
    *missing = false;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *missing = true;
            return FileBytes{};
        }
        return Error{path + ": cannot read: " + std::strerror(errno)};
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const int error = errno;
        ::close(fd);
        return Error{path + ": cannot read: " +
                     (S_ISREG(st.st_mode) ? std::strerror(error) : "not a regular file")};
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        ::close(fd);
        return FileBytes{};
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int error = errno;
    ::close(fd);
    if (map == MAP_FAILED) return Error{path + ": cannot read: " + std::strerror(error)};
    return FileBytes(static_cast<const char*>(map), size, true);
}

std::size_t DataFs::write_all(int fd, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

std::optional<Error> DataFs::replace_file(const std::string& dir, const std::string& path,
                                          std::string_view bytes) {
    const std::string temporary = path + ".tmp";
    const int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return Error{temporary + ": cannot create: " + std::strerror(errno)};
    bool ok = write_all(fd, bytes) == bytes.size() && fdatasync(fd) == 0;
    const int error = errno;
    close(fd);
    if (!ok) {
        unlink(temporary);
        return Error{temporary + ": cannot write: " + std::strerror(error)};
    }
    if (rename(temporary, path) != 0 || !sync_folder(dir))
        return Error{path + ": cannot put in place: " + std::strerror(errno)};
    return std::nullopt;
}

DataFs& posix_fs() {
    static DataFs fs;
    return fs;
}

Result<int> lock_data_folder(const std::string& dir) {
    // The folder itself is locked, not a file in it: a lock file can be unlinked under a
    // running server, and the next one would take a new file's lock beside it.
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error{dir + ": cannot open: " + std::strerror(errno), 2};
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    const int error = errno;
    ::close(fd);
    if (error != EWOULDBLOCK) return Error{dir + ": cannot lock: " + std::strerror(error), 2};
    std::string pid;
    std::ifstream(dir + "/lock") >> pid;
    return Error{dir + ": in use by another process (pid " + (pid.empty() ? "?" : pid) +
                     "); one server per data folder",
                 2};
}

void write_lock_pid(const std::string& dir) {
    // Only what a refusal names; the lock itself is on the folder.
    std::ofstream(dir + "/lock", std::ios::trunc) << ::getpid() << "\n";
}

std::string unused_name(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return path;
    for (int n = 1;; ++n) {
        const std::string candidate = path + "." + std::to_string(n);
        if (!std::filesystem::exists(candidate, ec)) return candidate;
    }
}

}  // namespace herd::net
