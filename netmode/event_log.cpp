#include "netmode/event_log.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/assert.hpp"

namespace herd::net {

using logfmt::Entry;
using logfmt::Kind;

namespace {

std::int64_t now_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// A block starts with the time and, after a loss, the count of lines lost.
constexpr std::size_t block_start_bytes_max = 2 * (1 + 10);

}  // namespace

EventLog::EventLog(std::string path, EventLogOptions options)
    : path_(std::move(path)),
      options_(options),
      blocks_max_(std::max<std::size_t>(2, options.buffer_bytes_max / block_bytes)),
      file_(path_, options.keep) {
    static_assert(logfmt::entry_head_bytes_max + logfmt::payload_piece_bytes_max +
                      block_start_bytes_max <=
                  block_bytes);
}

EventLog::~EventLog() {
    if (thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    file_.close();
}

std::optional<Error> EventLog::open() {
    HERD_ASSERT(!started_);
    if (path_.empty()) return std::nullopt;
    if (auto e = file_.open()) return e;
    started_ = true;
    thread_ = std::thread([this] { run(); });
    return std::nullopt;
}

void EventLog::event(std::string_view text) {
    append(Kind::event, 0, text);
}

void EventLog::read(std::uint64_t conn, std::string_view bytes) {
    append(Kind::read, conn, bytes);
}

void EventLog::written(std::uint64_t conn, std::string_view bytes) {
    append(Kind::written, conn, bytes);
}

// The serving thread's whole cost per entry: a clock read, a lock, the bytes copied (or, for
// bytes written again or passed on, compared).
void EventLog::append(Kind kind, std::uint64_t conn, std::string_view payload) {
    if (!started_) return;
    const std::int64_t now = now_us();
    std::lock_guard<std::mutex> lock(mutex_);
    do {
        const std::string_view piece = payload.substr(0, logfmt::payload_piece_bytes_max);
        payload.remove_prefix(piece.size());
        if (!make_room(logfmt::entry_head_bytes_max + piece.size())) {
            Entry lost{kind, 0, conn, 0, 0, 0, piece, 0};
            lines_lost_ += logfmt::lines_in(lost);
            lost_pending_ += logfmt::lines_in(lost);
            continue;
        }
        if (current_.used == 0) start_block(now);
        std::uint64_t k = 0, at = 0;
        Kind as = kind;
        if (kind == Kind::written && repeated(piece, k))
            as = Kind::again;
        else if (kind == Kind::written && relayed(piece, k, at))
            as = Kind::relayed;
        char* const base = current_.data.get();
        char* p = put_entry(base + current_.used, as, now, conn);
        if (as == Kind::again) {
            p = logfmt::put_varint(p, k);
            remember(written_[k - 1]);
        } else if (as == Kind::relayed) {
            p = logfmt::put_varint(p, k);
            p = logfmt::put_varint(p, at);
            p = logfmt::put_varint(p, piece.size());
            remember({static_cast<std::uint32_t>(read_[k - 1].at + at),
                      static_cast<std::uint32_t>(piece.size())});
        } else {
            p = logfmt::put_varint(p, piece.size());
            std::memcpy(p, piece.data(), piece.size());
            const Span span{static_cast<std::uint32_t>(p - base),
                            static_cast<std::uint32_t>(piece.size())};
            if (kind == Kind::written) remember(span);
            if (kind == Kind::read) remember_read(span);
            p += piece.size();
        }
        current_.used = static_cast<std::size_t>(p - base);
        HERD_ASSERT(current_.used <= block_bytes);
    } while (!payload.empty());
}

// An entry's kind, time and connection (an event has none).
char* EventLog::put_entry(char* p, Kind kind, std::int64_t now, std::uint64_t conn) {
    *p++ = static_cast<char>(kind);
    p = logfmt::put_zigzag(p, now - last_us_);
    last_us_ = now;
    if (kind != Kind::event) p = logfmt::put_varint(p, conn);
    return p;
}

// Room for `bytes` in the current block, handing a full one to the writer; false when every
// block allowed is waiting for the disk.
bool EventLog::make_room(std::size_t bytes) {
    if (current_.data && current_.used + bytes + block_start_bytes_max <= block_bytes) return true;
    if (current_.data && current_.used > 0) {
        full_.push_back(std::move(current_));
        current_ = Block{};
        wake_.notify_one();
    }
    if (current_.data) return true;  // an empty block always has room
    if (!free_.empty()) {
        current_ = std::move(free_.back());
        free_.pop_back();
    } else if (blocks_ < blocks_max_) {
        current_.data = std::make_unique<char[]>(block_bytes);
        blocks_ += 1;
    } else {
        return false;
    }
    current_.used = 0;
    return true;
}

void EventLog::start_block(std::int64_t now) {
    char* p = current_.data.get();
    *p++ = static_cast<char>(Kind::time);
    p = logfmt::put_varint(p, static_cast<std::uint64_t>(now));
    if (lost_pending_ > 0) {
        *p++ = static_cast<char>(Kind::lost);
        p = logfmt::put_varint(p, lost_pending_);
        lost_pending_ = 0;
    }
    current_.used = static_cast<std::size_t>(p - current_.data.get());
    last_us_ = now;
    written_count_ = 0;  // '=' and '^' never name a payload of another block
    read_count_ = 0;
}

bool EventLog::repeated(std::string_view payload, std::uint64_t& k) const {
    if (!current_.data) return false;
    for (std::size_t i = 0; i < written_count_; ++i) {
        const Span s = written_[i];
        if (s.size == payload.size() &&
            std::memcmp(current_.data.get() + s.at, payload.data(), payload.size()) == 0) {
            k = i + 1;
            return true;
        }
    }
    return false;
}

// Bytes a recent read brought, found where the last one passed on ended (a server passes on
// the records of a read in their order) or a little after it: the search is bounded, so a
// reply that is no relay costs a few hundred bytes of comparison at most.
bool EventLog::relayed(std::string_view payload, std::uint64_t& k, std::uint64_t& at) {
    constexpr std::size_t reads_searched = 2;
    constexpr std::size_t search_bytes_max = 512;
    if (!current_.data || payload.empty()) return false;
    for (std::size_t i = 0; i < std::min(read_count_, reads_searched); ++i) {
        const Span s = read_[i];
        const std::size_t from = read_cursor_[i];
        if (from + payload.size() > s.size) continue;
        const char* start = current_.data.get() + s.at + from;
        const std::size_t window =
            std::min<std::size_t>(s.size - from, search_bytes_max + payload.size());
        const void* found = ::memmem(start, window, payload.data(), payload.size());
        if (found == nullptr) continue;
        at = from + static_cast<std::size_t>(static_cast<const char*>(found) - start);
        read_cursor_[i] = static_cast<std::uint32_t>(at + payload.size());
        k = i + 1;
        return true;
    }
    return false;
}

void EventLog::remember_read(Span span) {
    std::move_backward(read_.begin(), read_.end() - 1, read_.end());
    std::move_backward(read_cursor_.begin(), read_cursor_.end() - 1, read_cursor_.end());
    read_[0] = span;
    read_cursor_[0] = 0;
    read_count_ = std::min(read_count_ + 1, read_.size());
}

void EventLog::remember(Span span) {
    std::move_backward(written_.begin(), written_.end() - 1, written_.end());
    written_[0] = span;
    written_count_ = std::min(written_count_ + 1, written_.size());
}

void EventLog::run() {
    using Clock = std::chrono::steady_clock;
    auto last_tick = Clock::now();
    while (true) {
        bool stop = false;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait_for(lock, std::chrono::milliseconds(100),
                           [this] { return stopping_ || !full_.empty(); });
            stop = stopping_;
        }
        // The block being filled goes out about every 100 ms; full ones as soon as they are.
        const bool tick = stop || Clock::now() - last_tick >= std::chrono::milliseconds(100);
        {
            std::lock_guard<std::mutex> io(io_mutex_);
            std::vector<Block> blocks = take(tick);
            write_blocks(blocks);
            give_back(blocks);
        }
        if (tick) last_tick = Clock::now();
        if (stop) return;
    }
}

void EventLog::flush() {
    if (!started_) return;
    std::lock_guard<std::mutex> io(io_mutex_);
    std::vector<Block> blocks = take(true);
    write_blocks(blocks);
    give_back(blocks);
}

std::vector<EventLog::Block> EventLog::take(bool with_current) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Block> blocks;
    blocks.swap(full_);
    if (with_current && current_.data && current_.used > 0) {
        blocks.push_back(std::move(current_));
        current_ = Block{};
    }
    return blocks;
}

void EventLog::give_back(std::vector<Block>& blocks) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Block& b : blocks) {
        b.used = 0;
        free_.push_back(std::move(b));
    }
}

void EventLog::write_blocks(std::vector<Block>& blocks) {
    if (reopen_requested_.exchange(false)) {
        file_.close();
        file_started_ = false;
        run_started_ = false;
    }
    // Cut by an outside tool (logrotate's copytruncate): what follows starts with the magic.
    if (file_.shrunk()) file_started_ = false;
    for (const Block& b : blocks)
        write_block(b);
    write_failures_ = file_.failures();
}

// Each file starts with the magic and the time; a new run (this process's first write, a
// reopen, a write after trouble) also with 'S', and with the lines lost since the last write.
void EventLog::start_file(std::int64_t time_us) {
    char head[logfmt::magic.size() + 2 * (1 + 10) + 1];
    std::memcpy(head, logfmt::magic.data(), logfmt::magic.size());
    char* p = head + logfmt::magic.size();
    if (!run_started_) *p++ = static_cast<char>(Kind::run);
    *p++ = static_cast<char>(Kind::time);
    p = logfmt::put_varint(p, static_cast<std::uint64_t>(time_us));
    if (lost_unmarked_ > 0) {
        *p++ = static_cast<char>(Kind::lost);
        p = logfmt::put_varint(p, lost_unmarked_);
    }
    file_started_ = file_.write(std::string_view(head, static_cast<std::size_t>(p - head)));
    if (!file_started_) return;
    run_started_ = true;
    lost_unmarked_ = 0;
    written_in_file_ = 0;
    read_in_file_ = 0;
    entries_in_file_ = 0;
}

void EventLog::lose(std::string_view rest) {
    Entry e;
    while (logfmt::parse_entry(rest, e) == logfmt::Parse::ok) {
        lines_lost_ += logfmt::lines_in(e);
        lost_unmarked_ += logfmt::lines_in(e);
        rest.remove_prefix(e.bytes);
    }
    file_started_ = false;  // the next write starts a run again
    run_started_ = false;
}

// The file an entry of `size` bytes goes into: rotated first if the entry would take it past
// its cap, (re)opened and started if need be. False when there is no file to write to.
bool EventLog::ready_for(std::size_t size, std::int64_t time_before, bool& rotation_failed) {
    if (!file_.ensure_open()) return false;
    const std::size_t cap = options_.bytes_max;
    const bool holds = file_started_ ? entries_in_file_ > 0 : file_.bytes() > 0;
    const std::size_t need = size + (file_started_ ? 0 : start_bytes_max);
    if (cap > 0 && holds && !rotation_failed && file_.bytes() + need > cap) {
        if (file_.rotate())
            file_started_ = false;
        else
            rotation_failed = true;  // on in the current file, tried again at the next block
        if (!file_.ensure_open()) return false;
    }
    if (!file_started_) start_file(time_before);
    return file_started_;
}

// A '=' or '^' entry written out whole, as a '>' of the bytes it names.
std::string EventLog::expanded(const Entry& e, std::string_view bytes) {
    std::string out(logfmt::entry_head_bytes_max, '\0');
    char* p = out.data();
    *p++ = static_cast<char>(Kind::written);
    p = logfmt::put_zigzag(p, e.dt_us);
    p = logfmt::put_varint(p, e.number);
    p = logfmt::put_varint(p, bytes.size());
    out.resize(static_cast<std::size_t>(p - out.data()));
    out.append(bytes);
    return out;
}

// Writes a block's entries in as few writes as it can: runs of whole entries at once, cut for
// rotation between entries; a '=' or '^' that names bytes of an earlier file is written whole.
void EventLog::write_block(const Block& block) {
    const std::string_view data(block.data.get(), block.used);
    std::array<std::string_view, logfmt::again_window> written{};  // payloads, newest first
    std::array<std::string_view, logfmt::again_window> reads{};
    std::int64_t time = 0;  // of the entry before `at`
    std::size_t from = 0;   // the block's bytes before this are written
    bool rotation_failed = false;
    auto write_to = [&](std::size_t end) {
        if (end > from && !file_.write(data.substr(from, end - from))) return false;
        from = end;
        return true;
    };
    for (std::size_t at = 0; at < data.size();) {
        Entry e;
        HERD_ASSERT(logfmt::parse_entry(data.substr(at), e) == logfmt::Parse::ok);
        const std::int64_t before = time;
        time = e.kind == Kind::time ? static_cast<std::int64_t>(e.number) : time + e.dt_us;
        std::string_view bytes = e.payload;  // what a written entry stands for
        if (e.kind == Kind::again) bytes = written[e.count - 1];
        if (e.kind == Kind::relayed) bytes = reads[e.count - 1].substr(e.at, e.length);
        const bool names = e.kind == Kind::again || e.kind == Kind::relayed;
        // Room for the entry written whole: a rotation before it leaves nothing it could name.
        const std::size_t size = e.bytes + (names ? bytes.size() + 10 : 0);
        const bool over = options_.bytes_max > 0 && !rotation_failed &&
                          file_.bytes() + (at - from) + size > options_.bytes_max;
        if (!file_started_ || !file_.is_open() || over) {
            if (!write_to(at)) return lose(data.substr(from));
            if (!ready_for(size, e.kind == Kind::time ? time : before, rotation_failed))
                return lose(data.substr(at));
        }
        const bool whole = (e.kind == Kind::again && e.count > written_in_file_) ||
                           (e.kind == Kind::relayed && e.count > read_in_file_);
        if (whole) {
            if (!write_to(at) || !file_.write(expanded(e, bytes))) return lose(data.substr(at));
            from = at + e.bytes;
        }
        if (e.kind == Kind::written || names) {
            std::move_backward(written.begin(), written.end() - 1, written.end());
            written[0] = bytes;
            written_in_file_ += 1;
        }
        if (e.kind == Kind::read) {
            std::move_backward(reads.begin(), reads.end() - 1, reads.end());
            reads[0] = e.payload;
            read_in_file_ += 1;
        }
        entries_in_file_ += 1;
        at += e.bytes;
    }
    if (!write_to(data.size())) return lose(data.substr(from));
    file_.report_recovery(lines_lost_);
}

}  // namespace herd::net
