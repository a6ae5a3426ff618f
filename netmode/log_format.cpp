#include "netmode/log_format.hpp"

#include <algorithm>
#include <ctime>

#include "core/assert.hpp"
#include "core/text.hpp"

namespace herd::net::logfmt {

namespace {

constexpr std::size_t printed_line_bytes_max = logged_line_bytes_max;

bool get_varint(std::string_view in, std::size_t& at, std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (at >= in.size()) return false;
        const auto byte = static_cast<unsigned char>(in[at++]);
        v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

std::int64_t unzigzag(std::uint64_t v) {
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

void append_escaped(std::string& out, std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;  // UTF-8 stays readable
        }
    }
}

}  // namespace

char* put_varint(char* out, std::uint64_t v) {
    while (v >= 0x80) {
        *out++ = static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *out++ = static_cast<char>(v);
    return out;
}

char* put_zigzag(char* out, std::int64_t v) {
    return put_varint(out,
                      (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

// Reads one entry: its fields by kind (see the grammar in the header).
Parse parse_entry(std::string_view in, Entry& e) {
    if (in.empty()) return Parse::incomplete;
    e = Entry{};
    e.kind = static_cast<Kind>(in[0]);
    std::size_t at = 1;
    std::uint64_t v = 0;
    auto need = [&](std::uint64_t& field) { return get_varint(in, at, field); };
    switch (e.kind) {
        case Kind::run:
            e.bytes = 1;
            return Parse::ok;
        case Kind::magic:
            if (in.size() < magic.size())
                return magic.starts_with(in) ? Parse::incomplete : Parse::bad;
            if (!in.starts_with(magic)) return Parse::bad;
            e.bytes = magic.size();
            return Parse::ok;
        case Kind::time:
            if (!need(e.number)) break;
            e.bytes = at;
            return Parse::ok;
        case Kind::lost:
            if (!need(e.count)) break;
            e.bytes = at;
            return Parse::ok;
        case Kind::event:
        case Kind::read:
        case Kind::written:
        case Kind::again:
        case Kind::relayed: {
            if (!need(v)) break;
            e.dt_us = unzigzag(v);
            if (e.kind != Kind::event && !need(e.number)) break;
            std::uint64_t n = 0;
            if (!need(n)) break;
            if (e.kind == Kind::again || e.kind == Kind::relayed) {
                if (n == 0 || n > again_window) return Parse::bad;
                e.count = n;
                if (e.kind == Kind::relayed && (!need(e.at) || !need(e.length))) break;
                e.bytes = at;
                return Parse::ok;
            }
            if (n > in.size() - at)
                return n > (std::uint64_t{1} << 32) ? Parse::bad : Parse::incomplete;
            e.payload = in.substr(at, static_cast<std::size_t>(n));
            e.bytes = at + static_cast<std::size_t>(n);
            return Parse::ok;
        }
        default:
            return Parse::bad;
    }
    // A varint ran off the end: incomplete, unless it is longer than any varint can be.
    return in.size() - 1 < 3 * 10 ? Parse::incomplete : Parse::bad;
}

std::uint64_t lines_in(const Entry& e) {
    switch (e.kind) {
        case Kind::event:
            return 1;
        case Kind::read:
        case Kind::written:
            return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::count(
                                                  e.payload.begin(), e.payload.end(), '\n')));
        case Kind::again:
        case Kind::relayed:
            return 1;
        default:
            return 0;
    }
}

void LogPrinter::stamp(std::string& out) const {
    const std::int64_t second =
        time_us_ >= 0 ? time_us_ / 1'000'000 : (time_us_ - 999'999) / 1'000'000;
    const auto micros = static_cast<std::uint64_t>(time_us_ - second * 1'000'000);
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[40];
    const int n =
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    out.append(text, static_cast<std::size_t>(std::max(n, 0)));
    append_padded(out, micros, 6);
    out += "Z ";
}

void LogPrinter::line(char dir, std::uint64_t conn, std::string_view kept, std::size_t length,
                      std::string& out) {
    if (!heartbeats_ && length == 4 && kept == "PING") return;
    stamp(out);
    out += "conn ";
    append_decimal(out, conn);
    out += ' ';
    out += dir;
    out += ' ';
    append_escaped(out, kept.substr(0, printed_line_bytes_max));
    if (length > printed_line_bytes_max) {
        out += "... (";
        append_decimal(out, length);
        out += " bytes)";
    }
    out += '\n';
}

void LogPrinter::Partial::add(std::string_view piece) {
    if (kept.size() < printed_line_bytes_max)
        kept.append(piece.substr(0, printed_line_bytes_max - kept.size()));
    length += piece.size();
}

// Splits bytes of one connection and direction into lines; a line's start may be waiting from
// an earlier entry.
void LogPrinter::lines(char dir, std::uint64_t conn, std::string_view bytes, std::string& out) {
    const auto key = std::make_pair(dir, conn);
    while (!bytes.empty()) {
        const std::size_t end = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, end);
        auto waiting = partial_.find(key);
        if (end == std::string_view::npos) {
            (waiting == partial_.end() ? partial_[key] : waiting->second).add(piece);
            return;
        }
        if (waiting == partial_.end()) {
            line(dir, conn, piece, piece.size(), out);
        } else {
            Partial p = std::move(waiting->second);
            partial_.erase(waiting);
            p.add(piece);
            line(dir, conn, p.kept, p.length, out);
        }
        bytes.remove_prefix(end + 1);
    }
}

// A '=' or '^' names bytes this printer holds (a file printed from its middle may not).
bool LogPrinter::names_known(const Entry& e, std::string& out) {
    const bool known = e.kind == Kind::again
                           ? e.count <= written_known_
                           : e.count <= read_known_ && e.at <= read_[e.count - 1].size() &&
                                 e.length <= read_[e.count - 1].size() - e.at;
    if (known) return true;
    stamp(out);
    out += "conn ";
    append_decimal(out, e.number);
    out += " > (bytes written that this log names but does not hold)\n";
    return false;
}

void LogPrinter::unfinished(std::string& out) {
    for (const auto& [key, p] : partial_) {
        line(key.first, key.second, p.kept, p.length, out);
        if (!out.empty() && out.back() == '\n') {
            out.pop_back();
            out += " (no end of line)\n";
        }
    }
    partial_.clear();
}

void LogPrinter::entry(const Entry& e, std::string& out) {
    switch (e.kind) {
        case Kind::magic:
            started_ = true;
            return;
        case Kind::run:
            unfinished(out);
            written_known_ = read_known_ = 0;
            return;
        case Kind::time:
            time_us_ = static_cast<std::int64_t>(e.number);
            return;
        case Kind::lost:
            stamp(out);
            out += "(";
            append_decimal(out, e.count);
            out += " log lines lost here: the log's buffer was full or its disk failed)\n";
            return;
        default:
            break;
    }
    // (Wrapping, not overflowing, on a damaged or forged time.)
    time_us_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(time_us_) +
                                         static_cast<std::uint64_t>(e.dt_us));
    if (e.kind == Kind::event) {
        stamp(out);
        append_escaped(out, e.payload);
        out += '\n';
        return;
    }
    if (e.kind == Kind::read) {
        std::move_backward(read_.begin(), read_.end() - 1, read_.end());
        read_[0] = std::string(e.payload);
        read_known_ = std::min(read_known_ + 1, read_.size());
        return lines('<', e.number, e.payload, out);
    }
    std::string payload;
    if (e.kind == Kind::again || e.kind == Kind::relayed) {
        if (!names_known(e, out)) return;
        payload = e.kind == Kind::again ? written_[e.count - 1]
                                        : read_[e.count - 1].substr(e.at, e.length);
    } else {
        payload = std::string(e.payload);
    }
    std::move_backward(written_.begin(), written_.end() - 1, written_.end());
    written_[0] = payload;
    written_known_ = std::min(written_known_ + 1, written_.size());
    lines('>', e.number, payload, out);
}

std::size_t LogPrinter::feed(std::string_view data, std::string& out, bool at_end) {
    std::size_t at = 0;
    if (!started_) {
        // A text log from before this format (or the text before the first run) as it is.
        const std::size_t first = data.find(magic);
        if (first == std::string_view::npos) {
            const std::size_t keep =
                at_end ? data.size() : data.size() - std::min(data.size(), magic.size());
            out.append(data.substr(0, keep));
            return keep;
        }
        out.append(data.substr(0, first));
        at = first;
    }
    while (at < data.size()) {
        Entry e;
        const Parse p = parse_entry(data.substr(at), e);
        if (p == Parse::incomplete && !at_end) break;
        if (p != Parse::ok) {
            // Damage (a write cut short by a full disk, a killed process): skip to the next run.
            const std::size_t next = data.find(magic, at + 1);
            const std::size_t skip = (next == std::string_view::npos ? data.size() : next) - at;
            stamp(out);
            out += "(";
            append_decimal(out, skip);
            out += " bytes of the log unreadable here)\n";
            at += skip;
            continue;
        }
        entry(e, out);
        at += e.bytes;
    }
    return at;
}

void LogPrinter::finish(std::string& out) {
    unfinished(out);
}

}  // namespace herd::net::logfmt
