// Durability: a server's data folder (--data-dir) brings back what it stored, after a crash of
// every server at once. Real processes on 127.0.0.1, stopped by PID.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "core/text.hpp"
#include "core/time.hpp"
#include "data_helpers.hpp"
#include "harness.hpp"
#include "netmode/clock.hpp"
#include "netmode/store_file.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

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
    // Generous: under --fsync always a snapshot waits for fdatasync, which a disk busy with
    // other work (a build beside the tests) can hold for seconds.
    for (const char* name : NetHerd::names) {
        ASSERT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_data_snapshots_total") >= 1; }, 60000ms))
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
    EXPECT_NE(slurp(solo.log_path()).find("acknowledgements held"), std::string::npos);
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

// ---------------------------------------------------------------- a folder under attack

// Runs `args` to its end (at most `limit`); its exit status, its output in `out`.
int run_to_exit(const std::vector<std::string>& args, const std::string& out_file, std::string* out,
                std::chrono::milliseconds limit = 20000ms) {
    std::filesystem::remove(out_file);
    Process p(args, out_file);
    if (!p.wait_exit(limit)) return -1;
    *out = slurp(out_file);
    return p.exit_status();
}

std::string iamats(const std::string& prefix, int n, const std::string& time) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += "IAMAT " + prefix + std::to_string(i) + " +1.0+1.0 " + time + "\n";
    return out;
}

// How many of `prefix`0..n-1 the server at `port` answers for.
std::size_t known(int port, const std::string& prefix, int n) {
    std::string query;
    for (int i = 0; i < n; ++i)
        query += "WHATSAT " + prefix + std::to_string(i) + " 0 0\n";
    return static_cast<std::size_t>(n) - count(talk(port, query, 30000ms), "? WHATSAT ");
}

TEST(Durable, OneServerPerFolderAndOnlyTheServerItBelongsTo) {
    const std::string dir = temp_dir("onefolder");
    SoloServer solo("onefolder-solo", {"--data-dir", dir + "/data"});
    const int port = random_base_port();
    std::ofstream(dir + "/other.herd")
        << "server Solo 127.0.0.1:" << port << "\nserver Other 127.0.0.1:" << port + 1 << "\n";
    std::string out;
    EXPECT_EQ(run_to_exit({HERD_BINARY, "serve", "Solo", "--config", dir + "/other.herd",
                           "--data-dir", dir + "/data", "--log-dir", ""},
                          dir + "/second.out", &out),
              2);
    EXPECT_NE(
        out.find("in use by another process (pid " + std::to_string(solo.process().pid()) + ")"),
        std::string::npos)
        << out;
    solo.process().stop();
    EXPECT_EQ(run_to_exit({HERD_BINARY, "serve", "Other", "--config", dir + "/other.herd",
                           "--data-dir", dir + "/data", "--log-dir", ""},
                          dir + "/other.out", &out),
              2);
    EXPECT_NE(out.find("the data folder of server `Solo`, not `Other`"), std::string::npos) << out;
}

TEST(Durable, ADamagedFolderRefusesTheStartAndRepairKeepsEveryIntactRecord) {
    const std::string dir = temp_dir("damaged");
    const std::string data = dir + "/data";
    {
        SoloServer solo("damaged-first", {"--data-dir", data, "--fsync", "always"});
        ASSERT_EQ(count(talk(solo.port(), iamats("d", 1000, "1479413884"), 20000ms), "AT Solo "),
                  1000u);
    }
    // A flipped bit in entry 10 of 1 000.
    std::string log = read_file(data + "/records.log");
    std::size_t at = 0;
    for (int i = 0; i < 10; ++i)
        at = log.find('\n', at) + 1;
    log[at + 30] = static_cast<char>(log[at + 30] ^ 0x02);
    write_file(data + "/records.log", log);
    const auto before = folder_bytes(data);
    const int port = random_base_port();
    std::ofstream(dir + "/solo.herd") << "server Solo 127.0.0.1:" << port << "\n";
    std::string out;
    EXPECT_EQ(run_to_exit({HERD_BINARY, "serve", "Solo", "--config", dir + "/solo.herd",
                           "--data-dir", data, "--log-dir", ""},
                          dir + "/refused.out", &out),
              2);
    EXPECT_NE(out.find(data + "/records.log: offset " + std::to_string(at) + ": checksum mismatch"),
              std::string::npos)
        << out;
    EXPECT_EQ(folder_bytes(data), before);
    EXPECT_EQ(run_to_exit({HERD_BINARY, "data", "check", data}, dir + "/check.out", &out), 1);
    EXPECT_NE(out.find("offset " + std::to_string(at)), std::string::npos) << out;
    EXPECT_NE(out.find("a start refuses"), std::string::npos) << out;
    EXPECT_EQ(folder_bytes(data), before);
    EXPECT_EQ(run_to_exit({HERD_BINARY, "data", "repair", data}, dir + "/repair.out", &out), 0);
    EXPECT_NE(out.find("records.log: kept 999 intact records"), std::string::npos) << out;
    EXPECT_EQ(run_to_exit({HERD_BINARY, "data", "check", data}, dir + "/check2.out", &out), 0)
        << out;
    // The original is kept aside, byte for byte.
    bool aside = false;
    for (const auto& e : std::filesystem::directory_iterator(data))
        aside = aside || (e.path().filename().string().starts_with("records.log.damaged-") &&
                          read_file(e.path().string()) == log);
    EXPECT_TRUE(aside);
    SoloServer again("damaged-again", {"--data-dir", data, "--fsync", "always"});
    EXPECT_EQ(again.metric("herd_records_stored"), 999);
    EXPECT_EQ(known(again.port(), "d", 1000), 999u);
    // Acknowledged after the repair, then kill -9: nothing lost.
    ASSERT_EQ(count(talk(again.port(), iamats("n", 100, "1479413885"), 20000ms), "AT Solo "), 100u);
    again.process().kill9();
    SoloServer third("damaged-third", {"--data-dir", data, "--fsync", "always"});
    EXPECT_EQ(third.metric("herd_records_stored"), 1099);
}

TEST(Durable, ARepairedServerGetsWhatWasLostBackFromItsNeighbours) {
    NetHerd herd("repaired", {"--fsync", "always"}, true);
    ASSERT_EQ(
        count(talk(herd.port("Alford"), iamats("r", 300, "1479413884"), 20000ms), "AT Alford "),
        300u);
    for (const char* name : NetHerd::names)
        ASSERT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_records_stored") == 300; }, 20000ms))
            << name;
    herd.process("Alford").kill9();
    const std::string data = herd.dir() + "/data/Alford";
    std::string log = read_file(data + "/records.log");
    std::size_t at = 0;
    for (int i = 0; i < 100; ++i)
        at = log.find('\n', at) + 1;
    log.replace(at, 512, std::string(512, '\0'));
    write_file(data + "/records.log", log);
    EXPECT_FALSE(herd.start("Alford"));
    EXPECT_NE(
        slurp(herd.dir() + "/Alford.out").find(data + "/records.log: offset " + std::to_string(at)),
        std::string::npos);
    std::string out;
    ASSERT_EQ(run_to_exit({HERD_BINARY, "data", "repair", data}, herd.dir() + "/repair.out", &out),
              0)
        << out;
    ASSERT_TRUE(herd.start("Alford"));
    EXPECT_TRUE(wait_until(
        [&] {
            const std::string l = slurp(herd.dir() + "/logs/Alford.log");
            return l.find("records restored") != std::string::npos &&
                   l.find(" 300 records restored") == std::string::npos;
        },
        10000ms));
    // Anti-entropy brings back what the repair could not keep.
    EXPECT_TRUE(wait_until(
        [&] { return metric(herd.metrics("Alford"), "herd_records_stored") == 300; }, 20000ms));
    EXPECT_EQ(known(herd.port("Alford"), "r", 300), 300u);
}

void fill_disk(const std::string& path, std::size_t blocks) {
    std::ofstream filler(path, std::ios::binary);
    const std::string block(4096, 'f');
    for (std::size_t i = 0; i < blocks && filler; ++i)
        filler.write(block.data(), static_cast<std::streamsize>(block.size()));
}

TEST(Durable, UnderFsyncAlwaysAFullDiskHoldsOnlyAcknowledgementsAndTheServerStaysInTheHerd) {
    const std::string dir = temp_dir("always-herd");
    const std::string disk_dir = dir + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    const int port = random_base_port();
    std::ofstream(dir + "/two.herd")
        << "server Full 127.0.0.1:" << port << "\nserver Peer 127.0.0.1:" << port + 1
        << "\nlink Full Peer\n";
    const std::vector<std::string> common = {"--config", dir + "/two.herd", "--log-dir",
                                             dir + "/logs"};
    auto args = [&](const std::string& name, int admin, std::vector<std::string> more) {
        std::vector<std::string> a = {HERD_BINARY, "serve", name, "--admin",
                                      "127.0.0.1:" + std::to_string(admin)};
        a.insert(a.end(), common.begin(), common.end());
        a.insert(a.end(), more.begin(), more.end());
        return a;
    };
    Process full(args("Full", port + 2, {"--data-dir", disk_dir + "/data", "--fsync", "always"}),
                 dir + "/full.out");
    Process peer(args("Peer", port + 3, {}), dir + "/peer.out");
    ASSERT_TRUE(wait_until([&] { return http_get(port + 2, "/readyz") == "ready\n"; }, 10000ms));
    const std::string t = format_timestamp(net::wall_now());
    ASSERT_NE(talk(port, "IAMAT known +1.0+1.0 " + t + "\n").find("AT Full "), std::string::npos);
    fill_disk(disk_dir + "/spare", 2);
    fill_disk(disk_dir + "/filler", 64);
    const long long downs =
        metric(http_get(port + 2, "/metrics"), "herd_peer_link_changes_total{change=\"down\"}");
    const int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    // A record that needs a new page of the log (tmpfs takes a small one into the last page).
    const std::string id = "held" + std::string(5000, 'x');
    const std::string held = "IAMAT " + id + " +2.0+2.0 " + t + "\nWHATSAT known 1 1\n";
    ASSERT_EQ(::send(fd, held.data(), held.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(held.size()));
    // The flood went out at once (a copy elsewhere only helps); the reply waits.
    EXPECT_TRUE(wait_until(
        [&] { return talk(port + 1, "WHATSAT " + id + " 0 0\n").starts_with("AT Full "); },
        10000ms));
    EXPECT_EQ(read_for(fd, 500ms), "");
    // Everything else goes on for longer than the peers' silence timeout: WHATSATs of stored
    // records, the admin port, and the link.
    const auto until = Clock::now() + 4000ms;
    while (Clock::now() < until) {
        EXPECT_NE(talk(port, "WHATSAT known 1 1\n").find("AT Full "), std::string::npos);
        EXPECT_EQ(http_get(port + 2, "/readyz"), "ready\n");
        std::this_thread::sleep_for(200ms);
    }
    const std::string page = http_get(port + 2, "/metrics");
    EXPECT_EQ(metric(page, "herd_peer_link_changes_total{change=\"down\"}"), downs);
    EXPECT_EQ(metric(page, "herd_data_writable"), 0);
    // A little room: whole entries are written; then all of it.
    std::filesystem::remove(disk_dir + "/spare");
    const std::string reply = read_for(fd, 10000ms);
    EXPECT_TRUE(reply.starts_with("AT Full ")) << reply.substr(0, 100);
    std::filesystem::remove(disk_dir + "/filler");
    ::shutdown(fd, SHUT_WR);
    const std::string rest = reply + read_all(fd, 10000ms);
    ::close(fd);
    EXPECT_NE(rest.find("AT Full +"), rest.rfind("AT Full +"));  // the WHATSAT behind it
    EXPECT_TRUE(rest.ends_with("}\n\n"));
    full.kill9();
    Process again(args("Full", port + 2, {"--data-dir", disk_dir + "/data", "--fsync", "always"}),
                  dir + "/again.out");
    ASSERT_TRUE(wait_until([&] { return http_get(port + 2, "/healthz") == "ok\n"; }, 10000ms));
    EXPECT_NE(talk(port, "WHATSAT " + id + " 0 0\n").find(id + " +2.0+2.0 "), std::string::npos);
    again.stop();
    peer.stop();
}

TEST(Durable, UnderFsyncBatchAFullDiskRefusesIamatsUntilItTakesWritesAndLosesNothingAcknowledged) {
    const std::string disk_dir = temp_dir("batch-full") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    const std::string data = disk_dir + "/data";
    SoloServer solo("batch-full-server",
                    {"--data-dir", data, "--fsync", "batch", "--log-lines", "false"});
    fill_disk(disk_dir + "/spare", 4);
    fill_disk(disk_dir + "/filler", 64);
    // Acknowledged only while the server can believe the disk takes them: `?` once it knows.
    std::vector<std::string> acked;
    bool refused = false;
    for (int round = 0; round < 200 && !refused; ++round) {
        std::string batch;
        for (int i = 0; i < 20; ++i)
            batch += "IAMAT b" + std::to_string(round * 20 + i) + " +1.0+1.0 1479413884\n";
        const std::string replies = talk(solo.port(), batch, 10000ms);
        for (int i = 0; i < 20; ++i) {
            const std::string client = "b" + std::to_string(round * 20 + i);
            if (replies.find("AT Solo ") != std::string::npos &&
                replies.find(" " + client + " +1.0+1.0 ") != std::string::npos &&
                replies.find("? IAMAT " + client + " ") == std::string::npos)
                acked.push_back(client);
        }
        refused = replies.find("? IAMAT ") != std::string::npos;
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_TRUE(refused);
    EXPECT_LT(acked.size(), 200u);
    EXPECT_GT(solo.metric("herd_iamat_refused_storage_total"), 0);
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(solo.log_path())
                       .find(
                           "the folder cannot take writes: IAMATs are "
                           "answered `?`") != std::string::npos;
        },
        10000ms));
    // Some room: part of the backlog goes out; then all of it, and IAMATs are taken again.
    const long long written = solo.metric("herd_data_entries_written_total");
    std::filesystem::remove(disk_dir + "/spare");
    if (!acked.empty()) {
        EXPECT_TRUE(wait_until(
            [&] { return solo.metric("herd_data_entries_written_total") > written; }, 10000ms));
    }
    std::filesystem::remove(disk_dir + "/filler");
    EXPECT_TRUE(wait_until(
        [&] {
            return talk(solo.port(), "IAMAT again +1.0+1.0 1479413884\n").starts_with("AT Solo ");
        },
        10000ms));
    EXPECT_TRUE(wait_until([&] { return solo.metric("herd_data_backlog_bytes") == 0; }, 10000ms));
    EXPECT_EQ(solo.metric("herd_data_entries_dropped_total"), 0);  // nothing acknowledged dropped
    solo.process().kill9();
    SoloServer after("batch-full-after", {"--data-dir", data, "--fsync", "batch"});
    std::string query;
    for (const std::string& c : acked)
        query += "WHATSAT " + c + " 0 0\n";
    EXPECT_EQ(count(talk(after.port(), query, 20000ms), "? WHATSAT"), 0u);
}

TEST(Durable, AStopWithRecordsTheFolderCouldNotTakeSaysSoAndExitsOne) {
    const std::string disk_dir = temp_dir("stop-full") + "/disk";
    SmallDisk disk(disk_dir, "size=256k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    SoloServer solo("stop-full-server", {"--data-dir", disk_dir + "/data", "--fsync", "batch"});
    fill_disk(disk_dir + "/filler", 64);
    ASSERT_NE(talk(solo.port(), "IAMAT lost" + std::string(5000, 'x') + " +1.0+1.0 1479413884\n")
                  .find("AT Solo "),
              std::string::npos);
    ASSERT_TRUE(wait_until([&] { return solo.metric("herd_data_writable") == 0; }, 10000ms));
    solo.process().signal(SIGTERM);
    ASSERT_TRUE(solo.process().wait_exit(10000ms));
    EXPECT_EQ(solo.process().exit_status(), 1);
    EXPECT_NE(slurp(solo.out_path()).find("1 stored records could not be written before the stop"),
              std::string::npos)
        << slurp(solo.out_path());
}

}  // namespace
}  // namespace herd::test
