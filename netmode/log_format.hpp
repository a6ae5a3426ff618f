// The server log's file format: written by EventLog (netmode/event_log.hpp), read back as text
// by `herd log` (LogPrinter below). The grammar lives here, once.
//
//   file    := magic entry*            (a file may hold several runs: each starts with magic)
//   magic   := "HERDLOG1\n"
//   entry   := 'T' varint(µs since the Unix epoch)              the time from here on
//            | 'E' zigzag(dt) varint(n) byte{n}                 an event (one line of text)
//            | '<' zigzag(dt) varint(conn) varint(n) byte{n}    bytes read from a connection
//            | '>' zigzag(dt) varint(conn) varint(n) byte{n}    bytes written to a connection
//            | '=' zigzag(dt) varint(conn) varint(k)            written: the same bytes as the
//                                                               k-th last written payload (1..4)
//            | '^' zigzag(dt) varint(conn) varint(k) varint(at) varint(n)
//                                                               written: bytes at..at+n of the
//                                                               k-th last '<' payload (1..4)
//            | 'L' varint(count)                                lines lost here (buffer full
//                                                               or disk trouble)
//            | 'S'                                              a run starts (a process began
//                                                               writing, or began again after
//                                                               trouble): lines left unfinished
//                                                               before it stay so
//
// dt is the time since the previous entry in µs (signed: the wall clock may step back). Bytes
// read and written are stored as they were, whole lines or not (a line may span entries of its
// connection). Bytes written that were just written (a flood to several peers, a reply that is
// also flooded) or just read (a record a server passes on) are named, not stored again: a
// record that travels through a server is its bytes once plus where they went. Raw bytes stay
// greppable in the file itself (`grep -a`); `herd log` prints the plain text, one line each.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace herd::net::logfmt {

inline constexpr std::string_view magic = "HERDLOG1\n";
// An entry's kind, length and counters take at most this many bytes before its payload.
inline constexpr std::size_t entry_head_bytes_max = 1 + 5 * 10;
// Longer payloads are stored as several entries of the same kind and connection.
inline constexpr std::size_t payload_piece_bytes_max = 16 * 1024;
// A line read is logged by at most its first this many bytes (and its length); longer ones are
// printed so too.
inline constexpr std::size_t logged_line_bytes_max = 4096;
// '=' names one of this many last payloads written, '^' one of this many last read.
inline constexpr std::size_t again_window = 4;

enum class Kind : char {
    time = 'T',
    event = 'E',
    read = '<',
    written = '>',
    again = '=',
    relayed = '^',
    lost = 'L',
    run = 'S',
    magic = 'H',  // the magic's first byte: a new run (or a resynchronised one) starts here
};

// Appends to `out` (which has entry_head_bytes_max bytes of room); returns the end.
char* put_varint(char* out, std::uint64_t v);
char* put_zigzag(char* out, std::int64_t v);

struct Entry {
    Kind kind = Kind::time;
    std::int64_t dt_us = 0;    // event, read, written, again
    std::uint64_t number = 0;  // time: µs since the epoch; read/written/again: the conn
    std::uint64_t count = 0;   // again, relayed: k; lost: lines
    std::uint64_t at = 0;      // relayed: where in the read payload
    std::uint64_t length = 0;  // relayed: how many bytes
    std::string_view payload;  // event, read, written
    std::size_t bytes = 0;     // the whole entry's size in the file
};

enum class Parse { ok, incomplete, bad };
// Reads the entry at the start of `in`.
Parse parse_entry(std::string_view in, Entry& e);

// Lines (counted by '\n'; an event is one) an entry carries: what a loss of it costs.
std::uint64_t lines_in(const Entry& e);

// Renders entries as the log's text, one line per event and per line read or written:
//   2026-12-07T18:31:43.246628Z conn 3 < IAMAT kiwi +34.068930-118.445127 1796668303.0
// Control bytes and the backslash are escaped (\\, \xNN; other bytes, UTF-8, are printed as
// they are); a line longer than 4 KiB is printed by its first 4 KiB and its length; heartbeats
// (PING) are left out unless asked for. A line is printed with the time of the entry that
// completes it; one left unfinished when a run ends, at the run's end. One printer reads the
// files of a rotated log in order (oldest first) as one log.
class LogPrinter {
  public:
    explicit LogPrinter(bool heartbeats) : heartbeats_(heartbeats) {}
    // Decodes as much of `data` as holds whole entries, appending text to `out`; returns the
    // bytes consumed (the rest is an entry still being written). Text before the first magic
    // (a log from before this format) is printed as it is; damage is reported in the text and
    // skipped up to the next magic.
    std::size_t feed(std::string_view data, std::string& out, bool at_end);
    // At the end of the input: lines still without their '\n', marked so.
    void finish(std::string& out);

  private:
    void entry(const Entry& e, std::string& out);
    void lines(char dir, std::uint64_t conn, std::string_view bytes, std::string& out);
    void line(char dir, std::uint64_t conn, std::string_view kept, std::size_t length,
              std::string& out);
    void stamp(std::string& out) const;
    void unfinished(std::string& out);
    bool names_known(const Entry& e, std::string& out);

    bool heartbeats_;
    bool started_ = false;
    std::int64_t time_us_ = 0;
    std::array<std::string, again_window> written_;  // the last payloads written, newest first
    std::array<std::string, again_window> read_;     // the last payloads read, newest first
    std::size_t written_known_ = 0;                  // of written_ since this run began
    std::size_t read_known_ = 0;
    struct Partial {
        std::string kept;  // its first bytes (at most 4 KiB)
        std::size_t length = 0;
        void add(std::string_view piece);
    };
    std::map<std::pair<char, std::uint64_t>, Partial> partial_;  // lines without their end yet
};

}  // namespace herd::net::logfmt
