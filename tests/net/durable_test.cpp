// Durability: a server's data folder (--data-dir) brings back what it stored, after a crash of
// every server at once. Real processes on 127.0.0.1, stopped by PID.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "core/text.hpp"
#include "core/time.hpp"
#include "harness.hpp"
#include "netmode/clock.hpp"
#include "netmode/store_file.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

TEST(StoreFile, EntriesComeBackAndATornTailIsCutOff) {
    const std::string dir = temp_dir("storefile") + "/data";
    {
        net::StoreFile f(dir, net::StoreFile::Options{net::StoreFile::Sync::always});
        ASSERT_FALSE(error_of(f.open()));
        f.append("AT A +0.000000000 one +1.0+1.0 5");
        f.append("AT A +0.000000000 two +1.0+1.0 6");
    }
    // A crash in the middle of a write, and a corrupt entry after it.
    std::ofstream(dir + "/records.log", std::ios::app)
        << net::StoreFile::entry("AT A +0.000000000 three +1.0+1.0 7").substr(0, 20);
    {
        net::StoreFile f(dir, net::StoreFile::Options{net::StoreFile::Sync::batch});
        auto loaded = f.open();
        ASSERT_FALSE(error_of(loaded));
        const auto& l = std::get<net::StoreFile::Loaded>(loaded);
        EXPECT_EQ(l.lines, (std::vector<std::string>{"AT A +0.000000000 one +1.0+1.0 5",
                                                     "AT A +0.000000000 two +1.0+1.0 6"}));
        EXPECT_EQ(l.bytes_cut, 20u);
        f.append("AT A +0.000000000 four +1.0+1.0 8");
    }
    net::StoreFile again(dir, net::StoreFile::Options{net::StoreFile::Sync::off});
    const auto loaded = again.open();
    ASSERT_FALSE(error_of(loaded));
    EXPECT_EQ(std::get<net::StoreFile::Loaded>(loaded).lines.size(), 3u);
    EXPECT_EQ(std::get<net::StoreFile::Loaded>(loaded).bytes_cut, 0u);
    // A flipped byte is caught by the checksum.
    EXPECT_FALSE(net::StoreFile::line_of(
        net::StoreFile::entry("AT A +0.000000000 x +1.0+1.0 5").replace(20, 1, "y").substr(0, 47)));
}

std::string at_line(int i) {
    return "AT A +0.000000000 c" + std::to_string(i) + " +1.0+1.0 " + std::to_string(100 + i);
}

std::vector<std::string> loaded_lines(const std::string& dir) {
    net::StoreFile f(dir, net::StoreFile::Options{net::StoreFile::Sync::off});
    auto loaded = f.open();
    if (error_of(loaded)) return {};
    return std::get<net::StoreFile::Loaded>(loaded).lines;
}

TEST(StoreFile, ASnapshotReplacesTheLogAndWhatFollowsItIsKept) {
    const std::string dir = temp_dir("snapshot") + "/data";
    {
        net::StoreFile::Options options{net::StoreFile::Sync::always};
        options.compact_bytes = 1000;
        net::StoreFile f(dir, options);
        ASSERT_FALSE(error_of(f.open()));
        for (int i = 0; i < 40; ++i)
            f.append(at_line(i % 10));  // ten clients, each updated four times
        f.flush();
        ASSERT_TRUE(f.wants_snapshot());
        // The store holds the last of each: the snapshot has ten entries.
        std::string entries;
        for (int i = 30; i < 40; ++i)
            net::StoreFile::append_entry(entries, at_line(i % 10));
        f.snapshot(entries);
        EXPECT_FALSE(f.wants_snapshot());  // one at a time
        EXPECT_EQ(f.log_bytes(), 0u);
        f.append(at_line(99));
        f.flush();
        ASSERT_TRUE(wait_until([&] { return f.snapshots_written() == 1; }, 10000ms));
        EXPECT_FALSE(f.wants_snapshot());  // the log is far below the snapshot's size
    }
    EXPECT_FALSE(std::filesystem::exists(dir + "/records.old"));
    const auto lines = loaded_lines(dir);
    ASSERT_EQ(lines.size(), 11u);
    EXPECT_EQ(lines.front(), at_line(0));
    EXPECT_EQ(lines.back(), at_line(99));
}

TEST(StoreFile, ACompactionCutShortByACrashLosesNothingAndIsFinishedAtTheNextStart) {
    const std::string dir = temp_dir("cutshort") + "/data";
    std::filesystem::create_directories(dir);
    // A crash after the log was set aside and before its snapshot was renamed into place.
    std::ofstream(dir + "/snapshot") << net::StoreFile::entry(at_line(1));
    std::ofstream(dir + "/records.old") << net::StoreFile::entry(at_line(2));
    std::ofstream(dir + "/snapshot.tmp") << net::StoreFile::entry(at_line(3)).substr(0, 9);
    std::ofstream(dir + "/records.log") << net::StoreFile::entry(at_line(4));
    net::StoreFile f(dir, net::StoreFile::Options{net::StoreFile::Sync::always});
    auto loaded = f.open();
    ASSERT_FALSE(error_of(loaded));
    const auto& l = std::get<net::StoreFile::Loaded>(loaded);
    EXPECT_EQ(l.lines, (std::vector<std::string>{at_line(1), at_line(2), at_line(4)}));
    EXPECT_EQ(l.from_snapshot, 1u);
    EXPECT_FALSE(std::filesystem::exists(dir + "/snapshot.tmp"));
    // The set-aside log is still to be covered: a snapshot is due, and it keeps the live log.
    ASSERT_TRUE(f.wants_snapshot());
    std::string entries;
    for (int i : {1, 2, 4})
        net::StoreFile::append_entry(entries, at_line(i));
    f.snapshot(entries);
    ASSERT_TRUE(wait_until([&] { return f.snapshots_written() == 1; }, 10000ms));
    EXPECT_FALSE(std::filesystem::exists(dir + "/records.old"));
    EXPECT_EQ(slurp(dir + "/records.log"), net::StoreFile::entry(at_line(4)));
}

TEST(StoreFile, AFullDiskLosesNoEntryOnceThereIsRoomAgain) {
    const std::string disk_dir = temp_dir("datafull") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    const std::string dir = disk_dir + "/data";
    int appended = 0;
    {
        net::StoreFile f(dir, net::StoreFile::Options{net::StoreFile::Sync::batch});
        ASSERT_FALSE(error_of(f.open()));
        {
            std::ofstream filler(disk_dir + "/filler", std::ios::binary);
            const std::string block(4096, 'f');
            for (int i = 0; i < 64 && filler; ++i)
                filler.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
        // Past what fits: writes fail, are cut back, and wait.
        for (; appended < 4000; ++appended)
            f.append(at_line(appended));
        ASSERT_TRUE(wait_until([&] { return f.write_failures() > 0; }, 10000ms));
        std::filesystem::remove(disk_dir + "/filler");
        ASSERT_TRUE(wait_until(
            [&] { return f.entries_written() == static_cast<std::uint64_t>(appended); }, 10000ms));
        EXPECT_EQ(f.entries_dropped(), 0u);
    }
    const auto lines = loaded_lines(dir);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(appended));
    for (int i = 0; i < appended; ++i)
        ASSERT_EQ(lines[static_cast<std::size_t>(i)], at_line(i));
}

TEST(StoreFile, EntriesDroppedPastTheRetryBoundAreNotDurableUntilASnapshotHasThem) {
    const std::string disk_dir = temp_dir("dropped") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    const std::string dir = disk_dir + "/data";
    net::StoreFile::Options options{net::StoreFile::Sync::always};
    options.retry_bytes_max = 1000;
    net::StoreFile f(dir, options);
    ASSERT_FALSE(error_of(f.open()));
    {
        std::ofstream filler(disk_dir + "/filler", std::ios::binary);
        const std::string block(4096, 'f');
        for (int i = 0; i < 64 && filler; ++i)
            filler.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    std::string store;  // what the server's store would hold
    for (int i = 0; i < 100; ++i) {
        f.append(at_line(i));
        net::StoreFile::append_entry(store, at_line(i));
    }
    EXPECT_FALSE(f.flush());
    EXPECT_EQ(f.entries_dropped(), 100u);
    std::filesystem::remove(disk_dir + "/filler");
    EXPECT_FALSE(f.flush());  // room again, but the dropped entries are nowhere yet
    ASSERT_TRUE(f.wants_snapshot());
    f.snapshot(store);
    ASSERT_TRUE(wait_until([&] { return f.snapshots_written() == 1; }, 10000ms));
    EXPECT_TRUE(f.flush());
    EXPECT_EQ(loaded_lines(dir).size(), 100u);
}

TEST(Durable, ACompactedHerdComesBackWithEveryRecordAfterAKillOfEveryServer) {
    // A 20 KB compaction threshold: 2 000 updates of 200 clients compact several times.
    NetHerd herd("compacted", {"--fsync", "always", "--compact-mb", "0.02"}, true);
    std::string updates;
    for (int round = 0; round < 10; ++round) {
        for (int c = 0; c < 200; ++c)
            updates += "IAMAT k" + std::to_string(c) + " +1.0+1.0 " +
                       std::to_string(1479413884 + round) + "\n";
    }
    ASSERT_EQ(count(talk(herd.port("Alford"), updates, 20000ms), "AT Alford "), 2000u);
    for (const char* name : NetHerd::names) {
        ASSERT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_data_snapshots_total") >= 1; }, 10000ms))
            << name;
    }
    for (const char* name : NetHerd::names)
        herd.process(name).kill9();
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(herd.start(i));
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(herd.dir() + "/logs/Alford.log").find("200 records restored") !=
                   std::string::npos;
        },
        10000ms));
    // Each client's last update, everywhere.
    for (const char* name : NetHerd::names) {
        EXPECT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_records_stored") == 200; }, 20000ms))
            << name;
        EXPECT_NE(talk(herd.port(name), "WHATSAT k7 1 0\n").find(" k7 +1.0+1.0 1479413893\n"),
                  std::string::npos)
            << name;
    }
}

// What `fd` reads within `limit`, up to the end of a first line (the server need not close).
std::string read_for(int fd, std::chrono::milliseconds limit) {
    std::string out;
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        char buffer[4096];
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
        if (out.find('\n') != std::string::npos) break;
    }
    return out;
}

TEST(Durable, UnderFsyncAlwaysAFullDiskHoldsTheReplyUntilItsRecordIsWritten) {
    const std::string disk_dir = temp_dir("always-full") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    SoloServer solo("always-full-server", {"--data-dir", disk_dir + "/data", "--fsync", "always",
                                           "--log-lines", "false"});
    {
        std::ofstream filler(disk_dir + "/filler", std::ios::binary);
        const std::string block(4096, 'f');
        for (int i = 0; i < 64 && filler; ++i)
            filler.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    const int fd = connect_to(solo.port());
    ASSERT_GE(fd, 0);
    const std::string iamat = "IAMAT held +1.0+1.0 " + format_timestamp(net::wall_now()) + "\n";
    ASSERT_EQ(::send(fd, iamat.data(), iamat.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(iamat.size()));
    // Not on disk, so not acknowledged.
    EXPECT_EQ(read_for(fd, 1500ms), "");
    std::filesystem::remove(disk_dir + "/filler");
    const std::string reply = read_for(fd, 10000ms);
    ::close(fd);
    EXPECT_TRUE(reply.starts_with("AT Solo ")) << reply;
    // And the record is in the data folder, whatever happens to the process now.
    solo.process().kill9();
    EXPECT_NE(slurp(disk_dir + "/data/records.log").find(" held +1.0+1.0 "), std::string::npos);
    EXPECT_NE(slurp(solo.log_path()).find("replies and floods held"), std::string::npos);
}

// A steady stream of IAMATs at Alford and Ball (a connection per 20 updates, each update a new
// client), until `stop`: every update a client saw acknowledged, and when.
struct Acked {
    std::string client;
    Clock::time_point at;
};

void steady_load(int port, const std::string& prefix, const std::atomic<bool>& stop,
                 std::vector<Acked>& acked) {
    for (int n = 0; !stop; n += 20) {
        std::string batch;
        for (int i = n; i < n + 20; ++i)
            batch += "IAMAT " + prefix + std::to_string(i) + " +1.0+1.0 " +
                     format_timestamp(net::wall_now()) + "\n";
        const std::string replies = talk(port, batch, 2000ms);
        const auto now = Clock::now();
        std::size_t p = 0;
        for (std::size_t end; (end = replies.find('\n', p)) != std::string::npos; p = end + 1) {
            const auto f = fields_of(std::string_view(replies).substr(p, end - p));
            if (f.size() == 6 && f[0] == "AT") acked.push_back(Acked{std::string(f[3]), now});
        }
        std::this_thread::sleep_for(10ms);
    }
}

// The acknowledged updates that `port` does not answer for.
std::vector<const Acked*> missing_at(int port, const std::vector<Acked>& acked) {
    std::string query;
    for (const Acked& a : acked)
        query += "WHATSAT " + a.client + " 0 0\n";
    const std::string replies = talk(port, query, 60000ms);
    std::vector<const Acked*> missing;
    for (const Acked& a : acked) {
        if (replies.find("? WHATSAT " + a.client + " 0 0\n") != std::string::npos)
            missing.push_back(&a);
    }
    return missing;
}

// Every server killed with SIGKILL in the middle of a steady load, then restarted: what was
// acknowledged and is missing afterwards.
struct KillResult {
    std::vector<Acked> acked;
    std::map<std::string, std::vector<const Acked*>> missing;
    Clock::time_point killed;
};

KillResult kill_under_load(NetHerd& herd) {
    KillResult r;
    std::atomic<bool> stop{false};
    std::vector<Acked> at_alford;
    std::vector<Acked> at_ball;
    std::thread a([&] { steady_load(herd.port("Alford"), "a", stop, at_alford); });
    std::thread b([&] { steady_load(herd.port("Ball"), "b", stop, at_ball); });
    std::this_thread::sleep_for(1500ms);
    r.killed = Clock::now();
    for (const char* name : NetHerd::names)
        herd.process(name).kill9();
    stop = true;
    a.join();
    b.join();
    r.acked = at_alford;
    r.acked.insert(r.acked.end(), at_ball.begin(), at_ball.end());
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(herd.start(i));
    // Anti-entropy settles: every server holds as many records as the others.
    wait_until(
        [&] {
            std::set<long long> counts;
            for (const char* name : NetHerd::names)
                counts.insert(metric(herd.metrics(name), "herd_records_stored"));
            return counts.size() == 1;
        },
        20000ms);
    for (const char* name : NetHerd::names)
        r.missing[name] = missing_at(herd.port(name), r.acked);
    return r;
}

TEST(Durable, UnderFsyncAlwaysAKillOfEveryServerMidLoadLosesNoAcknowledgedUpdate) {
    NetHerd herd("killall-always", {"--fsync", "always"}, true);
    const KillResult r = kill_under_load(herd);
    ASSERT_GT(r.acked.size(), 100u);
    for (const auto& [name, missing] : r.missing)
        EXPECT_TRUE(missing.empty())
            << name << ": " << missing.size() << " of " << r.acked.size()
            << " acknowledged updates missing, e.g. " << missing.front()->client;
}

TEST(Durable, UnderFsyncBatchAKillOfEveryServerMidLoadLosesAtMostTheLastMoment) {
    NetHerd herd("killall-batch", {"--fsync", "batch"}, true);
    const KillResult r = kill_under_load(herd);
    ASSERT_GT(r.acked.size(), 100u);
    std::size_t most = 0;
    for (const auto& [name, missing] : r.missing) {
        most = std::max(most, missing.size());
        // Only updates acknowledged in the last moment before the kill (the batch window is
        // 10 ms; a second allows for a loaded machine).
        for (const Acked* a : missing)
            EXPECT_GT(a->at, r.killed - 1000ms) << name << ": " << a->client;
    }
    std::cout << "fsync batch: " << most << " of " << r.acked.size()
              << " acknowledged updates missing at worst after killing every server\n";
    ::testing::Test::RecordProperty("missing_at_worst", static_cast<int>(most));
}

TEST(Durable, EveryAcknowledgedUpdateSurvivesTheWholeHerdBeingKilled) {
    NetHerd herd("durable", {"--fsync", "always"}, true);
    const std::string time = format_timestamp(net::wall_now());
    std::string updates;
    const int n = 200;
    for (int i = 0; i < n; ++i)
        updates += "IAMAT d" + std::to_string(i) + " +1.0+1.0 " + time + "\n";
    ASSERT_EQ(count(talk(herd.port("Alford"), updates, 20000ms), "AT Alford "),
              static_cast<std::size_t>(n));
    // Every server at once, the moment the last AT was read.
    for (const char* name : NetHerd::names)
        herd.process(name).kill9();
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(herd.start(i));
    for (const char* name : NetHerd::names) {
        EXPECT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_records_stored") == n; }, 20000ms))
            << name << ": " << metric(herd.metrics(name), "herd_records_stored");
    }
    // Alford had them all from its own folder, before any link came up.
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(herd.dir() + "/logs/Alford.log").find("200 records restored") !=
                   std::string::npos;
        },
        10000ms));
}

}  // namespace
}  // namespace herd::test
