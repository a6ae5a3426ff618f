// The network mode, end to end: real `herd` processes on 127.0.0.1, stopped by PID.
#include <gtest/gtest.h>

#include <sstream>

#include "core/client_protocol.hpp"
#include "core/synthetic_places.hpp"
#include "core/whatsat_reply.hpp"
#include "harness.hpp"
#include "netmode/clock.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::string now_text() {
    return format_timestamp(net::wall_now());
}

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

// What a WHATSAT must answer for this AT line, computed by the core from the synthetic places.
std::string expected_whatsat(const std::string& at_line, const std::string& latlon,
                             const std::string& radius, unsigned bound) {
    const auto ll = *LatLon::parse(latlon);
    return format_whatsat_reply(
        at_line,
        synthetic_places_json(ll.lat_nanodeg(), ll.lon_nanodeg(), *RadiusKm::parse(radius),
                              synthetic_places_count_max),
        bound);
}

// WHATSAT at `port` until it stops answering `?` (the record has arrived), up to `limit`.
std::string whatsat_when_known(int port, const std::string& request,
                               std::chrono::milliseconds limit) {
    std::string reply;
    wait_until(
        [&] {
            reply = talk(port, request);
            return !reply.empty() && reply[0] != '?';
        },
        limit);
    return reply;
}

TEST(NetHerd, IamatAndWhatsatRoundTripsWithExactReplies) {
    NetHerd herd("roundtrip");
    const std::string time = now_text();
    const std::string at =
        talk(herd.port("Alford"), "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 " + time + "\n");
    ASSERT_EQ(at.rfind("AT Alford +", 0), 0u) << at;
    EXPECT_EQ(at.substr(at.find(" kiwi")),
              " kiwi.cs.ucla.edu +34.068930-118.445127 " + time + "\n");
    const std::string reply = talk(herd.port("Alford"), "WHATSAT kiwi.cs.ucla.edu 10 3\n");
    EXPECT_EQ(reply, expected_whatsat(first_line(at), "+34.068930-118.445127", "10", 3));
}

// Speed is measured in bench/ (herd bench propagation); here only that it arrives.
TEST(NetHerd, AnUpdateAtAlfordIsAnsweredAtHolidayTwoHopsAway) {
    NetHerd herd("propagation");
    const std::string at =
        talk(herd.port("Alford"), "IAMAT phone +1.000000+2.000000 " + now_text() + "\n");
    const std::string reply =
        whatsat_when_known(herd.port("Holiday"), "WHATSAT phone 5 1\n", 20000ms);
    EXPECT_EQ(reply, expected_whatsat(first_line(at), "+1.000000+2.000000", "5", 1));
}

TEST(NetHerd, ManyLinesOnOneConnectionAreAnsweredInOrder) {
    NetHerd herd("pipelined");
    std::string request, expected_tail;
    for (int i = 0; i < 200; ++i)
        request += "IAMAT c" + std::to_string(i) + " +1.0+1.0 1479413884\n";
    request += "WHATSAT c7 1 1\nbogus line\n";
    const std::string reply = talk(herd.port("Ball"), request);
    std::size_t at_lines = 0;
    for (std::size_t p = reply.find("AT Ball "); p != std::string::npos;
         p = reply.find("AT Ball ", p + 1))
        ++at_lines;
    EXPECT_EQ(at_lines, 201u);  // 200 IAMATs and the WHATSAT's first line
    EXPECT_EQ(reply.substr(reply.size() - 13), "? bogus line\n");
    EXPECT_LT(reply.find("c199 "), reply.find("\n{\n"));
}

TEST(NetHerd, KilledServerLeavesTheOthersServingAndCatchesUpAfterRestart) {
    NetHerd herd("crash");
    herd.process("Welsh").kill9();
    // Alford's update still reaches Ball, the long way round (Hamilton, Holiday).
    const std::string at =
        talk(herd.port("Alford"), "IAMAT bike +37.000000-122.000000 " + now_text() + "\n");
    const std::string at_ball = whatsat_when_known(herd.port("Ball"), "WHATSAT bike 1 0\n", 2000ms);
    EXPECT_EQ(first_line(at_ball), first_line(at));
    // Welsh comes back empty; its neighbours reconnect and anti-entropy refills it.
    ASSERT_TRUE(herd.start("Welsh"));
    const std::string at_welsh =
        whatsat_when_known(herd.port("Welsh"), "WHATSAT bike 1 0\n", 8000ms);
    EXPECT_EQ(first_line(at_welsh), first_line(at));
}

TEST(NetHerd, BadInputGetsQuestionMarksAndEveryoneElseIsUnaffected) {
    NetHerd herd("garbage");
    EXPECT_EQ(talk(herd.port("Hamilton"), "hello there\nIAMAT x 1 2\n"),
              "? hello there\n? IAMAT x 1 2\n");
    const std::string binary("\x01\xff\x00zz", 5);
    EXPECT_EQ(talk(herd.port("Hamilton"), binary + "\n"), "? " + binary + "\n");
    // A 1 MiB line: `? ` and its first 65536 bytes, at once; the rest is discarded.
    const std::string big(1 << 20, 'x');
    EXPECT_EQ(talk(herd.port("Hamilton"), big + "\nIAMAT ok +1.0+1.0 5\n").substr(0, 65539),
              "? " + big.substr(0, 65536) + "\n");
    // A peer verb from a client that never shook hands changes nothing.
    EXPECT_EQ(talk(herd.port("Hamilton"), "AT Ball +0.1 forged +1.0+1.0 5\n"),
              "? AT Ball +0.1 forged +1.0+1.0 5\n");
    EXPECT_EQ(talk(herd.port("Hamilton"), "WHATSAT forged 1 1\n"), "? WHATSAT forged 1 1\n");
    // Meanwhile the herd serves as usual.
    const std::string at = talk(herd.port("Hamilton"), "IAMAT fine +1.0+1.0 " + now_text() + "\n");
    EXPECT_EQ(at.rfind("AT Hamilton ", 0), 0u);
}

TEST(NetHerd, AClientThatNeverReadsIsDisconnectedByTheWriteTimeout) {
    NetHerd herd("noreader", {"--write-timeout-s", "2"});
    const int fd = connect_to(herd.port("Holiday"));
    ASSERT_GE(fd, 0);
    std::string chunk;
    while (chunk.size() < 64 * 1024)
        chunk += "IAMAT slowpoke +1.0+1.0 1479413884\n";
    bool disconnected = false;
    std::size_t sent_total = 0;
    const auto end = Clock::now() + 40s;
    while (!disconnected && Clock::now() < end && sent_total < (400u << 20)) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        if (p.revents & (POLLERR | POLLHUP)) {
            disconnected = true;
            break;
        }
        const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) disconnected = true;
        if (n > 0) sent_total += static_cast<std::size_t>(n);
    }
    ::close(fd);
    EXPECT_TRUE(disconnected) << "sent " << sent_total << " bytes without being cut off";
    // The server stopped reading while its output was full, so it took little of what was sent.
    EXPECT_LT(sent_total, 64u << 20);
    EXPECT_EQ(talk(herd.port("Holiday"), "IAMAT other +1.0+1.0 5\n").rfind("AT Holiday ", 0), 0u);
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(herd.dir() + "/logs/Holiday.log").find("closed: write timeout") !=
                   std::string::npos;
        },
        10000ms));
}

TEST(NetHerd, ASharedSecretAuthenticatesAndAWrongOneIsRefused) {
    const std::string dir = temp_dir("secrets");
    std::ofstream(dir + "/right") << "correct horse battery staple\n";
    std::ofstream(dir + "/wrong") << "incorrect horse battery staple\n";
    NetHerd herd("secret", {"--secret-file", dir + "/right"});
    const std::string at = talk(herd.port("Alford"), "IAMAT key +1.0+1.0 " + now_text() + "\n");
    EXPECT_EQ(first_line(whatsat_when_known(herd.port("Ball"), "WHATSAT key 1 0\n", 2000ms)),
              first_line(at));
    // Welsh restarted with the wrong secret: its TLS key differs, so its neighbours' TLS refuses
    // it, and its news stays home.
    herd.process("Welsh").stop();
    ASSERT_TRUE(herd.start("Welsh", {"--secret-file", dir + "/wrong"}));
    talk(herd.port("Welsh"), "IAMAT intruder +1.0+1.0 " + now_text() + "\n");
    // Once both neighbours have refused Welsh's handshake, its news cannot have reached them.
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(herd.dir() + "/logs/Alford.log").find("tls handshake failed") !=
                       std::string::npos &&
                   slurp(herd.dir() + "/logs/Ball.log").find("tls handshake failed") !=
                       std::string::npos;
        },
        10000ms));
    EXPECT_EQ(talk(herd.port("Alford"), "WHATSAT intruder 1 0\n"), "? WHATSAT intruder 1 0\n");
    EXPECT_EQ(talk(herd.port("Ball"), "WHATSAT intruder 1 0\n"), "? WHATSAT intruder 1 0\n");
}

class StubProcess {
  public:
    explicit StubProcess(const std::string& dir, std::vector<std::string> extra = {}) {
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = random_base_port();
            std::vector<std::string> args = {HERD_BINARY, "places-stub", "--port",
                                             std::to_string(port_)};
            args.insert(args.end(), extra.begin(), extra.end());
            process_.start(args, dir + "/stub.out");
            if (wait_until([&] { return !process_.running() || connect_probe(); }, 3000ms) &&
                process_.running())
                return;
            process_.stop();
        }
    }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    bool connect_probe() {
        const int fd = connect_to(port_, 50ms);
        if (fd < 0) return false;
        ::close(fd);
        return true;
    }
    int port_ = 0;
    Process process_;
};

TEST(NetPlaces, WhatsatThroughTheStubLegacyShapeAndTheKeyNeverReachesALog) {
    const std::string dir = temp_dir("stub-legacy");
    StubProcess stub(dir);
    ::setenv("GOOGLE_PLACES_API_KEY", "k3y-that-must-not-leak", 1);
    NetHerd herd("stub-legacy", {"--places", stub.url()});
    ::unsetenv("GOOGLE_PLACES_API_KEY");
    const std::string at =
        talk(herd.port("Alford"), "IAMAT kiwi +34.068930-118.445127 " + now_text() + "\n");
    const std::string reply =
        whatsat_when_known(herd.port("Welsh"), "WHATSAT kiwi 2.5 4\n", 2000ms);
    EXPECT_EQ(reply, expected_whatsat(first_line(at), "+34.068930-118.445127", "2.5", 4));
    for (const char* name : NetHerd::names)
        herd.process(name).stop();  // flushes the logs
    for (const auto& entry : std::filesystem::directory_iterator(herd.dir() + "/logs")) {
        EXPECT_EQ(slurp(entry.path().string()).find("k3y-that-must-not-leak"), std::string::npos)
            << entry.path();
    }
    EXPECT_NE(slurp(herd.dir() + "/logs/Welsh.log").find("WHATSAT kiwi 2.5 4"), std::string::npos);
}

TEST(NetPlaces, WhatsatThroughTheStubNewShape) {
    const std::string dir = temp_dir("stub-new");
    StubProcess stub(dir);
    NetHerd herd("stub-new", {"--places", "new=" + stub.url()});
    const std::string at =
        talk(herd.port("Alford"), "IAMAT kiwi +34.068930-118.445127 " + now_text() + "\n");
    const std::string reply = talk(herd.port("Alford"), "WHATSAT kiwi 2.5 4\n");
    // The New answer, mapped back to the legacy shape, carries the same places.
    EXPECT_EQ(reply, expected_whatsat(first_line(at), "+34.068930-118.445127", "2.5", 4));
}

TEST(NetPlaces, RepeatedQueriesAreAnsweredFromTheCache) {
    const std::string dir = temp_dir("stub-cache");
    StubProcess stub(dir);
    NetHerd herd("stub-cache", {"--places", stub.url()});
    const std::string at =
        talk(herd.port("Ball"), "IAMAT kiwi +34.068930-118.445127 " + now_text() + "\n");
    const std::string first = talk(herd.port("Ball"), "WHATSAT kiwi 3 2\n");
    const std::string second =
        talk(herd.port("Ball"), "WHATSAT kiwi 3 5\n");  // same place and radius
    EXPECT_EQ(first, expected_whatsat(first_line(at), "+34.068930-118.445127", "3", 2));
    EXPECT_EQ(second, expected_whatsat(first_line(at), "+34.068930-118.445127", "3", 5));
    herd.process("Ball").stop();  // flushes the log
    const std::string log = slurp(herd.dir() + "/logs/Ball.log");
    EXPECT_NE(log.find("places: +34.068930-118.445127|3000 requested from " + stub.url()),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("places: +34.068930-118.445127|3000 answered OK (cached)"),
              std::string::npos);
    EXPECT_NE(log.find("places: +34.068930-118.445127|3000 answered from the cache"),
              std::string::npos);
}

TEST(NetPlaces, ProviderDownStillAnswersWithTheFailureFraming) {
    const int closed_port = random_base_port();
    NetHerd herd("places-down", {"--places", "http://127.0.0.1:" + std::to_string(closed_port),
                                 "--places-timeout-ms", "1000"});
    const std::string at =
        talk(herd.port("Ball"), "IAMAT kiwi +34.068930-118.445127 " + now_text() + "\n");
    // Never a hang: the failure framing comes (from the Node's own Places timeout if need be),
    // not the stub's late answer.
    EXPECT_EQ(
        talk(herd.port("Ball"), "WHATSAT kiwi 10 5\n", 30000ms),
        first_line(at) +
            "\n{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
}

TEST(NetPlaces, ASlowProviderTimesOutWithTheFailureFraming) {
    const std::string dir = temp_dir("stub-slow");
    StubProcess stub(dir, {"--latency", "10s"});
    NetHerd herd("places-slow", {"--places", stub.url(), "--places-timeout-ms", "500"});
    const std::string at =
        talk(herd.port("Ball"), "IAMAT kiwi +34.068930-118.445127 " + now_text() + "\n");
    // Never a hang: the failure framing comes (from the Node's own Places timeout if need be),
    // not the stub's late answer.
    EXPECT_EQ(
        talk(herd.port("Ball"), "WHATSAT kiwi 10 5\n", 30000ms),
        first_line(at) +
            "\n{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
}

TEST(NetPlaces, AnErrorStatusFromTheProviderIsPassedOnAndNotCached) {
    const std::string dir = temp_dir("stub-denied");
    StubProcess stub(dir, {"--status", "REQUEST_DENIED"});
    NetHerd herd("places-denied", {"--places", "new=" + stub.url()});
    const std::string at =
        talk(herd.port("Ball"), "IAMAT kiwi +34.068930-118.445127 " + now_text() + "\n");
    EXPECT_EQ(
        talk(herd.port("Ball"), "WHATSAT kiwi 10 5\n"),
        first_line(at) +
            "\n{\"html_attributions\": [], \"results\": [], \"status\": \"REQUEST_DENIED\"}\n\n");
    // An error is never cached: the same question goes to the provider again.
    talk(herd.port("Ball"), "WHATSAT kiwi 10 5\n");
    herd.process("Ball").stop();
    const std::string log = slurp(herd.dir() + "/logs/Ball.log");
    const std::string asked = "places: +34.068930-118.445127|10000 requested from " + stub.url();
    EXPECT_NE(log.find(asked), log.rfind(asked)) << log;
    EXPECT_EQ(log.find("answered from the cache"), std::string::npos);
}

TEST(NetUp, UpStartsTheHerdFromAFileAndStopsItOnSigterm) {
    const std::string dir = temp_dir("up");
    int base = 0;
    Process up;
    for (int attempt = 0; attempt < 5 && base == 0; ++attempt) {
        const int b = random_base_port();
        std::ofstream(dir + "/herd.conf", std::ios::trunc)
            << format_herd_file(fall2017_herd("127.0.0.1", b));
        up.start({HERD_BINARY, "up", "--config", dir + "/herd.conf", "--log-dir", dir + "/logs"},
                 dir + "/up.out");
        const bool all = wait_until(
            [&] {
                for (int i = 0; i < 5; ++i) {
                    const int fd = connect_to(b + i, 20ms);
                    if (fd < 0) return false;
                    ::close(fd);
                }
                return true;
            },
            5000ms);
        if (all)
            base = b;
        else
            up.stop();
    }
    ASSERT_NE(base, 0);
    const std::string at = talk(base, "IAMAT upclient +1.0+1.0 " + now_text() + "\n");
    EXPECT_EQ(first_line(whatsat_when_known(base + 3, "WHATSAT upclient 1 0\n", 2000ms)),
              first_line(at));
    up.signal(SIGTERM);
    EXPECT_TRUE(up.wait_exit(8000ms));
    EXPECT_EQ(up.exit_status(), 0);
    const std::string out = slurp(dir + "/up.out");
    EXPECT_NE(
        out.find("[Alford]   herd serve Alford: listening on 127.0.0.1:" + std::to_string(base)),
        std::string::npos)
        << out;
    EXPECT_NE(out.find("[Welsh]    stopped: exited with status 0"), std::string::npos) << out;
    for (int i = 0; i < 5; ++i)
        EXPECT_LT(connect_to(base + i, 100ms), 0);
    // A second `herd up` with the same log folder keeps the secret the first one made (servers
    // on other hosts were given it).
    const std::string secret = slurp(dir + "/logs/herd.secret");
    ASSERT_FALSE(secret.empty());
    Process again({HERD_BINARY, "up", "--config", dir + "/herd.conf", "--log-dir", dir + "/logs"},
                  dir + "/up2.out");
    EXPECT_TRUE(wait_until(
        [&] { return slurp(dir + "/up2.out").find("using the herd secret") != std::string::npos; },
        10000ms));
    again.signal(SIGTERM);
    EXPECT_TRUE(again.wait_exit(8000ms));
    EXPECT_EQ(slurp(dir + "/logs/herd.secret"), secret);
}

// A two-server herd run by `herd up` (its output in DIR/up.out), on a random base port.
struct UpPair {
    std::string dir;
    int base = 0;
    Process up;

    explicit UpPair(const std::string& test, const std::vector<std::string>& extra = {})
        : dir(temp_dir(test)) {
        for (int attempt = 0; attempt < 5 && base == 0; ++attempt) {
            const int b = random_base_port();
            std::ofstream(dir + "/herd.conf", std::ios::trunc)
                << "server A 127.0.0.1:" << b << "\nserver B 127.0.0.1:" << b + 1 << "\nlink A B\n";
            std::vector<std::string> args = {HERD_BINARY,        "up",        "--config",
                                             dir + "/herd.conf", "--log-dir", dir + "/logs",
                                             "--admin-offset",   "0"};
            args.insert(args.end(), extra.begin(), extra.end());
            up.start(args, dir + "/up.out");
            if (wait_until([&] { return listening(b) && listening(b + 1); }, 5000ms))
                base = b;
            else
                up.stop();
        }
    }
    static bool listening(int port) {
        const int fd = connect_to(port, 20ms);
        if (fd >= 0) ::close(fd);
        return fd >= 0;
    }
    std::string out() const { return slurp(dir + "/up.out"); }
    // The PID of `herd up`'s child serving `name`, from /proc.
    pid_t child(const std::string& name) const {
        const std::string children = slurp("/proc/" + std::to_string(up.pid()) + "/task/" +
                                           std::to_string(up.pid()) + "/children");
        std::istringstream in(children);
        for (pid_t pid; in >> pid;) {
            const std::string cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline");
            if (cmdline.find(std::string("serve\0", 6) + name + '\0') != std::string::npos)
                return pid;
        }
        return -1;
    }
};

TEST(NetUp, AServerKilledIsRestartedAndTheExitStatusSaysOneDied) {
    UpPair herd("up-restart");
    ASSERT_NE(herd.base, 0);
    const pid_t a = herd.child("A");
    ASSERT_GT(a, 0);
    ::kill(a, SIGKILL);
    EXPECT_TRUE(wait_until(
        [&] {
            const std::string out = herd.out();
            return out.find("[A] DIED: killed by signal 9") != std::string::npos &&
                   out.find("[A] restarting in 1.00 s") != std::string::npos &&
                   out.find("[A] restart 1") != std::string::npos;
        },
        10000ms))
        << herd.out();
    EXPECT_TRUE(wait_until([&] { return herd.child("A") > 0 && herd.child("A") != a; }, 10000ms));
    EXPECT_TRUE(wait_until([&] { return UpPair::listening(herd.base); }, 10000ms));
    EXPECT_TRUE(talk(herd.base, "IAMAT again +1.0+1.0 " + now_text() + "\n").starts_with("AT A "));
    herd.up.signal(SIGTERM);
    ASSERT_TRUE(herd.up.wait_exit(10000ms));
    EXPECT_EQ(herd.up.exit_status(), 1);  // a server died during the run
    EXPECT_NE(herd.out().find("[B] stopped: exited with status 0"), std::string::npos);
}

TEST(NetUp, APlainKillOfOneServerStartsItAgainAtOnceAndIsNoFailure) {
    UpPair herd("up-plain-kill");
    ASSERT_NE(herd.base, 0);
    const pid_t a = herd.child("A");
    ASSERT_GT(a, 0);
    ::kill(a, SIGTERM);  // the README's way to restart one server
    EXPECT_TRUE(wait_until(
        [&] {
            return herd.out().find("[A] stopped (exit 0); starting it again") != std::string::npos;
        },
        10000ms))
        << herd.out();
    EXPECT_TRUE(wait_until([&] { return herd.child("A") > 0 && herd.child("A") != a; }, 10000ms));
    EXPECT_TRUE(wait_until([&] { return UpPair::listening(herd.base); }, 10000ms));
    EXPECT_EQ(herd.out().find("DIED"), std::string::npos) << herd.out();
    herd.up.signal(SIGTERM);
    ASSERT_TRUE(herd.up.wait_exit(10000ms));
    EXPECT_EQ(herd.up.exit_status(), 0);  // nothing failed
}

TEST(NetUp, WithNoRestartADeadServerIsOnlyReported) {
    UpPair herd("up-norestart", {"--no-restart"});
    ASSERT_NE(herd.base, 0);
    ::kill(herd.child("A"), SIGKILL);
    EXPECT_TRUE(wait_until(
        [&] { return herd.out().find("[A] DIED: killed by signal 9") != std::string::npos; },
        10000ms));
    EXPECT_TRUE(UpPair::listening(herd.base + 1));  // B goes on
    herd.up.signal(SIGTERM);
    ASSERT_TRUE(herd.up.wait_exit(10000ms));
    EXPECT_EQ(herd.up.exit_status(), 1);
    // Everything herd up said is out by its exit: a restart would have been announced with the
    // death, and A was never started again.
    EXPECT_EQ(herd.out().find("[A] restart"), std::string::npos) << herd.out();
}

// Gone, or a zombie nobody reaped yet: no longer running.
bool gone(pid_t pid) {
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    const std::size_t close = stat.rfind(')');
    return stat.empty() || close == std::string::npos || stat.substr(close + 2, 1) == "Z";
}

TEST(NetUp, ServersStopWhenHerdUpIsKilled) {
    UpPair herd("up-killed");
    ASSERT_NE(herd.base, 0);
    const pid_t a = herd.child("A");
    const pid_t b = herd.child("B");
    ASSERT_GT(a, 0);
    ASSERT_GT(b, 0);
    herd.up.kill9();
    // No orphan keeps the herd's ports: each asked the kernel to stop it with its supervisor.
    EXPECT_TRUE(wait_until([&] { return gone(a) && gone(b); }, 10000ms));
    EXPECT_TRUE(wait_until([&] { return !UpPair::listening(herd.base); }, 10000ms));
}

TEST(NetUp, AServerThatCannotStartStopsTheWholeHerdAtOnce) {
    const std::string dir = temp_dir("up-failfast");
    // B's port is taken.
    int b = 0;
    const int taken = listen_loopback(&b);
    ASSERT_GE(taken, 0);
    const int a = random_base_port();
    std::ofstream(dir + "/herd.conf")
        << "server A 127.0.0.1:" << a << "\nserver B 127.0.0.1:" << b << "\nlink A B\n";
    Process up({HERD_BINARY, "up", "--config", dir + "/herd.conf", "--log-dir", dir + "/logs",
                "--admin-offset", "0"},
               dir + "/up.out");
    ASSERT_TRUE(up.wait_exit(15000ms));
    ::close(taken);
    EXPECT_EQ(up.exit_status(), 1);
    const std::string out = slurp(dir + "/up.out");
    EXPECT_NE(out.find("[B] herd serve: cannot listen on 127.0.0.1:" + std::to_string(b)),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("[B] could not start: exited with status 1"), std::string::npos) << out;
    EXPECT_NE(out.find("herd up: server B could not start; stopping"), std::string::npos) << out;
    EXPECT_FALSE(UpPair::listening(a));
}

TEST(NetHerd, ConnectionsBeyondTheCapAreRefusedAndTheOthersKeepWorking) {
    NetHerd herd("cap", {"--connections-max", "6"});  // two of them are Ball's peer links
    std::vector<int> idle;
    for (int i = 0; i < 4; ++i)
        idle.push_back(connect_to(herd.port("Ball")));
    const auto clients = [&] {
        return metric(herd.metrics("Ball"), "herd_connections{kind=\"client\"}");
    };
    ASSERT_TRUE(wait_until([&] { return clients() == 4; }, 10000ms));
    // The fifth client connection is closed at once, without a byte.
    const int refused = connect_to(herd.port("Ball"));
    ASSERT_GE(refused, 0);
    EXPECT_EQ(read_all(refused, 2000ms), "");
    ::close(refused);
    // The ones already in keep working; once one leaves, a new client is served again.
    const int fd = idle[0];
    ::send(fd, "IAMAT capped +1.0+1.0 5\n", 24, MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    EXPECT_EQ(read_all(fd, 2000ms).rfind("AT Ball ", 0), 0u);
    ::close(fd);
    ASSERT_TRUE(wait_until([&] { return clients() == 3; }, 10000ms));
    EXPECT_EQ(talk(herd.port("Ball"), "WHATSAT capped 0 0\n").rfind("AT Ball ", 0), 0u);
    for (std::size_t i = 1; i < idle.size(); ++i)
        ::close(idle[i]);
}

TEST(NetCli, BadArgumentsGetUsageAndExitTwo) {
    const std::string dir = temp_dir("cli");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{HERD_BINARY, "serve", "Nobody"},
          {HERD_BINARY, "serve", "Alford", "--bogus"},
          {HERD_BINARY, "serve", "Alford", "--places", "ftp://x"},
          {HERD_BINARY, "up"},
          {HERD_BINARY, "client", "nohost"},
          {HERD_BINARY, "places-stub"},
          {HERD_BINARY, "frobnicate"}}) {
        Process p(args, dir + "/out");
        ASSERT_TRUE(p.wait_exit(3000ms));
        EXPECT_EQ(p.exit_status(), 2) << args[1];
    }
    EXPECT_NE(slurp(dir + "/out").find("usage: herd serve NAME"), std::string::npos);
}

}  // namespace
}  // namespace herd::test

namespace herd::test {
namespace {

// The admin port's /store: every record as its AT line, in the order first stored, for the
// holder of the admin token only; and --clock-offset: the server's clock runs that far from the
// machine's, which its AT replies' skews show.
TEST(NetAdmin, StoreDumpsEveryRecordAndTheClockOffsetShowsInSkews) {
    const std::string dir = temp_dir("store_dump_token");
    const std::string token = "0123456789abcdef0123";
    std::ofstream(dir + "/token") << token << "\n";
    SoloServer solo("store_dump",
                    {"--clock-offset", "-100s", "--admin-token-file", dir + "/token"});
    EXPECT_EQ(http_get(solo.admin_port(), "/store", token), "");
    const std::string now = format_timestamp(net::wall_now());
    const std::string b = talk(solo.port(), "IAMAT bee +1.0+2.0 " + now + "\n");
    const std::string a = talk(solo.port(), "IAMAT ant +3.0+4.0 " + now + "\n");
    ASSERT_EQ(b.rfind("AT Solo -", 0), 0u) << b;  // 100 s behind the client
    const auto skew = parse_duration(b.substr(8, b.find(' ', 8) - 8) + "s", true);
    ASSERT_TRUE(skew.has_value()) << b;
    EXPECT_LT(skew->ns, Duration::milliseconds(-99'000).ns);
    EXPECT_GT(skew->ns, Duration::milliseconds(-101'000).ns);
    EXPECT_EQ(http_get(solo.admin_port(), "/store", token), b + a);  // bee first, as stored
    std::string status;
    http_get(solo.admin_port(), "/store", "", &status);
    EXPECT_EQ(status, "HTTP/1.1 401 Unauthorized");
    http_get(solo.admin_port(), "/store", "0123456789abcdef0124", &status);
    EXPECT_EQ(status, "HTTP/1.1 401 Unauthorized");
}

TEST(NetAdmin, ClockOffsetMustBeASignedDuration) {
    const std::string dir = temp_dir("clock_offset_bad");
    Process p({HERD_BINARY, "serve", "Alford", "--log-dir", "", "--clock-offset", "100"},
              dir + "/out");
    ASSERT_TRUE(p.wait_exit(10s));
    EXPECT_EQ(p.exit_status(), 2);
    EXPECT_NE(slurp(dir + "/out").find("--clock-offset takes a signed duration"),
              std::string::npos);
}

}  // namespace
}  // namespace herd::test
