// DataFs: the one file layer under a data folder. StoreFile and `herd data` make every system
// call on the folder through it, so a test can fail any one of them (a full disk at the third
// write, an fsync error in the middle of a compaction, a crash after a rename) and check what
// the folder holds afterwards.
//
// Each call returns like the system call it names (-1 or false with errno set), never throws
// and never prints.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace herd::net {

// The bytes of a whole file, mapped (a large snapshot is never copied into memory to be read).
class FileBytes {
  public:
    FileBytes() = default;
    FileBytes(const char* data, std::size_t size, bool mapped)
        : data_(data), size_(size), mapped_(mapped) {}
    explicit FileBytes(std::string owned);
    FileBytes(FileBytes&& other) noexcept;
    FileBytes& operator=(FileBytes&& other) noexcept;
    FileBytes(const FileBytes&) = delete;
    FileBytes& operator=(const FileBytes&) = delete;
    ~FileBytes();
    std::string_view view() const { return {data_, size_}; }

  private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
    bool mapped_ = false;
    std::string owned_;
};

class DataFs {
  public:
    virtual ~DataFs() = default;
    virtual int open(const std::string& path, int flags, mode_t mode);
    virtual ssize_t write(int fd, const char* data, std::size_t n);
    virtual int fdatasync(int fd);
    virtual int ftruncate(int fd, off_t size);
    virtual off_t seek_end(int fd);
    virtual int close(int fd);
    virtual int rename(const std::string& from, const std::string& to);
    virtual int unlink(const std::string& path);
    virtual bool sync_folder(const std::string& dir);
    // The whole file; `missing` is set (and nothing else is an error) when it does not exist.
    virtual Result<FileBytes> read(const std::string& path, bool* missing);

    // Helpers made of the calls above.
    // Writes all of `bytes` unless a write fails: how many were written.
    std::size_t write_all(int fd, std::string_view bytes);
    // A new file of `bytes`, written, synced and renamed into place as `path`, then the folder
    // synced; the reason it could not be.
    std::optional<Error> replace_file(const std::string& dir, const std::string& path,
                                      std::string_view bytes);
};

// The real file system.
DataFs& posix_fs();

// Locks the folder DIR with flock() for as long as the returned descriptor stays open (one
// process per data folder); the reason (exit status 2, with the PID that DIR/lock names) when
// another process holds it.
Result<int> lock_data_folder(const std::string& dir);
// DIR/lock: the PID of the server that holds the folder, written once its start succeeded.
void write_lock_pid(const std::string& dir);
// `path`, or `path.1`, `path.2`, ... : the first name no file has (files set aside are never
// overwritten).
std::string unused_name(const std::string& path);

}  // namespace herd::net
