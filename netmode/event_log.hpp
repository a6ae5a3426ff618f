// EventLog: a server's log of events and of every byte it reads and writes, in the compact
// format of netmode/log_format.hpp (`herd log FILE` prints it as text). Built so that logging
// every line costs the serving thread a clock read and a copy of the bytes:
// - the serving thread encodes entries into the current block (block_bytes) under a mutex that
//   the writer takes only to swap blocks; it never allocates once the blocks exist;
// - bytes written again within the last few payloads (a record flooded to several peers, a
//   reply that is also flooded) are stored once, then named; so are bytes written that a
//   recent read brought (a record passed on to the next server);
// - a writer thread writes full blocks at once, and the current one about every 100 ms, as
//   large sequential writes.
//
// Limits and trouble (each reported, none fatal):
// - the file is rotated before it would pass `bytes_max` (cut between entries; each file
//   starts with the magic and the time, so it reads alone): FILE.1 .. FILE.<keep> hold the
//   older ones, so a log takes at most (keep + 1) x bytes_max;
// - blocks waiting for the disk are capped at `buffer_bytes_max`; past it entries are dropped,
//   counted (lines_lost) and marked in the log where they were lost;
// - a write, open or rotation that fails is reported once (LogFile), the lines are counted as
//   lost, and the file is retried at every later write (a new run starts with the magic, so a
//   write cut short costs only its own entries);
// - reopen() (SIGHUP) closes the file and opens the path again, for external log rotation.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "netmode/log_file.hpp"
#include "netmode/log_format.hpp"

namespace herd::net {

struct EventLogOptions {
    std::size_t bytes_max = 64u << 20;  // rotate past this (0: never)
    std::size_t keep = 5;               // rotated files kept
    std::size_t buffer_bytes_max = 64u << 20;
};

class EventLog {
  public:
    static constexpr std::size_t block_bytes = 128 * 1024;

    // An empty path: a log that writes nothing.
    explicit EventLog(std::string path, EventLogOptions options = {});
    ~EventLog();
    EventLog(const EventLog&) = delete;
    EventLog& operator=(const EventLog&) = delete;

    std::optional<Error> open();
    bool enabled() const { return started_; }

    void event(std::string_view text);  // one line, no newline
    void read(std::uint64_t conn, std::string_view bytes);
    void written(std::uint64_t conn, std::string_view bytes);
    // Everything so far to the file, from the calling thread.
    void flush();
    void reopen() { reopen_requested_ = true; }

    std::uint64_t lines_lost() const { return lines_lost_; }
    std::uint64_t write_failures() const { return write_failures_; }

  private:
    struct Block {
        std::unique_ptr<char[]> data;
        std::size_t used = 0;
    };
    struct Span {  // a payload in the current block
        std::uint32_t at = 0;
        std::uint32_t size = 0;
    };

    void append(logfmt::Kind kind, std::uint64_t conn, std::string_view payload);
    bool make_room(std::size_t bytes);
    void start_block(std::int64_t now_us);
    bool repeated(std::string_view payload, std::uint64_t& k) const;
    bool relayed(std::string_view payload, std::uint64_t& k, std::uint64_t& at);
    void remember(Span span);
    void remember_read(Span span);
    char* put_entry(char* p, logfmt::Kind kind, std::int64_t now, std::uint64_t conn);
    void run();
    std::vector<Block> take(bool with_current);
    void write_blocks(std::vector<Block>& blocks);
    void write_block(const Block& block);
    void start_file(std::int64_t time_us);
    bool ready_for(std::size_t size, std::int64_t time_before, bool& rotation_failed);
    static std::string expanded(const logfmt::Entry& e, std::string_view bytes);
    // What start_file writes at most.
    static constexpr std::size_t start_bytes_max = 9 + 1 + 2 * (1 + 10);
    void lose(std::string_view rest);
    void give_back(std::vector<Block>& blocks);

    std::string path_;
    EventLogOptions options_;
    std::size_t blocks_max_;
    bool started_ = false;
    std::atomic<bool> reopen_requested_{false};
    std::atomic<std::uint64_t> lines_lost_{0};
    std::atomic<std::uint64_t> write_failures_{0};

    // The serving side, under mutex_.
    std::mutex mutex_;
    Block current_;
    std::int64_t last_us_ = 0;        // the time of the block's last entry
    std::uint64_t lost_pending_ = 0;  // lines to mark lost at the next block's start
    std::array<Span, logfmt::again_window> written_{};  // newest first
    std::size_t written_count_ = 0;
    std::array<Span, logfmt::again_window> read_{};                  // newest first
    std::array<std::uint32_t, logfmt::again_window> read_cursor_{};  // where a relay may start
    std::size_t read_count_ = 0;
    std::vector<Block> full_;
    std::vector<Block> free_;
    std::size_t blocks_ = 0;  // allocated
    bool stopping_ = false;
    std::condition_variable wake_;

    // The writing side, under io_mutex_.
    std::mutex io_mutex_;
    LogFile file_;
    bool file_started_ = false;        // this file (or run) has its magic
    bool run_started_ = false;         // this process's run is marked ('S') in the file
    std::uint64_t lost_unmarked_ = 0;  // lines lost to disk trouble, not yet marked ('L')
    std::size_t written_in_file_ = 0;  // written payloads ('>', '=', '^') since the magic
    std::size_t read_in_file_ = 0;     // '<' entries since the magic
    std::size_t entries_in_file_ = 0;
    std::thread thread_;
};

}  // namespace herd::net
