// The storage-fault harness (the ALICE / CrashMonkey idea, in process). A data folder is written
// by a real StoreFile (appends, group commits, a compaction, and a compaction cut short), then
// every case below is applied to a copy and a real Node is started from it:
//   - every torn prefix of every file, a bit flip at sampled offsets of every entry, zeroed
//     ranges, reordered and duplicated entries, CRLF line endings and a leading blank line;
//   - a failure of every write, fsync, truncate, rename, unlink and folder sync, one at a time,
//     during appends and a compaction: as a crash (that call and all later ones fail, a write
//     leaving half its bytes) and as a transient error.
// For each: every acknowledged record whose bytes are intact somewhere is restored (or a newer
// record of its client), nothing is restored that was never written, or the start refuses with
// `DIR/FILE: offset N:`; a refused start changes no byte of the folder, and a start that cuts a
// torn tail saves the cut bytes beside the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/text.hpp"
#include "data_helpers.hpp"
#include "harness.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);
using Sync = net::StoreFile::Sync;

std::string line_of(int client, int round) {
    return "AT A +0.000000000 c" + std::to_string(client) + " +1.0+1.0 " +
           std::to_string(1000 + round);
}

long long time_of(std::string_view line) {
    return std::stoll(std::string(line.substr(line.rfind(' ') + 1)));
}

std::string client_of(std::string_view line) {
    const auto f = fields_of(line);
    return std::string(f[3]);
}

NodeConfig solo_config() {
    NodeConfig c;
    c.self = *ServerName::parse("A");
    return c;
}

// One copy of an entry in one file of the written folder.
struct Copy {
    std::string file;
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
    std::string line;
};

struct Written {
    std::map<std::string, std::string> files;  // every file but the lock
    std::vector<std::string> acked;            // every acknowledged AT line
    std::vector<Copy> copies;
};

void append_round(net::StoreFile& f, int round, int clients, std::vector<std::string>& acked) {
    for (int c = 0; c < clients; ++c) {
        f.append(line_of(c, round));
        if (c % 7 == 6 || c == clients - 1) {
            ASSERT_TRUE(f.flush());  // a group commit
            for (int k = c - (c % 7 == 6 ? 6 : c % 7); k <= c; ++k)
                acked.push_back(line_of(k, round));
        }
    }
}

std::string store_of(int clients, int round) {
    std::string out;
    for (int c = 0; c < clients; ++c)
        net::data::append_entry(out, line_of(c, round));
    return out;
}

// A folder as a real run leaves it: three rounds of 20 clients, a compaction, a fourth round;
// with `set_aside`, also a compaction cut short after its log was set aside, and a fifth round.
Written write_folder(const std::string& test, bool set_aside) {
    const std::string dir = temp_dir(test) + "/data";
    Written w;
    {
        net::StoreFile f(dir, data_options(Sync::always));
        EXPECT_FALSE(open_store(f).error);
        for (int round = 1; round <= 3; ++round)
            append_round(f, round, 20, w.acked);
        f.snapshot(store_of(20, 3));
        EXPECT_TRUE(wait_until([&] { return !f.compacting(); }, 10000ms));
        EXPECT_EQ(f.snapshots_written(), 1u);
        append_round(f, 4, 12, w.acked);
    }
    if (set_aside) {
        std::filesystem::rename(dir + "/records.log", dir + "/records.old");
        net::StoreFile f(dir, data_options(Sync::always));
        const Opened o = open_store(f);
        if (o.error) ADD_FAILURE() << o.error->message;
        if (o.error) return w;
        append_round(f, 5, 9, w.acked);
    }
    w.files = folder_bytes(dir);
    for (const auto& [name, bytes] : w.files) {
        if (name != "snapshot" && !name.starts_with("records.")) continue;
        for (const auto& e : net::data::scan(bytes).entries) {
            if (e.payload.starts_with('#')) continue;
            w.copies.push_back(Copy{name, e.offset, e.payload.size() + 18, std::string(e.payload)});
        }
    }
    return w;
}

enum class Expect { load, refuse, either };

struct Case {
    std::string what;
    std::string file;
    std::string bytes;
    std::uint64_t damaged_from = 0;  // [from, to) of the original file no longer intact
    std::uint64_t damaged_to = 0;
    Expect expect = Expect::either;
};

struct Tally {
    std::size_t cases = 0;
    std::size_t loaded = 0;
    std::size_t refused = 0;
    std::size_t cut = 0;
};

// The newest acknowledged line of each client that survives intact somewhere.
std::map<std::string, long long> intact_newest(const Written& w, const Case& c) {
    std::set<std::string> intact;
    for (const Copy& copy : w.copies) {
        const bool hit = copy.file == c.file && copy.offset < c.damaged_to &&
                         copy.offset + copy.bytes > c.damaged_from;
        if (!hit) intact.insert(copy.line);
    }
    std::map<std::string, long long> newest;
    for (const std::string& line : w.acked) {
        if (!intact.count(line)) continue;
        long long& t = newest[client_of(line)];
        t = std::max(t, time_of(line));
    }
    return newest;
}

// The mutated file after a start that loaded: as it was, or cut with the cut bytes saved.
void check_cut(const std::string& dir, const Case& c,
               const std::map<std::string, std::string>& after, Tally& tally) {
    const std::string now = after.at(c.file);
    if (now == c.bytes) return;
    ASSERT_TRUE(c.bytes.starts_with(now)) << c.what << ": the start rewrote " << c.file;
    std::string saved;
    for (const auto& [name, bytes] : after) {
        if (name.starts_with(c.file + ".torn-")) saved = bytes;
    }
    ASSERT_EQ(now + saved, c.bytes) << c.what << ": the cut bytes were not saved whole in " << dir;
    tally.cut += 1;
}

void run_case(const Written& w, const Case& c, const std::string& dir, Tally& tally) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    for (const auto& [name, bytes] : w.files)
        write_file(dir + "/" + name, name == c.file ? c.bytes : bytes);
    const auto before = folder_bytes(dir);
    Node node(solo_config(), Now{});
    net::StoreFile f(dir, data_options(Sync::always));
    auto opened = f.open([&](std::string_view line) -> std::optional<std::string> {
        if (!node.restore_record(line)) return std::string("not an AT line");
        return std::nullopt;
    });
    tally.cases += 1;
    if (const Error* e = error_of(opened)) {
        tally.refused += 1;
        EXPECT_NE(c.expect, Expect::load) << c.what << ": " << e->message;
        EXPECT_TRUE(e->message.starts_with(dir + "/" + c.file + ": offset "))
            << c.what << ": " << e->message;
        EXPECT_EQ(folder_bytes(dir), before) << c.what << ": a refused start changed the folder";
        EXPECT_FALSE(std::filesystem::exists(dir + "/lock")) << c.what << ": a refused start wrote";
        return;
    }
    tally.loaded += 1;
    EXPECT_NE(c.expect, Expect::refuse) << c.what << ": loaded";
    const std::set<std::string> written(w.acked.begin(), w.acked.end());
    for (const auto& [client, t] : intact_newest(w, c)) {
        const Record* r = node.store().find(client);
        ASSERT_NE(r, nullptr) << c.what << ": " << client << " lost";
        EXPECT_GE(time_of(r->at_line()), t) << c.what << ": " << client << " went back";
    }
    node.store().for_each([&](const Record& r) {
        EXPECT_TRUE(written.count(std::string(r.at_line())))
            << c.what << ": forged " << r.at_line();
    });
    f.flush();
    const auto after = folder_bytes(dir);
    for (const auto& [name, bytes] : w.files) {
        if (name == c.file) continue;
        EXPECT_EQ(after.at(name), bytes) << c.what << ": " << name << " changed";
    }
    check_cut(dir, c, after, tally);
}

// Every case for one file of the folder.
std::vector<Case> cases_for(const std::string& file, const std::string& bytes) {
    const bool log = file != "snapshot";
    std::vector<Case> out;
    for (std::size_t n = 0; n < bytes.size(); ++n)
        out.push_back(Case{"torn prefix " + std::to_string(n) + " of " + file, file,
                           bytes.substr(0, n), n, bytes.size(),
                           log ? Expect::load : Expect::refuse});
    const auto entries = net::data::scan(bytes).entries;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::uint64_t at = entries[i].offset;
        const std::uint64_t end = i + 1 < entries.size() ? entries[i + 1].offset : bytes.size();
        const bool last = i + 1 == entries.size();
        for (std::uint64_t o : {at, at + 5, at + 16, at + 17, (at + end) / 2, end - 1}) {
            Case c{"bit flip at " + std::to_string(o) + " of " + file, file, bytes, o, o + 1};
            c.bytes[o] = static_cast<char>(c.bytes[o] ^ (o % 2 == 0 ? 0x01 : 0x20));
            c.expect = log && !last ? Expect::refuse : log ? Expect::either : Expect::refuse;
            out.push_back(std::move(c));
        }
        for (std::uint64_t len : {std::uint64_t{8}, std::uint64_t{64}, std::uint64_t{512}}) {
            const std::uint64_t to = std::min<std::uint64_t>(at + len, bytes.size());
            Case c{"zeroes at " + std::to_string(at) + "+" + std::to_string(len) + " of " + file,
                   file, bytes, at, to};
            std::fill(c.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                      c.bytes.begin() + static_cast<std::ptrdiff_t>(to), '\0');
            out.push_back(std::move(c));
        }
        const std::string one(bytes.substr(at, end - at));
        Case dup{"entry " + std::to_string(i) + " twice in " + file,
                 file,
                 bytes,
                 0,
                 0,
                 log ? Expect::load : Expect::either};
        dup.bytes.insert(end, one);
        out.push_back(std::move(dup));
        // Reordered: entry i after entry i + 1 (a snapshot's header and `#end` stay put).
        if (i + 2 < entries.size() || (log && i + 1 < entries.size())) {
            if (!log && i == 0) continue;
            const std::uint64_t next_end =
                i + 2 < entries.size() ? entries[i + 2].offset : bytes.size();
            Case swap{"entries " + std::to_string(i) + " and " + std::to_string(i + 1) +
                          " swapped in " + file,
                      file,
                      bytes,
                      0,
                      0,
                      Expect::load};
            swap.bytes.replace(at, next_end - at, bytes.substr(end, next_end - end) + one);
            out.push_back(std::move(swap));
        }
    }
    std::string crlf;
    for (char ch : bytes)
        crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
    out.push_back(Case{"CRLF " + file, file, crlf, 0, bytes.size(), Expect::refuse});
    out.push_back(Case{"blank line before " + file, file, "\n" + bytes, 0, 0, Expect::refuse});
    return out;
}

void run_all(const std::string& test, bool set_aside) {
    const Written w = write_folder(test, set_aside);
    ASSERT_EQ(w.files.count("snapshot"), 1u);
    ASSERT_EQ(w.files.count("records.old"), set_aside ? 1u : 0u);
    const std::string dir = temp_dir(test + "-case") + "/data";
    Tally tally;
    for (const auto& [name, bytes] : w.files) {
        if (name != "snapshot" && !name.starts_with("records.")) continue;
        for (const Case& c : cases_for(name, bytes)) {
            run_case(w, c, dir, tally);
            if (::testing::Test::HasFatalFailure()) return;
        }
    }
    std::cout << test << ": " << tally.cases << " damaged folders: " << tally.loaded << " loaded ("
              << tally.cut << " with a torn tail cut and saved), " << tally.refused
              << " refused with file and offset\n";
    ::testing::Test::RecordProperty("cases", static_cast<int>(tally.cases));
    EXPECT_GT(tally.refused, 100u);
    EXPECT_GT(tally.cut, 100u);
}

TEST(DataFaults, EveryDamageToACompactedFolderIsRestoredAroundOrRefused) {
    run_all("faults-compacted", false);
}

TEST(DataFaults, EveryDamageToAFolderWithASetAsideLogIsRestoredAroundOrRefused) {
    run_all("faults-set-aside", true);
}

// ---------------------------------------------------------------- failures of system calls

struct FaultRun {
    bool reached = false;
    std::vector<std::string> acked;
};

void flush_and_ack(net::StoreFile& f, std::vector<std::pair<std::uint64_t, std::string>>& waiting,
                   std::vector<std::string>& acked) {
    f.flush();
    const std::uint64_t durable = f.durable_seq();
    std::erase_if(waiting, [&](const auto& w) {
        if (w.first > durable) return false;
        acked.push_back(w.second);
        return true;
    });
}

// A StoreFile over `fs` failing its `k`-th call after open: appends, a compaction, more appends.
FaultRun run_with_fault(const std::string& dir, FaultyFs& fs, long k, bool crash) {
    FaultRun run;
    {
        net::StoreFile base(dir, data_options(Sync::always));
        EXPECT_FALSE(open_store(base).error);
        for (int c = 0; c < 20; ++c) {
            base.append(line_of(c, 1));
            run.acked.push_back(line_of(c, 1));
        }
        EXPECT_TRUE(base.flush());
    }
    fs.crash = crash;
    net::StoreFile f(dir, data_options(Sync::always, &fs));
    EXPECT_FALSE(open_store(f).error);
    fs.fail_at = fs.calls + k;
    std::vector<std::pair<std::uint64_t, std::string>> waiting;
    for (int round = 2; round <= 3; ++round) {
        for (int c = 0; c < 10; ++c)
            waiting.emplace_back(f.append(line_of(c, round)), line_of(c, round));
        flush_and_ack(f, waiting, run.acked);
        if (round == 2) {
            std::string store = store_of(10, 2);
            for (int c = 10; c < 20; ++c)
                net::data::append_entry(store, line_of(c, 1));
            f.snapshot(std::move(store));
            EXPECT_TRUE(wait_until([&] { return !f.compacting(); }, 10000ms));
        }
    }
    flush_and_ack(f, waiting, run.acked);
    run.reached = fs.failed;
    if (!crash && run.reached) {
        // A transient failure: the folder works on.
        waiting.emplace_back(f.append(line_of(0, 9)), line_of(0, 9));
        flush_and_ack(f, waiting, run.acked);
        EXPECT_TRUE(waiting.empty()) << "after a transient failure at call " << k;
    }
    return run;
}

void check_restored(const std::string& dir, const FaultRun& run, const std::string& what) {
    Node node(solo_config(), Now{});
    net::StoreFile f(dir, data_options(Sync::always));
    auto opened = f.open([&](std::string_view line) -> std::optional<std::string> {
        if (!node.restore_record(line)) return std::string("not an AT line");
        return std::nullopt;
    });
    ASSERT_FALSE(error_of(opened)) << what << ": " << error_of(opened)->message;
    for (const std::string& line : run.acked) {
        const Record* r = node.store().find(client_of(line));
        ASSERT_NE(r, nullptr) << what << ": " << line << " lost";
        EXPECT_GE(time_of(r->at_line()), time_of(line)) << what << ": " << line << " lost";
    }
}

void every_call_fails_once(bool crash, int error) {
    std::size_t cases = 0;
    for (long k = 0; k < 400; ++k) {
        const std::string dir = temp_dir("syscall-fault") + "/data";
        FaultyFs fs;
        fs.error = error;
        const FaultRun run = run_with_fault(dir, fs, k, crash);
        if (::testing::Test::HasFailure()) return;
        if (!run.reached) break;  // every call of the run has failed once
        cases += 1;
        check_restored(dir, run,
                       std::string(crash ? "crash" : "failure") + " at call " + std::to_string(k));
        std::filesystem::remove_all(dir);
        if (::testing::Test::HasFailure()) return;
    }
    std::cout << (crash ? "crashes" : "transient failures") << ": " << cases
              << " runs, one per system call, every acknowledged record restored\n";
    ::testing::Test::RecordProperty("cases", static_cast<int>(cases));
    EXPECT_GE(cases, 12u);
}

TEST(DataFaults, ACrashAtAnySystemCallOfAppendsAndACompactionLosesNoAcknowledgedRecord) {
    every_call_fails_once(true, EIO);
}

TEST(DataFaults, AFailureOfAnySystemCallIsSurvivedAndTheFolderWorksOn) {
    every_call_fails_once(false, ENOSPC);
}

}  // namespace
}  // namespace herd::test
