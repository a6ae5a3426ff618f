// StoreFile: a server's data folder (--data-dir), so that a herd that loses every server at once
// loses nothing it acknowledged, and a start never destroys what is there. The files and the
// entry format are in data_format.hpp; every system call goes through a DataFs.
//
// Start (open): takes the folder's lock (one server per folder), checks its identity (the server
// it belongs to), loads snapshot, records.old and records.log in that order into `restore` (the
// conflict rule makes an entry read twice harmless), and refuses on anything wrong but a torn
// tail of a log: `DIR/FILE: offset N: what is wrong`, the folder untouched. Only once every file
// has loaded are torn tails saved aside and cut.
//
// Appends get sequence numbers 1, 2, ...; durable_seq() is the highest n such that every entry up
// to n is in the folder (written and synced, or covered by a snapshot).
//   always: appends wait in memory until the driver calls flush(), which writes and fdatasyncs
//           them; the driver releases an acknowledgement only once durable_seq() covers it;
//   batch:  a background thread writes and fdatasyncs every 10 ms;
//   off:    the same thread writes every 10 ms without fdatasync (the kernel decides).
//
// A full disk: writes go out in pieces of at most write_piece_bytes_max and every whole entry
// that fits is kept and synced, so writing resumes as soon as any space frees; a failed fsync
// cuts the log back to its last synced byte and the bytes are written again from memory. The
// entries waiting (the backlog) are bounded by backlog_bytes_max: past it accepting() is false
// (the server then answers IAMATs `?`), and entries appended past it and a margin (records from
// peers) are dropped, to come back with the next snapshot (written from the store in memory).
//
// Compaction: once the log passes compact_bytes (and the last snapshot's size), or entries were
// dropped, or a set-aside log is left, the driver hands over its store (snapshot()); the log is
// set aside and a new one begun; a background thread writes snapshot.tmp, syncs it, reads it
// back and compares, renames it into place, syncs the folder, and only then deletes the set-aside
// log. Any failure leaves the last good snapshot and both logs as they were, and is retried.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "netmode/data_format.hpp"
#include "netmode/data_fs.hpp"

namespace herd::net {

class StoreFile {
  public:
    enum class Sync { always, batch, off };
    static constexpr std::chrono::milliseconds batch_window{10};
    // After a snapshot failed, the next try waits this long (sooner once writing works again).
    static constexpr std::chrono::seconds snapshot_retry{5};
    // One write() at most this much, so a nearly full disk still takes whole entries.
    static constexpr std::size_t write_piece_bytes_max = std::size_t{1} << 20;
    static constexpr std::size_t backlog_bytes_max_default = std::size_t{64} << 20;

    struct Options {
        Sync sync = Sync::batch;
        std::uint64_t compact_bytes = std::uint64_t{64} << 20;  // the log's size that compacts
        std::size_t backlog_bytes_max = backlog_bytes_max_default;
        // Past backlog_bytes_max, appends are still kept up to this much more: what one drain
        // can store from a client read before the driver hears accepting() is false (a 64 KiB
        // read makes at most ~200 KB of entries), so no acknowledged record is ever dropped;
        // only records from peers, past it, are.
        std::size_t backlog_margin_bytes = std::size_t{1} << 20;
        std::string server;    // the folder's owner, recorded in its identity file
        std::string herd;      // the herd's server names, recorded beside it
        DataFs* fs = nullptr;  // null: the real file system
    };

    // What a start found.
    struct Opened {
        std::uint64_t entries = 0;        // entries loaded, from every file
        std::uint64_t from_snapshot = 0;  // of which from the snapshot
        std::uint64_t bytes_cut = 0;      // torn tails cut off the logs (saved beside them)
        std::vector<std::string> notes;   // for the server's log
    };
    // The restore callback: the reason an entry's payload is no record, or nothing.
    using Restore = std::function<std::optional<std::string>(std::string_view at_line)>;

    StoreFile(std::string dir, Options options);
    ~StoreFile();
    StoreFile(const StoreFile&) = delete;
    StoreFile& operator=(const StoreFile&) = delete;

    // Creates the folder if missing, locks it, loads it into `restore`, and opens the log. On an
    // error nothing of the folder was changed (the error's exit_status is 2).
    Result<Opened> open(const Restore& restore);
    // Appends one record; its sequence number.
    std::uint64_t append(std::string_view at_line);
    // Writes (and, unless off, syncs) whatever is waiting, in pieces. True when every entry
    // appended so far is durable.
    bool flush();
    std::uint64_t appended_seq() const;
    std::uint64_t durable_seq() const;
    // False from the first append past the backlog's bound until the backlog is back under half
    // of it, and under batch and off also while writes fail: the driver then takes no new
    // records from clients.
    bool accepting() const;
    std::uint64_t backlog_bytes() const { return pending_bytes_ + buffer_bytes_; }

    // True when a compaction is due and none is running or waiting to retry.
    bool wants_snapshot() const;
    // Compacts into a snapshot of `record_entries` (every record of the store, each made by
    // data::append_entry), covering every entry appended so far.
    void snapshot(std::string record_entries);
    bool compacting() const { return compacting_; }

    std::uint64_t write_failures() const { return write_failures_; }
    std::uint64_t entries_written() const { return entries_written_; }
    std::uint64_t entries_dropped() const { return entries_dropped_; }
    std::uint64_t log_bytes() const { return log_bytes_; }
    std::uint64_t snapshots_written() const { return snapshots_written_; }
    std::uint64_t snapshot_failures() const { return snapshot_failures_; }
    // The last thing that went wrong with the folder (for the log), and whether writes fail now.
    bool failing() const { return failing_flag_; }

  private:
    using SteadyTime = std::chrono::steady_clock::time_point;
    Result<Opened> open_locked(const Restore& restore);
    std::optional<Error> lock();
    Result<std::optional<std::uint64_t>> read_identity(Opened& opened, bool* present);
    std::optional<Error> load_snapshot(const Restore& restore, std::optional<std::uint64_t> legacy,
                                       Opened& opened);
    std::optional<Error> load_log(const std::string& name, const Restore& restore, Opened& opened,
                                  std::uint64_t* keep);
    std::optional<Error> cut_torn_tail(const std::string& name, std::uint64_t keep, Opened& opened);
    void run();
    void write_out();
    void write_pieces();
    void settle_written(bool failed);
    bool set_log_aside();
    void compact(std::string bytes, std::uint64_t covered);
    void report(const std::string& what);
    std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }

    std::string dir_;
    Options options_;
    DataFs& fs_;
    // The folder's identity: read at open, rewritten by the compactor after a first snapshot.
    data::Identity identity_;
    int lock_fd_ = -1;
    // Under io_mutex_: the log, and the entries moved out of buffer_ not yet durable; the first
    // pending_written_ bytes of pending_ are in the log but not yet synced.
    int fd_ = -1;
    std::string pending_;
    std::deque<std::uint64_t> pending_seqs_;
    std::size_t pending_written_ = 0;
    bool failing_ = false;
    // Under mutex_: appends not yet handed to the writer, and the dropped sequence ranges no
    // snapshot covers yet.
    std::string buffer_;
    std::vector<std::uint64_t> buffer_seqs_;
    std::uint64_t appended_ = 0;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> dropped_ranges_;
    std::uint64_t snapshot_covered_ = 0;  // every entry up to it is in a durable snapshot
    bool stopping_ = false;

    std::atomic<std::size_t> pending_bytes_{0};
    std::atomic<std::size_t> buffer_bytes_{0};
    std::atomic<bool> failing_flag_{false};
    std::atomic<bool> over_bound_{false};  // an append passed the backlog's bound
    std::atomic<std::uint64_t> write_failures_{0};
    std::atomic<std::uint64_t> entries_written_{0};
    std::atomic<std::uint64_t> entries_dropped_{0};
    std::atomic<std::uint64_t> log_bytes_{0};
    std::atomic<std::uint64_t> snapshot_bytes_{0};
    std::atomic<std::uint64_t> snapshots_written_{0};
    std::atomic<std::uint64_t> snapshot_failures_{0};
    std::atomic<bool> old_log_{false};  // records.old exists
    std::atomic<bool> compacting_{false};
    std::atomic<SteadyTime::rep> retry_at_{0};
    std::thread compactor_;
    mutable std::mutex io_mutex_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

}  // namespace herd::net
