// The bytes of a data folder (--data-dir), written once here and read by the server's start, by
// `herd data check` and by `herd data repair`.
//
// Every file is a sequence of entries, one a line:
//
//   <FNV-1a 64 of the payload, 16 lower-case hex digits> <payload>\n
//
// A payload is an AT line, or a control payload that starts with '#'. Every byte of an entry is
// checked: the 16 digits, the one space, the payload against its checksum, the one '\n' (a
// '\r' before it, a blank line or anything else between entries is damage, never skipped).
//
//   records.log   every record the server stored, in order (appended in groups);
//   records.old   the log set aside by a compaction until its snapshot is durable;
//   snapshot      `#herd-snapshot 2`, the store's records, then `#end <records> <offset>`,
//                 where <offset> is where that last entry starts: a snapshot cut short at an
//                 entry boundary is caught. A snapshot without the header was written before
//                 format 2 and is taken only as the folder's identity file recorded it (its
//                 exact size);
//   herd-data     the folder's identity (text): `herd-data 2`, `server NAME`, `herd NAMES...`,
//                 `legacy-snapshot BYTES` when a pre-format-2 snapshot was adopted, and
//                 `snapshot yes` once a snapshot exists (a start without it then refuses);
//   lock          the PID of the server using the folder (the lock is flock() on the folder).
//
// The rule of a start (etcd's WAL, Redis's AOF): only a torn tail of a log may be cut: an
// unterminated last entry, or a last complete entry that fails its checksum with nothing but
// an unterminated remainder after it. Any other damage refuses the start with
// `DIR/FILE: offset N: what is wrong`. The bytes cut are first saved beside the log as
// `records.log.torn-<unix seconds>-<offset>` (or records.old...), so a start deletes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace herd::net::data {

inline constexpr std::size_t checksum_digits = 16;
inline constexpr std::string_view snapshot_header = "#herd-snapshot 2";
inline constexpr std::string_view end_prefix = "#end ";
inline constexpr int folder_format = 2;

inline constexpr std::string_view log_name = "records.log";
inline constexpr std::string_view old_name = "records.old";
inline constexpr std::string_view snapshot_name = "snapshot";
inline constexpr std::string_view snapshot_temp_name = "snapshot.tmp";
inline constexpr std::string_view identity_name = "herd-data";
inline constexpr std::string_view lock_name = "lock";

// The entry of one payload, appended to `out`.
void append_entry(std::string& out, std::string_view payload);
std::string entry(std::string_view payload);
// The payload of one entry given without its '\n', or nothing when it is not intact.
std::optional<std::string_view> payload_of(std::string_view entry);

// One stretch of a file that is not an intact entry.
struct Damage {
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
    std::string what;  // "checksum mismatch", "not an entry", "unterminated entry"
};

struct Found {
    std::uint64_t offset = 0;
    std::string_view payload;
};

// What a file holds: its intact entries and its damaged stretches, found by resynchronising on
// every '\n' (an entry never holds one) and, inside a damaged line, on an intact entry that ends
// it (a damaged '\n' joins two entries), so nothing intact after a damaged stretch is missed.
struct Scan {
    std::vector<Found> entries;
    std::vector<Damage> damage;
    std::uint64_t size = 0;
    // Where a torn tail starts (size when there is none): the damage that a start may cut.
    std::uint64_t torn_at = 0;
    // The first damage before the torn tail, if any: a start refuses on it.
    const Damage* corruption() const;
};
Scan scan(std::string_view bytes);

// A snapshot's structure on top of its entries: nothing when it is sound, else the offset and
// what is wrong. `legacy_bytes`: the size of a pre-format-2 snapshot the identity file vouches
// for (nothing: none may be taken). On success `records` are its record entries.
struct SnapshotCheck {
    std::optional<std::pair<std::uint64_t, std::string>> problem;
    std::vector<Found> records;
};
SnapshotCheck check_snapshot(const Scan& s, std::optional<std::uint64_t> legacy_bytes);
// A whole format-2 snapshot of `records` (payloads given as entries, concatenated).
std::string make_snapshot(std::string_view record_entries, std::uint64_t records);

// The identity file.
struct Identity {
    int format = folder_format;
    std::string server;
    std::string herd;  // the herd's server names, space-separated, in the herd file's order
    std::optional<std::uint64_t> legacy_snapshot_bytes;
    bool has_snapshot = false;  // a compaction wrote one: a start without it refuses
};
std::string format_identity(const Identity& id);
// The identity in `text`, or the Error saying why it is not one (every line once, nothing
// unknown).
Result<Identity> parse_identity(std::string_view text);
// A name as a message shows it: in backquotes, bytes outside printable ASCII escaped.
std::string shown(std::string_view name);

}  // namespace herd::net::data
