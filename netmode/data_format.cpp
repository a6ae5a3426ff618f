#include "netmode/data_format.hpp"

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/peer_protocol.hpp"
#include "core/text.hpp"

#include <set>

namespace herd::net::data {

void append_entry(std::string& out, std::string_view payload) {
    HERD_ASSERT(payload.find('\n') == std::string_view::npos);
    out += hex64(fnv1a64(payload));
    out += ' ';
    out += payload;
    out += '\n';
}

std::string entry(std::string_view payload) {
    std::string out;
    append_entry(out, payload);
    return out;
}

namespace {

bool lower_hex(std::string_view digits) {
    for (char c : digits) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// Why a line between two '\n's is not an intact entry, or null when it is one.
const char* flaw_of(std::string_view line) {
    if (line.size() < checksum_digits + 2 || line[checksum_digits] != ' ' ||
        !lower_hex(line.substr(0, checksum_digits)))
        return "not an entry";
    const std::string_view payload = line.substr(checksum_digits + 1);
    if (hex64(fnv1a64(payload)) != line.substr(0, checksum_digits)) return "checksum mismatch";
    return nullptr;
}

// Where an intact entry ends a damaged line (a lost '\n' joins an entry to the one before it),
// or npos.
std::size_t embedded_entry(std::string_view line) {
    for (std::size_t j = 1; j + checksum_digits + 2 <= line.size(); ++j) {
        if (line[j + checksum_digits] != ' ' || !lower_hex(line.substr(j, checksum_digits)))
            continue;
        if (flaw_of(line.substr(j)) == nullptr) return j;
    }
    return std::string_view::npos;
}

void add_damage(Scan& s, std::uint64_t offset, std::uint64_t bytes, const char* what) {
    // Damaged lines that touch make one stretch, named after its first.
    if (!s.damage.empty() && s.damage.back().offset + s.damage.back().bytes == offset) {
        s.damage.back().bytes += bytes;
        return;
    }
    s.damage.push_back(Damage{offset, bytes, what});
}

}  // namespace

std::optional<std::string_view> payload_of(std::string_view e) {
    if (flaw_of(e) != nullptr) return std::nullopt;
    return e.substr(checksum_digits + 1);
}

Scan scan(std::string_view bytes) {
    Scan s;
    s.size = bytes.size();
    std::uint64_t last_line = 0;  // where the last complete line starts
    bool last_bad = false;
    bool any_line = false;
    std::uint64_t remainder = bytes.size();  // where an unterminated remainder starts
    std::size_t p = 0;
    while (p < bytes.size()) {
        const std::size_t nl = bytes.find('\n', p);
        if (nl == std::string_view::npos) {
            remainder = p;
            add_damage(s, p, bytes.size() - p, "unterminated entry");
            break;
        }
        const std::string_view line = bytes.substr(p, nl - p);
        const char* flaw = flaw_of(line);
        std::size_t intact_from = 0;
        if (flaw != nullptr) {
            intact_from = embedded_entry(line);
            const std::size_t damaged =
                intact_from == std::string_view::npos ? nl + 1 - p : intact_from;
            add_damage(s, p, damaged, flaw);
        }
        if (flaw == nullptr || intact_from != std::string_view::npos)
            s.entries.push_back(
                Found{p + intact_from, line.substr(intact_from + checksum_digits + 1)});
        any_line = true;
        last_line = p;
        last_bad = flaw != nullptr && intact_from == std::string_view::npos;
        p = nl + 1;
    }
    s.torn_at = any_line && last_bad ? last_line : remainder;
    HERD_ASSERT(s.torn_at <= s.size);
    return s;
}

const Damage* Scan::corruption() const {
    if (damage.empty() || damage.front().offset >= torn_at) return nullptr;
    return &damage.front();
}

namespace {

// `#end <records> <offset>`, parsed.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_end(std::string_view payload) {
    if (!payload.starts_with(end_prefix)) return std::nullopt;
    const auto f = fields_of(payload.substr(end_prefix.size()));
    if (f.size() != 2) return std::nullopt;
    const auto records = parse_whole(f[0], UINT64_MAX);
    const auto offset = parse_whole(f[1], UINT64_MAX);
    if (!records || !offset) return std::nullopt;
    return std::pair{*records, *offset};
}

using Problem = std::optional<std::pair<std::uint64_t, std::string>>;

Problem check_v2(const Scan& s) {
    const Found& last = s.entries.back();
    const auto end = s.entries.size() < 2 ? std::nullopt : parse_end(last.payload);
    if (!end) return std::pair{s.size, std::string("no `#end` entry: the snapshot was cut short")};
    if (end->first != s.entries.size() - 2 || end->second != last.offset)
        return std::pair{last.offset, "`#end` says " + std::to_string(end->first) +
                                          " records at offset " + std::to_string(end->second) +
                                          ", the file has " + std::to_string(s.entries.size() - 2) +
                                          " at " + std::to_string(last.offset)};
    return std::nullopt;
}

}  // namespace

SnapshotCheck check_snapshot(const Scan& s, std::optional<std::uint64_t> legacy_bytes) {
    SnapshotCheck out;
    if (!s.damage.empty()) {
        out.problem = std::pair{s.damage.front().offset, s.damage.front().what};
        return out;
    }
    const bool v2 = !s.entries.empty() && s.entries.front().payload == snapshot_header;
    if (v2) {
        out.problem = check_v2(s);
        if (!out.problem) out.records.assign(s.entries.begin() + 1, s.entries.end() - 1);
    } else if (!legacy_bytes || *legacy_bytes != s.size) {
        out.problem = std::pair{std::uint64_t{0},
                                std::string("no `") + std::string(snapshot_header) +
                                    "` header, and the folder's identity vouches for no older "
                                    "snapshot of " +
                                    std::to_string(s.size) + " bytes: cut short or not a snapshot"};
    } else {
        out.records = s.entries;
    }
    if (out.problem) return out;
    for (const Found& f : out.records) {
        if (f.payload.starts_with('#')) {
            out.problem = std::pair{f.offset, std::string("a control entry among the records")};
            out.records.clear();
            return out;
        }
    }
    return out;
}

std::string make_snapshot(std::string_view record_entries, std::uint64_t records) {
    std::string out;
    out.reserve(record_entries.size() + 80);
    append_entry(out, snapshot_header);
    out += record_entries;
    const std::uint64_t end_at = out.size();
    append_entry(out,
                 std::string(end_prefix) + std::to_string(records) + " " + std::to_string(end_at));
    return out;
}

std::string format_identity(const Identity& id) {
    std::string out = "herd-data " + std::to_string(id.format) + "\nserver " + id.server +
                      "\nherd " + id.herd + "\n";
    if (id.legacy_snapshot_bytes)
        out += "legacy-snapshot " + std::to_string(*id.legacy_snapshot_bytes) + "\n";
    if (id.has_snapshot) out += "snapshot yes\n";
    return out;
}

namespace {

// One line of the identity file into `id`; the Error when it is not one, or repeats.
std::optional<Error> identity_line(const std::vector<std::string_view>& f, Identity& id,
                                   std::set<std::string>& seen) {
    const std::string key(f[0]);
    if (!seen.insert(key).second) return Error{"`" + key + "` given twice"};
    if (key == "herd-data" && f.size() == 2) {
        id.format = f[1] == "2" ? 2 : -1;
        if (id.format != folder_format)
            return Error{"format `" + std::string(f[1]) + "`, this herd reads 2"};
        return std::nullopt;
    }
    if (key == "server" && f.size() == 2) {
        id.server = std::string(f[1]);
        return std::nullopt;
    }
    if (key == "herd") {
        for (std::size_t i = 1; i < f.size(); ++i)
            id.herd += (i > 1 ? " " : "") + std::string(f[i]);
        return std::nullopt;
    }
    if (key == "legacy-snapshot" && f.size() == 2 && parse_whole(f[1], UINT64_MAX)) {
        id.legacy_snapshot_bytes = parse_whole(f[1], UINT64_MAX);
        return std::nullopt;
    }
    if (key == "snapshot" && f.size() == 2 && f[1] == "yes") {
        id.has_snapshot = true;
        return std::nullopt;
    }
    return Error{"unknown line `" + key + " ...`"};
}

}  // namespace

Result<Identity> parse_identity(std::string_view text) {
    Identity id;
    id.format = 0;
    std::set<std::string> seen;
    for (const SourceLine& source : source_lines(text)) {
        const auto f = fields_of(source.text);
        if (f.empty()) continue;
        if (auto e = identity_line(f, id, seen))
            return Error{"line " + std::to_string(source.number) + ": " + e->message};
    }
    if (id.format != folder_format) return Error{"no `herd-data 2` line"};
    if (id.server.empty()) return Error{"no `server` line"};
    return id;
}

std::string shown(std::string_view name) {
    std::string out = "`";
    append_json_escaped(out, name);
    return out + "`";
}

}  // namespace herd::net::data
