#include "netmode/store_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/assert.hpp"
#include "netmode/data_format.hpp"

namespace herd::net {

namespace {

Error refusal(std::string message) {
    return Error{std::move(message), 2};
}

std::string at_offset(const std::string& file, std::uint64_t offset, std::string_view what) {
    return file + ": offset " + std::to_string(offset) + ": " + std::string(what);
}

}  // namespace

StoreFile::StoreFile(std::string dir, Options options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      fs_(options_.fs != nullptr ? *options_.fs : posix_fs()) {}

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
        flush();  // what is still waiting (always: whatever the driver did not commit yet)
        fs_.close(fd_);
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the folder
}

// ---------------------------------------------------------------- the start

std::optional<Error> StoreFile::lock() {
    auto locked = lock_data_folder(dir_);
    if (const Error* e = error_of(locked)) return *e;
    lock_fd_ = std::get<int>(locked);
    return std::nullopt;
}

// The identity file's word on a pre-format-2 snapshot (its size), after checking the folder is
// this server's. `present`: the identity file exists.
Result<std::optional<std::uint64_t>> StoreFile::read_identity(Opened& opened, bool* present) {
    const std::string file = path(data::identity_name);
    bool missing = false;
    auto read = fs_.read(file, &missing);
    if (const Error* e = error_of(read)) return refusal(e->message);
    *present = !missing;
    if (missing) {
        // A folder from before identities, or a new one: an existing headerless snapshot is the
        // older format, vouched for at its present size.
        bool no_snapshot = false;
        auto snapshot = fs_.read(path(data::snapshot_name), &no_snapshot);
        if (const Error* e = error_of(snapshot)) return refusal(e->message);
        const std::string_view bytes = std::get<FileBytes>(snapshot).view();
        if (no_snapshot || bytes.starts_with(data::entry(data::snapshot_header)))
            return std::optional<std::uint64_t>{};
        opened.notes.push_back("a folder written before format 2: its snapshot of " +
                               std::to_string(bytes.size()) + " bytes adopted");
        identity_.has_snapshot = true;
        return std::optional<std::uint64_t>{bytes.size()};
    }
    auto parsed = data::parse_identity(std::get<FileBytes>(read).view());
    if (const Error* e = error_of(parsed)) return refusal(file + ": " + e->message);
    const data::Identity& id = std::get<data::Identity>(parsed);
    if (id.server != options_.server)
        return refusal(dir_ + ": the data folder of server " + data::shown(id.server) + ", not " +
                       data::shown(options_.server) + " (" + file + ")");
    if (id.herd != options_.herd)
        opened.notes.push_back("the herd changed since this folder was made (was: " + id.herd +
                               ")");
    identity_ = id;
    return id.legacy_snapshot_bytes;
}

std::optional<Error> StoreFile::load_snapshot(const Restore& restore,
                                              std::optional<std::uint64_t> legacy, Opened& opened) {
    const std::string file = path(data::snapshot_name);
    bool missing = false;
    auto read = fs_.read(file, &missing);
    if (const Error* e = error_of(read)) return refusal(e->message);
    if (missing && identity_.has_snapshot)
        return refusal(file + ": missing, though " + path(data::identity_name) +
                       " says a compaction wrote one (its records are nowhere else)");
    if (missing) return std::nullopt;
    const std::string_view bytes = std::get<FileBytes>(read).view();
    const data::Scan s = data::scan(bytes);
    const data::SnapshotCheck check = data::check_snapshot(s, legacy);
    if (check.problem) return refusal(at_offset(file, check.problem->first, check.problem->second));
    for (const data::Found& f : check.records) {
        if (auto why = restore(f.payload)) return refusal(at_offset(file, f.offset, *why));
    }
    opened.entries += check.records.size();
    opened.from_snapshot = check.records.size();
    snapshot_bytes_ = bytes.size();
    return std::nullopt;
}

// Loads a log; `keep` is where its torn tail starts (its size when it has none).
std::optional<Error> StoreFile::load_log(const std::string& name, const Restore& restore,
                                         Opened& opened, std::uint64_t* keep) {
    const std::string file = path(name);
    bool missing = false;
    auto read = fs_.read(file, &missing);
    if (const Error* e = error_of(read)) return refusal(e->message);
    *keep = 0;
    if (missing) return std::nullopt;
    const data::Scan s = data::scan(std::get<FileBytes>(read).view());
    if (const data::Damage* d = s.corruption())
        return refusal(at_offset(file, d->offset,
                                 d->what + " (" + std::to_string(d->bytes) +
                                     " bytes; entries follow it, so it is no torn tail: see "
                                     "`herd data check`)"));
    for (const data::Found& f : s.entries) {
        if (f.offset >= s.torn_at) break;
        if (f.payload.starts_with('#'))
            return refusal(at_offset(file, f.offset, "a control entry in a log"));
        if (auto why = restore(f.payload)) return refusal(at_offset(file, f.offset, *why));
        opened.entries += 1;
    }
    *keep = s.torn_at;
    if (s.torn_at < s.size) opened.bytes_cut += s.size - s.torn_at;
    return std::nullopt;
}

// Saves the bytes past `keep` beside the log, then cuts them off.
std::optional<Error> StoreFile::cut_torn_tail(const std::string& name, std::uint64_t keep,
                                              Opened& opened) {
    const std::string file = path(name);
    bool missing = false;
    auto read = fs_.read(file, &missing);
    if (const Error* e = error_of(read)) return refusal(e->message);
    const std::string_view bytes = std::get<FileBytes>(read).view();
    if (missing || keep >= bytes.size()) return std::nullopt;
    const std::string saved = unused_name(file + ".torn-" + std::to_string(std::time(nullptr)) +
                                          "-" + std::to_string(keep));
    if (auto e = fs_.replace_file(dir_, saved, bytes.substr(keep))) return refusal(e->message);
    const int fd = fs_.open(file, O_WRONLY, 0644);
    const bool ok =
        fd >= 0 && fs_.ftruncate(fd, static_cast<off_t>(keep)) == 0 && fs_.fdatasync(fd) == 0;
    const int error = errno;
    if (fd >= 0) fs_.close(fd);
    if (!ok) return refusal(file + ": cannot cut its torn tail: " + std::strerror(error));
    opened.notes.push_back(name + ": a torn tail of " + std::to_string(bytes.size() - keep) +
                           " bytes at offset " + std::to_string(keep) + " cut (saved as " + saved +
                           ")");
    return std::nullopt;
}

Result<StoreFile::Opened> StoreFile::open(const Restore& restore) {
    auto opened = open_locked(restore);
    if (error_of(opened) && lock_fd_ >= 0) {
        ::close(lock_fd_);  // a refused start leaves the folder to whoever comes next
        lock_fd_ = -1;
    }
    return opened;
}

Result<StoreFile::Opened> StoreFile::open_locked(const Restore& restore) {
    HERD_ASSERT(fd_ < 0 && lock_fd_ < 0);
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return refusal("cannot create " + dir_ + ": " + ec.message());
    if (auto e = lock()) return *e;
    Opened opened;
    bool identified = false;
    auto legacy = read_identity(opened, &identified);
    if (const Error* e = error_of(legacy)) return *e;
    const auto legacy_bytes = std::get<std::optional<std::uint64_t>>(legacy);
    if (auto e = load_snapshot(restore, legacy_bytes, opened)) return *e;
    std::uint64_t keep_old = 0;
    std::uint64_t keep_log = 0;
    if (auto e = load_log(std::string(data::old_name), restore, opened, &keep_old)) return *e;
    if (auto e = load_log(std::string(data::log_name), restore, opened, &keep_log)) return *e;
    // Everything loaded: only now is anything written.
    if (auto e = cut_torn_tail(std::string(data::old_name), keep_old, opened)) return *e;
    if (auto e = cut_torn_tail(std::string(data::log_name), keep_log, opened)) return *e;
    if (!identified) {
        identity_.server = options_.server;
        identity_.herd = options_.herd;
        identity_.legacy_snapshot_bytes = legacy_bytes;
        if (auto e =
                fs_.replace_file(dir_, path(data::identity_name), data::format_identity(identity_)))
            return refusal(e->message);
    }
    old_log_ = std::filesystem::exists(path(data::old_name), ec);
    fd_ = fs_.open(path(data::log_name), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd_ < 0) return refusal(path(data::log_name) + ": cannot open: " + std::strerror(errno));
    log_bytes_ = keep_log;
    write_lock_pid(dir_);
    if (options_.sync != Sync::always) thread_ = std::thread([this] { run(); });
    return opened;
}

// ---------------------------------------------------------------- appending and writing

std::uint64_t StoreFile::append(std::string_view at_line) {
    HERD_ASSERT(fd_ >= 0);
    std::lock_guard<std::mutex> lock(mutex_);
    const std::uint64_t seq = ++appended_;
    const std::size_t bytes = at_line.size() + data::checksum_digits + 2;
    const std::size_t backlog = pending_bytes_ + buffer_.size() + bytes;
    if (backlog >= options_.backlog_bytes_max) over_bound_ = true;
    if (backlog > options_.backlog_bytes_max + options_.backlog_margin_bytes) {
        // Past the bound and its margin: the store in memory has it; the next snapshot will.
        entries_dropped_ += 1;
        if (!dropped_ranges_.empty() && dropped_ranges_.back().second + 1 == seq) {
            dropped_ranges_.back().second = seq;
        } else {
            dropped_ranges_.emplace_back(seq, seq);
        }
        return seq;
    }
    data::append_entry(buffer_, at_line);
    buffer_seqs_.push_back(seq);
    buffer_bytes_ = buffer_.size();
    return seq;
}

bool StoreFile::flush() {
    write_out();
    return durable_seq() == appended_seq();
}

std::uint64_t StoreFile::appended_seq() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return appended_;
}

std::uint64_t StoreFile::durable_seq() const {
    std::lock_guard<std::mutex> io(io_mutex_);
    std::lock_guard<std::mutex> lock(mutex_);
    std::uint64_t first_waiting = appended_ + 1;
    if (!pending_seqs_.empty()) {
        first_waiting = pending_seqs_.front();
    } else if (!buffer_seqs_.empty()) {
        first_waiting = buffer_seqs_.front();
    }
    if (!dropped_ranges_.empty())
        first_waiting = std::min(first_waiting, dropped_ranges_.front().first);
    return std::max(first_waiting - 1, snapshot_covered_);
}

bool StoreFile::accepting() const {
    // Under batch and off an acknowledgement promises the disk within the batch window: while
    // writes fail, that promise cannot be kept. Under always the acknowledgements wait instead.
    if (options_.sync != Sync::always && failing_flag_) return false;
    return !over_bound_;
}

void StoreFile::write_out() {
    std::lock_guard<std::mutex> io(io_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_ += buffer_;
        pending_seqs_.insert(pending_seqs_.end(), buffer_seqs_.begin(), buffer_seqs_.end());
        buffer_.clear();
        buffer_seqs_.clear();
        buffer_bytes_ = 0;
    }
    pending_bytes_ = pending_.size();
    if (pending_.empty() || fd_ < 0) return;
    write_pieces();
}

// Under io_mutex_: as much of pending_ as the disk takes, in pieces; then what was written is
// cut back to whole entries and synced.
void StoreFile::write_pieces() {
    HERD_ASSERT(pending_written_ == 0);
    bool failed = false;
    while (pending_written_ < pending_.size()) {
        const std::size_t piece =
            std::min(write_piece_bytes_max, pending_.size() - pending_written_);
        const ssize_t n = fs_.write(fd_, pending_.data() + pending_written_, piece);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            failed = true;
            break;
        }
        pending_written_ += static_cast<std::size_t>(n);
    }
    settle_written(failed);
}

// Under io_mutex_: the written bytes become durable entries, or are cut back to be written again.
void StoreFile::settle_written(bool failed) {
    int error = failed ? errno : 0;
    const std::size_t whole =
        pending_written_ == 0 ? 0 : pending_.rfind('\n', pending_written_ - 1) + 1;
    const auto durable_end = static_cast<off_t>(log_bytes_.load());
    bool synced = whole > 0;
    if (whole != pending_written_ &&
        fs_.ftruncate(fd_, durable_end + static_cast<off_t>(whole)) != 0)
        synced = false;  // cannot even cut back the partial entry: write it all again
    if (synced && options_.sync != Sync::off && fs_.fdatasync(fd_) != 0) {
        failed = true;
        error = errno;
        synced = false;
    }
    if (!synced && pending_written_ > 0) fs_.ftruncate(fd_, durable_end);
    if (synced) {
        const auto entries = static_cast<std::size_t>(std::count(
            pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(whole), '\n'));
        HERD_ASSERT(entries > 0 && entries <= pending_seqs_.size());
        pending_seqs_.erase(pending_seqs_.begin(),
                            pending_seqs_.begin() + static_cast<std::ptrdiff_t>(entries));
        pending_.erase(0, whole);
        log_bytes_ += whole;
        entries_written_ += entries;
    }
    pending_written_ = 0;
    pending_bytes_ = pending_.size();
    HERD_ASSERT(pending_seqs_.empty() == pending_.empty());
    // Taken again once the backlog is down to half its bound (so it does not flap).
    if (over_bound_ && backlog_bytes() <= options_.backlog_bytes_max / 2) over_bound_ = false;
    if (failed) {
        write_failures_ += 1;
        if (!failing_) report(std::string("cannot write: ") + std::strerror(error));
        failing_ = true;
    } else if (failing_) {
        report("writing again");
        failing_ = false;
        retry_at_ = 0;  // a snapshot that waits for room may run now
    }
    failing_flag_ = failing_;
}

void StoreFile::report(const std::string& what) {
    std::fprintf(stderr, "herd: data %s: %s\n", dir_.c_str(), what.c_str());
}

void StoreFile::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait_for(lock, batch_window);
        const bool stop = stopping_;
        lock.unlock();
        write_out();
        if (stop) return;
        lock.lock();
    }
}

// ---------------------------------------------------------------- compaction

bool StoreFile::wants_snapshot() const {
    if (compacting_) return false;
    if (std::chrono::steady_clock::now().time_since_epoch().count() < retry_at_) return false;
    bool dropped = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        dropped = !dropped_ranges_.empty();
    }
    const std::uint64_t log = log_bytes_;
    return old_log_ || dropped || (log >= options_.compact_bytes && log >= snapshot_bytes_);
}

// Under io_mutex_: the log so far becomes records.old and a new one begins (unless a set-aside
// log is still waiting for its snapshot: then the log stays, and the snapshot covers both).
bool StoreFile::set_log_aside() {
    HERD_ASSERT(pending_written_ == 0);
    if (old_log_) return true;
    const std::string log = path(data::log_name);
    const std::string old = path(data::old_name);
    if (fs_.rename(log, old) != 0) return false;
    const int fd = fs_.open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0 || !fs_.sync_folder(dir_)) {
        if (fd >= 0) fs_.close(fd);
        fs_.rename(old, log);  // back as it was: the old descriptor still writes to it
        return false;
    }
    fs_.close(fd_);
    fd_ = fd;
    log_bytes_ = 0;
    old_log_ = true;
    return true;
}

void StoreFile::snapshot(std::string record_entries) {
    HERD_ASSERT(record_entries.empty() || record_entries.back() == '\n');
    const auto records =
        static_cast<std::uint64_t>(std::count(record_entries.begin(), record_entries.end(), '\n'));
    HERD_ASSERT(!compacting_);
    if (compactor_.joinable()) compactor_.join();
    {
        std::lock_guard<std::mutex> io(io_mutex_);
        if (!set_log_aside()) {
            snapshot_failures_ += 1;
            report("cannot set the log aside for a snapshot; tried again in 5 s");
            retry_at_ =
                (std::chrono::steady_clock::now() + snapshot_retry).time_since_epoch().count();
            return;
        }
    }
    const std::uint64_t covered = appended_seq();
    compacting_ = true;
    compactor_ = std::thread(
        [this, covered, bytes = data::make_snapshot(record_entries, records)]() mutable {
            compact(std::move(bytes), covered);
            compacting_ = false;
        });
}

// On the compactor thread: the snapshot written, synced, read back, and put in place; only then
// is the set-aside log deleted.
void StoreFile::compact(std::string bytes, std::uint64_t covered) {
    const std::string temporary = path(data::snapshot_temp_name);
    const int fd = fs_.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0 && fs_.write_all(fd, bytes) == bytes.size() && fs_.fdatasync(fd) == 0;
    if (fd >= 0) fs_.close(fd);
    if (ok) {
        bool missing = false;
        auto back = fs_.read(temporary, &missing);
        ok = !error_of(back) && !missing && std::get<FileBytes>(back).view() == bytes;
    }
    ok = ok && fs_.rename(temporary, path(data::snapshot_name)) == 0 && fs_.sync_folder(dir_);
    if (!ok) {
        fs_.unlink(temporary);
        snapshot_failures_ += 1;
        report("a snapshot failed (the last good one is kept); tried again in 5 s");
        retry_at_ = (std::chrono::steady_clock::now() + snapshot_retry).time_since_epoch().count();
        return;
    }
    snapshot_bytes_ = bytes.size();
    snapshots_written_ += 1;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        snapshot_covered_ = std::max(snapshot_covered_, covered);
        while (!dropped_ranges_.empty() && dropped_ranges_.front().second <= covered)
            dropped_ranges_.pop_front();
    }
    // From now on a start without a snapshot refuses (its records are nowhere else).
    if (!identity_.has_snapshot) {
        identity_.has_snapshot = true;
        if (auto e = fs_.replace_file(dir_, path(data::identity_name),
                                      data::format_identity(identity_))) {
            identity_.has_snapshot = false;
            report(e->message);
        }
    }
    // The snapshot holds everything the set-aside log did.
    if (fs_.unlink(path(data::old_name)) == 0 && fs_.sync_folder(dir_)) old_log_ = false;
}

}  // namespace herd::net
