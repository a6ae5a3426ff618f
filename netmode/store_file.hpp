// StoreFile: a server's data folder, so that a herd that loses every server at once loses
// nothing it acknowledged. Three files, each a sequence of entries, one per record:
//
//   <FNV-1a 64 of the AT line, 16 hex digits> <the AT line>\n
//
//   records.log   every record the server stored (its own and flooded ones), in order;
//   snapshot      every record of the store at the last compaction;
//   records.old   the log set aside by a compaction still writing its snapshot (or cut short
//                 by a crash), deleted once the snapshot that covers it is durable.
//
// open() loads snapshot, records.old and records.log in that order (the driver replays them
// under the conflict rule, so an entry read twice is harmless), each up to its last good entry:
// a torn or corrupt tail (a crash in the middle of a write) is cut off the log, and later
// entries follow the last good one.
//
// Durability by mode:
//   always: appends are buffered until the driver calls flush(), which writes and fdatasyncs
//           them; the driver does so at the end of each batch of Node actions, before any reply
//           or flood of that batch leaves, so an AT reply means the record is on disk;
//   batch:  appends are buffered; a background thread writes and fdatasyncs them every 10 ms,
//           so a power cut loses at most the last 10 ms of updates;
//   off:    the same thread writes every 10 ms without fdatasync (the kernel decides).
//
// Compaction: once the log passes compact_bytes (and the size of the last snapshot), the driver
// hands over its whole store as entries (snapshot()); the log is set aside and a new one begun
// at once, and a background thread writes the snapshot (to a temporary file, fsynced, renamed)
// and deletes the old log.
//
// A failed write (a full disk) is undone (the file is cut back to its last whole entry) and its
// entries kept to be written again, up to retry_bytes_max; past that they are dropped and the
// next compaction, which writes the whole store from memory, brings them back. Failures are
// reported once on stderr (and again when writing works again).
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
    // After a snapshot failed, the next try waits this long.
    static constexpr std::chrono::seconds snapshot_retry{5};

    struct Options {
        Sync sync = Sync::batch;
        std::uint64_t compact_bytes = std::uint64_t{64} << 20;  // the log's size that compacts
        std::size_t retry_bytes_max = std::size_t{64} << 20;    // failed writes kept for retry
    };

    struct Loaded {
        std::vector<std::string> lines;  // the AT lines: snapshot, set-aside log, log
        std::uint64_t bytes_cut = 0;     // of a torn or corrupt tail of the log
        std::size_t from_snapshot = 0;   // how many of the lines came from the snapshot
    };

    StoreFile(std::string dir, Options options);
    ~StoreFile();
    StoreFile(const StoreFile&) = delete;
    StoreFile& operator=(const StoreFile&) = delete;

    // Creates the folder if missing, loads what is there, and opens the log for appending.
    Result<Loaded> open();
    void append(std::string_view at_line);
    // Writes (and, unless off, syncs) whatever is buffered. True when every entry appended so
    // far is in the data folder: written (and synced), or covered by a snapshot; false while
    // failed writes wait to be retried or dropped entries wait for a snapshot.
    bool flush();

    // True when a compaction is due: the log has passed compact_bytes and the last snapshot's
    // size, or entries were dropped after failed writes, or a set-aside log is left from a
    // compaction that did not finish; and no compaction is running or waiting to retry.
    bool wants_snapshot() const;
    // Compacts into a snapshot of `entries` (every record of the store, each made by entry()).
    void snapshot(std::string entries);

    std::uint64_t write_failures() const { return write_failures_; }
    std::uint64_t entries_written() const { return entries_written_; }
    std::uint64_t entries_dropped() const { return entries_dropped_; }
    std::uint64_t log_bytes() const { return log_bytes_; }
    std::uint64_t snapshots_written() const { return snapshots_written_; }

    // The entry for one AT line (appended to `out`), and the line of one entry (nothing when it
    // is not intact).
    static void append_entry(std::string& out, std::string_view at_line);
    static std::string entry(std::string_view at_line);
    static std::optional<std::string_view> line_of(std::string_view entry);

  private:
    using SteadyTime = std::chrono::steady_clock::time_point;
    void run();
    void write_out(std::string chunk, std::size_t entries);
    void write_failed(std::string chunk, std::size_t entries, std::size_t written);
    bool set_log_aside();
    void write_snapshot(const std::string& entries);
    void report(const char* what, bool failed);

    std::string dir_;
    std::string path_;
    Options options_;
    int fd_ = -1;           // under io_mutex_
    bool failing_ = false;  // under io_mutex_
    std::string retry_;     // under io_mutex_: entries a failed write left
    std::size_t retry_entries_ = 0;
    std::atomic<std::uint64_t> write_failures_{0};
    std::atomic<std::uint64_t> entries_written_{0};
    std::atomic<std::uint64_t> entries_dropped_{0};
    std::atomic<std::uint64_t> log_bytes_{0};
    std::atomic<std::uint64_t> snapshot_bytes_{0};
    std::atomic<std::uint64_t> snapshots_written_{0};
    std::atomic<bool> old_log_{false};  // records.old exists
    std::atomic<bool> dropped_{false};  // entries were dropped: only a snapshot has them
    std::atomic<bool> compacting_{false};
    std::atomic<SteadyTime::rep> retry_at_{0};
    std::thread compactor_;
    std::mutex io_mutex_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::string buffer_;
    std::size_t buffer_entries_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herd::net
