// StoreFile and the data-folder format, in process: what a start loads, cuts or refuses, the
// lock and identity, compaction, and a full disk (a small tmpfs, as root).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "data_helpers.hpp"
#include "harness.hpp"
#include "netmode/data_tool.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);
using Sync = net::StoreFile::Sync;

std::string at_line(int i) {
    return "AT A +0.000000000 c" + std::to_string(i) + " +1.0+1.0 " + std::to_string(100 + i);
}

void fill(const std::string& path, std::size_t blocks) {
    std::ofstream filler(path, std::ios::binary);
    const std::string block(4096, 'f');
    for (std::size_t i = 0; i < blocks && filler; ++i)
        filler.write(block.data(), static_cast<std::streamsize>(block.size()));
}

// A log of `n` entries written by a StoreFile.
std::string written_folder(const std::string& test, int n) {
    const std::string dir = temp_dir(test) + "/data";
    net::StoreFile f(dir, data_options(Sync::always));
    EXPECT_FALSE(open_store(f).error);
    for (int i = 0; i < n; ++i)
        f.append(at_line(i));
    EXPECT_TRUE(f.flush());
    return dir;
}

std::uint64_t offset_of_entry(const std::string& log, int i) {
    std::uint64_t at = 0;
    for (int k = 0; k < i; ++k)
        at = log.find('\n', at) + 1;
    return at;
}

TEST(DataFormat, EveryByteOfAnEntryIsChecked) {
    const std::string e = net::data::entry("AT A +0.000000000 x +1.0+1.0 5");
    const std::string_view body(e.data(), e.size() - 1);
    EXPECT_EQ(net::data::payload_of(body), "AT A +0.000000000 x +1.0+1.0 5");
    for (std::size_t i = 0; i < body.size(); ++i) {
        std::string flipped(body);
        flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
        EXPECT_FALSE(net::data::payload_of(flipped)) << "byte " << i;
    }
    EXPECT_FALSE(net::data::payload_of(std::string(body) + "\r"));
    EXPECT_FALSE(net::data::payload_of(""));
    // Upper-case digits are not the format's.
    std::string upper(body);
    for (std::size_t i = 0; i < 16; ++i)
        upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    if (upper != body) {
        EXPECT_FALSE(net::data::payload_of(upper));
    }
}

TEST(DataFormat, ScanResynchronisesAndTellsATornTailFromCorruption) {
    const std::string a = net::data::entry("AT A +0.000000000 a +1.0+1.0 1");
    const std::string b = net::data::entry("AT A +0.000000000 b +1.0+1.0 2");
    // An unterminated remainder: torn.
    auto s = net::data::scan(a + b + b.substr(0, 10));
    EXPECT_EQ(s.entries.size(), 2u);
    EXPECT_EQ(s.torn_at, a.size() + b.size());
    EXPECT_EQ(s.corruption(), nullptr);
    // A bad last complete entry, then a remainder: torn from the bad entry.
    std::string bad = b;
    bad[20] = 'X';
    s = net::data::scan(a + bad + "\0\0\0");
    EXPECT_EQ(s.torn_at, a.size());
    EXPECT_EQ(s.corruption(), nullptr);
    // A bad entry with a good one after it: corruption, and the good one is still found.
    s = net::data::scan(bad + a);
    ASSERT_NE(s.corruption(), nullptr);
    EXPECT_EQ(s.corruption()->offset, 0u);
    EXPECT_EQ(s.corruption()->what, "checksum mismatch");
    ASSERT_EQ(s.entries.size(), 1u);
    EXPECT_EQ(s.entries[0].offset, bad.size());
    // Two bad complete entries at the end are more than one torn entry.
    s = net::data::scan(a + bad + bad);
    ASSERT_NE(s.corruption(), nullptr);
    EXPECT_EQ(s.corruption()->offset, a.size());
}

TEST(StoreFile, ATornTailIsCutAndSavedAsideAndLaterEntriesFollowIt) {
    const std::string dir = written_folder("torn", 2);
    const std::string torn = net::data::entry(at_line(2)).substr(0, 20);
    std::ofstream(dir + "/records.log", std::ios::app) << torn;
    {
        net::StoreFile f(dir, data_options(Sync::batch));
        const Opened o = open_store(f);
        ASSERT_FALSE(o.error) << o.error->message;
        EXPECT_EQ(o.lines, (std::vector<std::string>{at_line(0), at_line(1)}));
        EXPECT_EQ(o.opened.bytes_cut, 20u);
        f.append(at_line(3));
    }
    // The cut bytes are beside the log, whole.
    std::vector<std::string> saved;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().filename().string().starts_with("records.log.torn-"))
            saved.push_back(read_file(e.path().string()));
    }
    EXPECT_EQ(saved, std::vector<std::string>{torn});
    const Opened again = open_dir(dir);
    ASSERT_FALSE(again.error);
    EXPECT_EQ(again.lines, (std::vector<std::string>{at_line(0), at_line(1), at_line(3)}));
    EXPECT_EQ(again.opened.bytes_cut, 0u);
}

TEST(StoreFile, DamageBeforeTheEndRefusesTheStartWithFileAndOffsetAndChangesNothing) {
    const std::string dir = written_folder("flip", 1000);
    std::string log = read_file(dir + "/records.log");
    const std::uint64_t at = offset_of_entry(log, 10);
    log[at + 20] = static_cast<char>(log[at + 20] ^ 0x04);
    write_file(dir + "/records.log", log);
    const auto before = folder_bytes(dir);
    const Opened o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->exit_status, 2);
    EXPECT_TRUE(o.error->message.starts_with(dir + "/records.log: offset " + std::to_string(at) +
                                             ": checksum mismatch"))
        << o.error->message;
    EXPECT_EQ(folder_bytes(dir), before);
    // 512 zero bytes over entry 500: the same.
    log = read_file(dir + "/records.log");
    log[at + 20] = static_cast<char>(log[at + 20] ^ 0x04);
    const std::uint64_t at500 = offset_of_entry(log, 500);
    log.replace(at500, 512, std::string(512, '\0'));
    write_file(dir + "/records.log", log);
    const Opened zeroed = open_dir(dir);
    ASSERT_TRUE(zeroed.error);
    EXPECT_NE(zeroed.error->message.find("records.log: offset " + std::to_string(at500) + ": "),
              std::string::npos)
        << zeroed.error->message;
    EXPECT_EQ(read_file(dir + "/records.log"), log);
}

TEST(StoreFile, LineEndingsAndBlankLinesAreRefusedNeverDropped) {
    const std::string dir = written_folder("crlf", 5);
    const std::string log = read_file(dir + "/records.log");
    std::string crlf;
    for (char c : log)
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    write_file(dir + "/records.log", crlf);
    Opened o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find("records.log: offset 0: checksum mismatch"), std::string::npos)
        << o.error->message;
    EXPECT_EQ(read_file(dir + "/records.log"), crlf);
    write_file(dir + "/records.log", "\n" + log);
    o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find("records.log: offset 0: not an entry"), std::string::npos)
        << o.error->message;
    EXPECT_EQ(read_file(dir + "/records.log"), "\n" + log);
}

TEST(StoreFile, AnEntryThatIsNoRecordRefusesTheStart) {
    const std::string dir = written_folder("norecord", 2);
    std::ofstream(dir + "/records.log", std::ios::app)
        << net::data::entry("AT nonsense") << net::data::entry(at_line(7));
    const Opened o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find(": not an AT line"), std::string::npos) << o.error->message;
    std::ofstream(dir + "/records.log", std::ios::trunc) << net::data::entry("#end 1 2");
    const Opened control = open_dir(dir);
    ASSERT_TRUE(control.error);
    EXPECT_NE(control.error->message.find("a control entry in a log"), std::string::npos);
}

TEST(StoreFile, AnUnreadableFileRefusesTheStart) {
    const std::string dir = written_folder("unreadable", 3);
    FaultyFs fs;
    fs.fail_reads = true;
    net::StoreFile f(dir, data_options(Sync::off, &fs));
    const Opened o = open_store(f);
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->exit_status, 2);
    EXPECT_NE(o.error->message.find("cannot read: Permission denied"), std::string::npos);
    EXPECT_EQ(open_dir(dir).lines.size(), 3u);  // nothing was cut
}

TEST(StoreFile, OneServerPerFolderAndOnlyTheServerItBelongsTo) {
    const std::string dir = written_folder("lock", 3);
    {
        net::StoreFile first(dir, data_options(Sync::off));
        ASSERT_FALSE(open_store(first).error);
        net::StoreFile second(dir, data_options(Sync::off));
        const Opened o = open_store(second);
        ASSERT_TRUE(o.error);
        EXPECT_NE(o.error->message.find("in use by another process (pid " +
                                        std::to_string(::getpid()) + ")"),
                  std::string::npos)
            << o.error->message;
    }
    {
        // The lock is on the folder: a lock file deleted under a running server changes nothing.
        net::StoreFile first(dir, data_options(Sync::off));
        ASSERT_FALSE(open_store(first).error);
        std::filesystem::remove(dir + "/lock");
        net::StoreFile second(dir, data_options(Sync::off));
        EXPECT_TRUE(open_store(second).error);
    }
    auto other = data_options(Sync::off);
    other.server = "B";
    net::StoreFile b(dir, other);
    const Opened o = open_store(b);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find("the data folder of server `A`, not `B`"), std::string::npos)
        << o.error->message;
    EXPECT_EQ(open_dir(dir).lines.size(), 3u);
}

// The store a StoreFile's owner would hold after `lines`: the last line of each client.
std::string store_entries(const std::vector<int>& clients_last) {
    std::string out;
    for (int i : clients_last)
        net::data::append_entry(out, at_line(i));
    return out;
}

TEST(StoreFile, ASnapshotReplacesTheLogAndWhatFollowsItIsKept) {
    const std::string dir = temp_dir("snapshot") + "/data";
    {
        auto options = data_options(Sync::always);
        options.compact_bytes = 1000;
        net::StoreFile f(dir, options);
        ASSERT_FALSE(open_store(f).error);
        for (int i = 0; i < 40; ++i)
            f.append(at_line(i % 10));  // ten clients, each updated four times
        f.flush();
        ASSERT_TRUE(f.wants_snapshot());
        f.snapshot(store_entries({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
        EXPECT_FALSE(f.wants_snapshot());  // one at a time
        EXPECT_EQ(f.log_bytes(), 0u);
        f.append(at_line(99));
        f.flush();
        ASSERT_TRUE(wait_until([&] { return !f.compacting(); }, 10000ms));
        EXPECT_EQ(f.snapshots_written(), 1u);
        EXPECT_FALSE(f.wants_snapshot());  // the log is far below the snapshot's size
    }
    EXPECT_FALSE(std::filesystem::exists(dir + "/records.old"));
    EXPECT_TRUE(read_file(dir + "/snapshot").starts_with(net::data::entry("#herd-snapshot 2")));
    const auto lines = open_dir(dir).lines;
    ASSERT_EQ(lines.size(), 11u);
    EXPECT_EQ(lines.front(), at_line(0));
    EXPECT_EQ(lines.back(), at_line(99));
}

std::string compacted_folder(const std::string& test) {
    const std::string dir = temp_dir(test) + "/data";
    net::StoreFile f(dir, data_options(Sync::always));
    EXPECT_FALSE(open_store(f).error);
    for (int i = 0; i < 5; ++i)
        f.append(at_line(i));
    f.flush();
    f.snapshot(store_entries({0, 1, 2, 3, 4}));
    EXPECT_TRUE(wait_until([&] { return !f.compacting(); }, 10000ms));
    return dir;
}

TEST(StoreFile, ADamagedOrShortenedSnapshotRefusesTheStart) {
    const std::string dir = compacted_folder("badsnap");
    const std::string snapshot = read_file(dir + "/snapshot");
    ASSERT_EQ(open_dir(dir).lines.size(), 5u);
    // Cut at an entry boundary: every remaining entry is intact, but the `#end` is gone.
    const std::size_t cut = snapshot.rfind('\n', snapshot.size() - 2) + 1;
    write_file(dir + "/snapshot", snapshot.substr(0, cut));
    Opened o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(
        o.error->message.find("snapshot: offset " + std::to_string(cut) + ": no `#end` entry"),
        std::string::npos)
        << o.error->message;
    // Emptied: no header.
    write_file(dir + "/snapshot", "");
    o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find("snapshot: offset 0: no `#herd-snapshot 2` header"),
              std::string::npos);
    // A flipped bit in entry 2.
    std::string flipped = snapshot;
    flipped[offset_of_entry(snapshot, 2) + 30] ^= 0x10;
    write_file(dir + "/snapshot", flipped);
    o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(
        o.error->message.find("snapshot: offset " + std::to_string(offset_of_entry(snapshot, 2)) +
                              ": checksum mismatch"),
        std::string::npos);
    EXPECT_EQ(read_file(dir + "/snapshot"), flipped);
}

TEST(StoreFile, ASnapshotDeletedAfterACompactionRefusesTheStart) {
    const std::string dir = compacted_folder("deletedsnap");
    EXPECT_NE(read_file(dir + "/herd-data").find("snapshot yes"), std::string::npos);
    std::filesystem::remove(dir + "/snapshot");
    const Opened o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find("snapshot: missing, though"), std::string::npos)
        << o.error->message;
}

TEST(DataTool, RepairMakesAFolderWithAMissingSnapshotStartableAndSaysWhatItCannotFix) {
    const std::string dir = compacted_folder("toolsnap");
    std::filesystem::remove(dir + "/snapshot");
    auto check = net::check_data_folder(dir, net::posix_fs());
    ASSERT_FALSE(error_of(check));
    EXPECT_TRUE(std::get<net::DataCheck>(check).start_refuses());
    auto repaired = net::repair_data_folder(dir, net::posix_fs());
    ASSERT_FALSE(error_of(repaired));
    EXPECT_NE(
        std::get<net::DataRepair>(repaired).lines.at(0).find("snapshot: missing; an empty one"),
        std::string::npos);
    EXPECT_FALSE(open_dir(dir).error);
    // A damaged identity: check says so and that repair will not rewrite it.
    write_file(dir + "/herd-data", "herd-data 2\nserver A\nserver B\n");
    check = net::check_data_folder(dir, net::posix_fs());
    ASSERT_FALSE(error_of(check));
    const std::string text = net::format_data_check(std::get<net::DataCheck>(check));
    EXPECT_NE(text.find("`server` given twice"), std::string::npos) << text;
    EXPECT_NE(text.find("does not rewrite it"), std::string::npos) << text;
    EXPECT_TRUE(open_dir(dir).error);
}

TEST(DataTool, RepairTwiceInOneSecondKeepsBothOriginals) {
    const std::string dir = written_folder("tooltwice", 5);
    const std::string log = read_file(dir + "/records.log");
    std::string first = log;
    first[offset_of_entry(log, 1) + 20] ^= 0x01;
    write_file(dir + "/records.log", first);
    ASSERT_FALSE(error_of(net::repair_data_folder(dir, net::posix_fs())));
    std::string second = read_file(dir + "/records.log");
    second[offset_of_entry(second, 2) + 20] ^= 0x01;
    write_file(dir + "/records.log", second);
    ASSERT_FALSE(error_of(net::repair_data_folder(dir, net::posix_fs())));
    std::set<std::string> aside;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().filename().string().starts_with("records.log.damaged-"))
            aside.insert(read_file(e.path().string()));
    }
    EXPECT_EQ(aside, (std::set<std::string>{first, second}));
    EXPECT_EQ(open_dir(dir).lines.size(), 3u);
}

TEST(StoreFile, TornTailsCutAtTheSameOffsetInOneSecondAreBothKept) {
    const std::string dir = written_folder("twotorn", 2);
    const std::string log = read_file(dir + "/records.log");
    write_file(dir + "/records.log", log + "FIRST-TORN");
    ASSERT_FALSE(open_dir(dir).error);
    write_file(dir + "/records.log", log + "SECOND");
    ASSERT_FALSE(open_dir(dir).error);
    std::set<std::string> saved;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().filename().string().starts_with("records.log.torn-"))
            saved.insert(read_file(e.path().string()));
    }
    EXPECT_EQ(saved, (std::set<std::string>{"FIRST-TORN", "SECOND"}));
}

TEST(StoreFile, UnderBatchNoRecordIsTakenWhileWritesFail) {
    const std::string disk_dir = temp_dir("batchfail") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    net::StoreFile f(disk_dir + "/data", data_options(Sync::batch));
    ASSERT_FALSE(open_store(f).error);
    fill(disk_dir + "/filler", 64);
    EXPECT_TRUE(f.accepting());
    f.append(at_line(1) + std::string(5000, 'x'));
    ASSERT_TRUE(wait_until([&] { return f.failing(); }, 10000ms));
    EXPECT_FALSE(f.accepting());  // the batch window's promise cannot be kept
    std::filesystem::remove(disk_dir + "/filler");
    ASSERT_TRUE(wait_until([&] { return !f.failing(); }, 10000ms));
    EXPECT_TRUE(f.accepting());
    EXPECT_EQ(f.durable_seq(), 1u);
}

TEST(StoreFile, ACompactionCutShortByACrashLosesNothingAndIsFinishedLater) {
    const std::string dir = compacted_folder("cutshort");
    // A crash after the log was set aside and before its snapshot was renamed into place.
    write_file(dir + "/records.old", net::data::entry(at_line(7)));
    write_file(dir + "/snapshot.tmp", net::data::entry(at_line(8)).substr(0, 9));
    write_file(dir + "/records.log", net::data::entry(at_line(9)));
    net::StoreFile f(dir, data_options(Sync::always));
    const Opened o = open_store(f);
    ASSERT_FALSE(o.error) << o.error->message;
    EXPECT_EQ(o.lines, (std::vector<std::string>{at_line(0), at_line(1), at_line(2), at_line(3),
                                                 at_line(4), at_line(7), at_line(9)}));
    EXPECT_EQ(o.opened.from_snapshot, 5u);
    EXPECT_TRUE(std::filesystem::exists(dir + "/snapshot.tmp"));  // a start deletes nothing
    ASSERT_TRUE(f.wants_snapshot());  // the set-aside log still waits for its snapshot
    f.snapshot(store_entries({0, 1, 2, 3, 4, 7, 9}));
    ASSERT_TRUE(wait_until([&] { return !f.compacting(); }, 10000ms));
    EXPECT_EQ(f.snapshots_written(), 1u);
    EXPECT_FALSE(std::filesystem::exists(dir + "/records.old"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/snapshot.tmp"));
    EXPECT_EQ(read_file(dir + "/records.log"), net::data::entry(at_line(9)));
}

TEST(StoreFile, AFolderFromBeforeFormatTwoIsAdoptedAndItsSnapshotVouchedFor) {
    const std::string dir = temp_dir("legacy") + "/data";
    std::filesystem::create_directories(dir);
    const std::string old_snapshot = store_entries({1, 2, 3});
    write_file(dir + "/snapshot", old_snapshot);
    write_file(dir + "/records.log", net::data::entry(at_line(4)));
    Opened o = open_dir(dir);
    ASSERT_FALSE(o.error) << o.error->message;
    EXPECT_EQ(o.lines.size(), 4u);
    EXPECT_NE(read_file(dir + "/herd-data")
                  .find("legacy-snapshot " + std::to_string(old_snapshot.size())),
              std::string::npos);
    // Cut short afterwards, it is no longer what the identity vouches for.
    write_file(dir + "/snapshot",
               old_snapshot.substr(0, old_snapshot.rfind('\n', old_snapshot.size() - 2) + 1));
    o = open_dir(dir);
    ASSERT_TRUE(o.error);
    EXPECT_NE(o.error->message.find("vouches for no older snapshot"), std::string::npos);
}

TEST(StoreFile, AFullDiskTakesWholeEntriesInPiecesAsSoonAsAnySpaceFrees) {
    const std::string disk_dir = temp_dir("datafull") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    const std::string dir = disk_dir + "/data";
    net::StoreFile f(dir, data_options(Sync::always));
    ASSERT_FALSE(open_store(f).error);
    fill(disk_dir + "/spare", 8);    // 32 KiB, freed below
    fill(disk_dir + "/filler", 64);  // the rest of the disk
    int appended = 0;
    for (; appended < 4000; ++appended)
        f.append(at_line(appended));  // ~200 KB
    EXPECT_FALSE(f.flush());
    EXPECT_GT(f.write_failures(), 0u);
    EXPECT_TRUE(f.failing());
    // 32 KiB free: the entries that fit are written and synced, whole.
    std::filesystem::remove(disk_dir + "/spare");
    EXPECT_FALSE(f.flush());
    const std::uint64_t durable = f.durable_seq();
    EXPECT_GT(durable, 300u);
    EXPECT_LT(durable, 4000u);
    EXPECT_EQ(f.entries_written(), durable);
    const Opened partial = [&] {
        // What a crash now would leave: exactly the durable entries.
        const std::string copy = temp_dir("datafull-copy") + "/data";
        std::filesystem::create_directories(copy);
        write_file(copy + "/records.log", read_file(dir + "/records.log"));
        write_file(copy + "/herd-data", read_file(dir + "/herd-data"));
        return open_dir(copy);
    }();
    ASSERT_FALSE(partial.error);
    EXPECT_EQ(partial.lines.size(), durable);
    EXPECT_EQ(partial.opened.bytes_cut, 0u);
    std::filesystem::remove(disk_dir + "/filler");
    EXPECT_TRUE(f.flush());
    EXPECT_FALSE(f.failing());
    EXPECT_EQ(f.durable_seq(), 4000u);
    EXPECT_EQ(f.entries_dropped(), 0u);
}

TEST(StoreFile, PastTheBacklogBoundAppendsAreRefusedAndASnapshotMakesThemDurable) {
    const std::string disk_dir = temp_dir("dropped") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    const std::string dir = disk_dir + "/data";
    auto options = data_options(Sync::always);
    options.backlog_bytes_max = 1000;
    options.backlog_margin_bytes = 500;
    net::StoreFile f(dir, options);
    ASSERT_FALSE(open_store(f).error);
    fill(disk_dir + "/filler", 64);
    std::string store;
    int accepted_at_bound = -1;
    for (int i = 0; i < 100; ++i) {
        if (!f.accepting() && accepted_at_bound < 0) accepted_at_bound = i;
        EXPECT_EQ(f.append(at_line(i)), static_cast<std::uint64_t>(i + 1));
        net::data::append_entry(store, at_line(i));
    }
    EXPECT_GT(accepted_at_bound, 5);  // the bound, not the first append, stops it
    EXPECT_LT(accepted_at_bound, 30);
    EXPECT_FALSE(f.accepting());
    EXPECT_FALSE(f.flush());
    // The margin kept ~500 bytes more (what a drain may still store), then dropped.
    EXPECT_GT(f.entries_dropped(), 50u);
    EXPECT_LT(f.entries_dropped(), 100u - static_cast<std::uint64_t>(accepted_at_bound) - 5);
    EXPECT_EQ(f.durable_seq(), 0u);
    std::filesystem::remove(disk_dir + "/filler");
    EXPECT_FALSE(f.flush());  // room again, but the dropped entries are nowhere yet
    EXPECT_TRUE(f.accepting());
    EXPECT_LT(f.durable_seq(), 100u);
    ASSERT_TRUE(f.wants_snapshot());
    f.snapshot(store);
    ASSERT_TRUE(wait_until([&] { return !f.compacting(); }, 10000ms));
    EXPECT_TRUE(f.flush());
    EXPECT_EQ(f.durable_seq(), 100u);
}

}  // namespace
}  // namespace herd::test
