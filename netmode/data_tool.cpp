#include "netmode/data_tool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "core/record.hpp"

namespace herd::net {

namespace {

constexpr std::string_view file_names[] = {data::snapshot_name, data::old_name, data::log_name};

std::string at_offset(const std::string& file, std::uint64_t offset, std::string_view what) {
    return file + ": offset " + std::to_string(offset) + ": " + std::string(what);
}

// Entries whose payload is no record count as damage too (a start would refuse them).
void records_only(std::vector<data::Found>& found, std::vector<data::Damage>& damage) {
    std::vector<data::Found> kept;
    for (const data::Found& f : found) {
        if (AtLineView::parse(f.payload)) {
            kept.push_back(f);
        } else {
            damage.push_back(data::Damage{f.offset, f.payload.size() + data::checksum_digits + 2,
                                          "not an AT line"});
        }
    }
    std::sort(damage.begin(), damage.end(),
              [](const data::Damage& a, const data::Damage& b) { return a.offset < b.offset; });
    found = std::move(kept);
}

// The identity file: who the folder belongs to, and its word on an older snapshot.
std::optional<std::uint64_t> read_identity(DataCheck& c, DataFs& fs, bool* error) {
    bool missing = false;
    auto read = fs.read(c.dir + "/" + std::string(data::identity_name), &missing);
    if (const Error* e = error_of(read)) {
        c.identity = e->message;
        c.identity_ok = false;
        *error = true;
        return std::nullopt;
    }
    if (missing) {
        c.identity = "no identity file (made by the first start of this version)";
        return std::nullopt;
    }
    const auto parsed = data::parse_identity(std::get<FileBytes>(read).view());
    if (const Error* e = error_of(parsed)) {
        c.identity = std::string(data::identity_name) + ": " + e->message;
        c.identity_ok = false;
        return std::nullopt;
    }
    const data::Identity& id = std::get<data::Identity>(parsed);
    c.identity = "server " + data::shown(id.server) + ", herd " + id.herd;
    c.snapshot_expected = id.has_snapshot;
    return id.legacy_snapshot_bytes;
}

DataFileReport check_file(const std::string& dir, std::string_view name, std::string_view bytes,
                          std::optional<std::uint64_t> legacy, bool identity_missing) {
    DataFileReport r;
    r.name = std::string(name);
    r.present = true;
    r.size = bytes.size();
    const std::string file = dir + "/" + r.name;
    const data::Scan s = data::scan(bytes);
    r.damage = s.damage;
    r.torn_at = s.torn_at;
    std::vector<data::Found> found = s.entries;
    if (name == data::snapshot_name) {
        r.torn_at = r.size;
        // A folder without an identity vouches for the headerless snapshot it has (a start
        // adopts it).
        if (identity_missing && !bytes.starts_with(data::entry(data::snapshot_header)))
            legacy = bytes.size();
        const auto check = data::check_snapshot(s, legacy);
        if (check.problem) r.refusal = at_offset(file, check.problem->first, check.problem->second);
        if (!check.problem) found = check.records;
        std::erase_if(found, [](const data::Found& f) { return f.payload.starts_with('#'); });
    } else if (const data::Damage* d = s.corruption()) {
        r.refusal = at_offset(file, d->offset, d->what);
    }
    records_only(found, r.damage);
    if (!r.refusal) {
        for (const data::Damage& d : r.damage) {
            if (d.offset < r.torn_at) {
                r.refusal = at_offset(file, d.offset, d.what);
                break;
            }
        }
    }
    r.entries = found.size();
    return r;
}

}  // namespace

bool DataCheck::clean() const {
    return identity_ok && std::none_of(files.begin(), files.end(),
                                       [](const DataFileReport& f) { return f.damaged(); });
}

bool DataCheck::start_refuses() const {
    return !identity_ok || std::any_of(files.begin(), files.end(), [](const DataFileReport& f) {
        return f.refusal.has_value();
    });
}

Result<DataCheck> check_data_folder(const std::string& dir, DataFs& fs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return Error{dir + ": no such folder", 2};
    DataCheck c;
    c.dir = dir;
    bool unreadable = false;
    const auto legacy = read_identity(c, fs, &unreadable);
    if (unreadable) return Error{c.identity, 2};
    const bool identity_missing = c.identity.starts_with("no identity");
    for (std::string_view name : file_names) {
        bool missing = false;
        auto read = fs.read(dir + "/" + std::string(name), &missing);
        if (const Error* e = error_of(read)) return Error{e->message, 2};
        if (missing && name == data::snapshot_name && c.snapshot_expected) {
            DataFileReport r;
            r.name = std::string(name);
            r.refusal = dir + "/snapshot: missing, though " + std::string(data::identity_name) +
                        " says a compaction wrote one";
            c.files.push_back(r);
        }
        if (missing) continue;
        c.files.push_back(
            check_file(dir, name, std::get<FileBytes>(read).view(), legacy, identity_missing));
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.find(".torn-") != std::string::npos) c.torn_saved.push_back(name);
        if (name.find(".damaged-") != std::string::npos) c.set_aside.push_back(name);
    }
    std::sort(c.torn_saved.begin(), c.torn_saved.end());
    std::sort(c.set_aside.begin(), c.set_aside.end());
    return c;
}

std::string format_data_check(const DataCheck& c) {
    std::string out = c.dir + ": " + c.identity + "\n";
    std::uint64_t records = 0;
    for (const DataFileReport& f : c.files) {
        records += f.entries;
        out += c.dir + "/" + f.name + ": " + std::to_string(f.size) + " bytes, " +
               std::to_string(f.entries) + " intact records" + (f.damaged() ? "" : ", sound") +
               "\n";
        for (const data::Damage& d : f.damage) {
            out += "  offset " + std::to_string(d.offset) + " (" + std::to_string(d.bytes) +
                   " bytes): " + d.what +
                   (d.offset >= f.torn_at ? " -- a torn tail: a start cuts it (saving it aside)"
                                          : "") +
                   "\n";
        }
    }
    for (const std::string& t : c.torn_saved)
        out += c.dir + "/" + t + ": a torn tail an earlier start cut and saved\n";
    for (const std::string& t : c.set_aside)
        out += c.dir + "/" + t + ": an original set aside by `herd data repair`\n";
    if (c.clean()) return out + "verdict: sound (" + std::to_string(records) + " records)\n";
    if (!c.start_refuses())
        return out + "verdict: a torn tail only; a start cuts it and loads the rest\n";
    for (const DataFileReport& f : c.files) {
        if (f.refusal) out += "a start refuses: " + *f.refusal + "\n";
    }
    if (!c.identity_ok) {
        return out + "a start refuses: " + c.identity +
               "\nverdict: the identity file is damaged: `herd data repair` does not rewrite it; "
               "fix " +
               c.dir + "/" + std::string(data::identity_name) +
               " by hand (or remove it: the next start writes it for the server it is given)\n";
    }
    return out + "verdict: damaged; `herd data repair " + c.dir + "` keeps " +
           std::to_string(records) + " intact records and sets the damaged files aside\n";
}

namespace {

// The intact records of a damaged file, as the bytes of its replacement.
std::string rebuilt(std::string_view name, std::string_view bytes, std::uint64_t* kept) {
    const data::Scan s = data::scan(bytes);
    std::string entries;
    std::uint64_t n = 0;
    for (const data::Found& f : s.entries) {
        if (f.payload.starts_with('#') || !AtLineView::parse(f.payload)) continue;
        data::append_entry(entries, f.payload);
        n += 1;
    }
    *kept = n;
    return name == data::snapshot_name ? data::make_snapshot(entries, n) : entries;
}

// The new file written and synced, the original set aside, the new one put in its place.
std::optional<Error> replace_damaged(const std::string& dir, const std::string& name,
                                     const std::string& bytes, const std::string& aside,
                                     DataFs& fs) {
    const std::string file = dir + "/" + name;
    const std::string temporary = file + ".repair";
    const int fd = fs.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const bool ok = fd >= 0 && fs.write_all(fd, bytes) == bytes.size() && fs.fdatasync(fd) == 0;
    if (fd >= 0) fs.close(fd);
    if (!ok) {
        fs.unlink(temporary);
        return Error{temporary + ": cannot write", 2};
    }
    if (fs.rename(file, dir + "/" + aside) != 0 || fs.rename(temporary, file) != 0 ||
        !fs.sync_folder(dir))
        return Error{file + ": cannot put the repaired file in place", 2};
    return std::nullopt;
}

}  // namespace

Result<DataRepair> repair_data_folder(const std::string& dir, DataFs& fs) {
    auto check = check_data_folder(dir, fs);
    if (const Error* e = error_of(check)) return *e;
    auto locked = lock_data_folder(dir);
    if (const Error* e = error_of(locked)) return *e;
    const int lock_fd = std::get<int>(locked);
    DataRepair r;
    const std::string stamp = std::to_string(std::time(nullptr));
    for (const DataFileReport& f : std::get<DataCheck>(check).files) {
        if (!f.damaged()) continue;
        if (!f.present) {
            // A snapshot the identity expects is gone: an empty one lets the server start, and
            // its neighbours give it back what the snapshot held.
            if (auto e = fs.replace_file(dir, dir + "/" + f.name, data::make_snapshot("", 0))) {
                ::close(lock_fd);
                return Error{e->message, 2};
            }
            r.changed = true;
            r.lines.push_back(f.name +
                              ": missing; an empty one written (its records are lost "
                              "here: a server in a herd gets them back by anti-entropy)");
            continue;
        }
        bool missing = false;
        auto read = fs.read(dir + "/" + f.name, &missing);
        if (const Error* e = error_of(read)) {
            ::close(lock_fd);
            return Error{e->message, 2};
        }
        std::uint64_t kept = 0;
        const std::string bytes = rebuilt(f.name, std::get<FileBytes>(read).view(), &kept);
        const std::string aside =
            std::filesystem::path(unused_name(dir + "/" + f.name + ".damaged-" + stamp))
                .filename()
                .string();
        if (auto e = replace_damaged(dir, f.name, bytes, aside, fs)) {
            ::close(lock_fd);
            return *e;
        }
        std::uint64_t lost = 0;
        for (const data::Damage& d : f.damage)
            lost += d.bytes;
        r.kept += kept;
        r.lost_bytes += lost;
        r.changed = true;
        r.lines.push_back(f.name + ": kept " + std::to_string(kept) + " intact records, lost " +
                          std::to_string(f.damage.size()) + " damaged stretches (" +
                          std::to_string(lost) + " bytes); the original is " + aside);
    }
    ::close(lock_fd);
    if (!r.changed) r.lines.push_back("nothing to repair: every file is intact");
    return r;
}

}  // namespace herd::net
