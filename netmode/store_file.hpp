// StoreFile: a server's data folder, so that a herd that loses every server at once loses
// nothing it acknowledged. DIR/records.log holds one entry per record the server stored (its
// own and flooded ones), in the order stored:
//
//   <FNV-1a 64 of the AT line, 16 hex digits> <the AT line>\n
//
// open() reads it back up to the last good entry: a torn or corrupt tail (a crash in the middle
// of a write) is cut off, and later entries follow the last good one. Durability by mode:
//   always: appends are buffered until the driver calls flush(), which writes and fdatasyncs
//           them; the driver does so at the end of each batch of Node actions, before any reply
//           or flood of that batch leaves, so an AT reply means the record is on disk;
//   batch:  appends are buffered; a background thread writes and fdatasyncs them every 10 ms,
//           so a power cut loses at most the last 10 ms of updates;
//   off:    the same thread writes every 10 ms without fdatasync (the kernel decides).
// Failures to write are reported once on stderr (and again when writing works again).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.hpp"

namespace herd::net {

class StoreFile {
  public:
    enum class Sync { always, batch, off };
    static constexpr std::chrono::milliseconds batch_window{10};

    struct Loaded {
        std::vector<std::string> lines;  // the AT lines, oldest first
        std::uint64_t bytes_cut = 0;     // of a torn or corrupt tail
    };

    StoreFile(std::string dir, Sync sync);
    ~StoreFile();
    StoreFile(const StoreFile&) = delete;
    StoreFile& operator=(const StoreFile&) = delete;

    // Creates the folder if missing, loads what is there, and opens the log for appending.
    Result<Loaded> open();
    void append(std::string_view at_line);
    // Writes (and, unless off, syncs) whatever is buffered.
    void flush();
    std::uint64_t write_failures() const { return write_failures_; }
    std::uint64_t entries_written() const { return entries_written_; }

    // The entry for one AT line, and the line of one entry (nothing when it is not intact).
    static std::string entry(std::string_view at_line);
    static std::optional<std::string_view> line_of(std::string_view entry);

  private:
    void run();
    void write_out(const std::string& chunk, std::size_t entries);

    std::string dir_;
    std::string path_;
    Sync sync_;
    int fd_ = -1;
    bool failing_ = false;  // under io_mutex_
    std::atomic<std::uint64_t> write_failures_{0};
    std::atomic<std::uint64_t> entries_written_{0};
    std::mutex io_mutex_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::string buffer_;
    std::size_t buffer_entries_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herd::net
