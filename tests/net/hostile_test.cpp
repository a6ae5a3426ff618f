// Hostile clients against real `herd serve` processes on 127.x addresses, stopped by PID: a
// maximum-size record, a bursting client that reads, slowloris, one address over its cap, a
// herd whose links come back while every client slot is taken, 100 000 short connections, and
// logs on a full or failing disk. Every wait is for a condition, with a generous deadline.
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/time.hpp"
#include "harness.hpp"
#include "netmode/clock.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::string now_text() {
    return format_timestamp(net::wall_now());
}

// An IAMAT line (with its '\n') of exactly `bytes` bytes before the newline.
std::string iamat_of_size(std::size_t bytes, const std::string& time) {
    const std::string rest = " +1.000000+2.000000 " + time;
    const std::size_t id = bytes - std::string("IAMAT ").size() - rest.size();
    return "IAMAT " + std::string(id, 'p') + rest + "\n";
}

bool send_all(int fd, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

// True once the server has closed `fd` (EOF or reset), waiting up to `limit`.
bool closed_by_server(int fd, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    char buffer[4096];
    while (Clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
    return false;
}

// ---------------------------------------------------------------- the poison record

TEST(Hostile, AMaximumSizeIamatNeitherStopsReplicationNorIsLost) {
    NetHerd herd("poison");
    const int alford = herd.port("Alford");
    // The largest IAMAT a client may send (the line cap) is refused: its AT line would not fit.
    const std::string too_big = iamat_of_size(65536, now_text());
    EXPECT_EQ(talk(alford, too_big, 10000ms), "? " + too_big);
    // The largest one whose AT line fits ("AT Alford +S.SSSSSSSSS" adds 17 bytes) is stored and
    // reaches every server.
    const std::string time = now_text();
    const std::string largest = iamat_of_size(65536 - 17, time);
    const std::string at = talk(alford, largest, 10000ms);
    ASSERT_EQ(at.rfind("AT Alford +", 0), 0u) << at.substr(0, 100);
    ASSERT_EQ(at.size(), 65536u + 1);
    // Then a stream of ordinary updates: every one reaches all five servers.
    std::string updates;
    for (int i = 0; i < 500; ++i)
        updates += "IAMAT after" + std::to_string(i) + " +1.0+1.0 " + time + "\n";
    ASSERT_EQ(count(talk(alford, updates, 10000ms), "AT Alford "), 500u);
    for (const char* name : NetHerd::names) {
        EXPECT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_records_stored") == 501; }, 20000ms))
            << name << ": " << metric(herd.metrics(name), "herd_records_stored") << " records";
        EXPECT_EQ(metric(herd.metrics(name), "herd_peer_lines_rejected_total"), 0) << name;
    }
    const std::string id = largest.substr(6, largest.find(' ', 6) - 6);
    const std::string far = talk(herd.port("Holiday"), "WHATSAT " + id + " 1 0\n", 10000ms);
    EXPECT_EQ(far.substr(0, far.find('\n') + 1), at);
}

// ---------------------------------------------------------------- a bursting client that reads

TEST(Hostile, AClientThatWritesTwentyThousandLinesAtOnceAndReadsGetsEveryReplyInOrder) {
    NetHerd herd("burst");
    const int fd = connect_to(herd.port("Ball"));
    ASSERT_GE(fd, 0);
    const int lines = 20000;
    std::string burst;
    for (int i = 0; i < lines; ++i)
        burst += "IAMAT burst" + std::to_string(i) + " +1.0+1.0 1479413884\n";
    std::atomic<bool> sent{false};
    std::thread writer([&] { sent = send_all(fd, burst); });
    std::string received;
    std::size_t newlines = 0;
    const auto end = Clock::now() + 60s;
    char buffer[65536];
    while (newlines < static_cast<std::size_t>(lines) && Clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        received.append(buffer, static_cast<std::size_t>(n));
        newlines += static_cast<std::size_t>(std::count(buffer, buffer + n, '\n'));
    }
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
    ::close(fd);
    EXPECT_TRUE(sent);
    ASSERT_EQ(newlines, static_cast<std::size_t>(lines));
    std::size_t i = 0;
    for (std::size_t p = 0; p < received.size(); p = received.find('\n', p) + 1, ++i) {
        const std::string line = received.substr(p, received.find('\n', p) - p);
        ASSERT_EQ(line.rfind("AT Ball ", 0), 0u) << line;
        ASSERT_NE(line.find(" burst" + std::to_string(i) + " "), std::string::npos) << line;
    }
    // The server held back instead of cutting the client off.
    EXPECT_GE(metric(herd.metrics("Ball"), "herd_client_reads_paused_total"), 1);
    EXPECT_EQ(metric(herd.metrics("Ball"), "herd_clients_closed_total{reason=\"output_cap\"}"), 0);
}

TEST(Hostile, AClientThatReadsSlowlyButSteadilyIsNeverCutOff) {
    SoloServer solo("slowreader", {"--write-timeout-s", "2"});
    const int fd = connect_to(solo.port());
    ASSERT_GE(fd, 0);
    const int small = 8192;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string request = "IAMAT slow +34.068930-118.445127 5\n";
    const int whatsats = 60;  // about 560 KB of replies
    for (int i = 0; i < whatsats; ++i)
        request += "WHATSAT slow 50 20\n";
    ASSERT_TRUE(send_all(fd, request));
    ::shutdown(fd, SHUT_WR);
    // 8 KiB every 50 ms: about 160 KB/s, far longer in all than the write timeout.
    std::string received;
    char buffer[8192];
    const auto end = Clock::now() + 120s;
    while (Clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        received.append(buffer, static_cast<std::size_t>(n));
        std::this_thread::sleep_for(50ms);
    }
    ::close(fd);
    EXPECT_EQ(count(received, "}\n\n"), static_cast<std::size_t>(whatsats));
    EXPECT_EQ(solo.metric("herd_clients_closed_total{reason=\"write_timeout\"}"), 0);
}

// Whichever way the server decides to close it (line deadline, end of input, write timeout),
// a connection whose client takes none of its output is gone soon after the write timeout.
TEST(Hostile, AConnectionWhoseClientTakesNothingIsGoneAfterTheWriteTimeoutWhateverClosesIt) {
    SoloServer solo("stuckclose", {"--line-timeout-s", "1", "--write-timeout-s", "2"});
    const int fd = connect_to(solo.port());
    ASSERT_GE(fd, 0);
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    // Big replies it never reads, then a line that never ends: the line deadline closes the
    // connection "after its output", which never drains.
    std::string request;
    for (int i = 0; i < 100; ++i)
        request += iamat_of_size(40000, "5");
    request += "IAM";
    ASSERT_TRUE(send_all(fd, request));
    EXPECT_TRUE(
        wait_until([&] { return solo.metric("herd_connections{kind=\"client\"}") == 0; }, 60000ms))
        << slurp(solo.log_path()).substr(0, 2000);
    ::close(fd);
}

// ---------------------------------------------------------------- slowloris

TEST(Hostile, TricklingConnectionsAreClosedAtTheLineDeadline) {
    SoloServer solo("slowloris", {"--line-timeout-s", "2", "--idle-timeout-s", "600"});
    std::vector<int> fds;
    for (int i = 0; i < 50; ++i) {
        const int fd = connect_to(solo.port());
        ASSERT_GE(fd, 0);
        fds.push_back(fd);
    }
    // One byte a connection every 200 ms: never a whole line.
    std::vector<bool> closed(fds.size(), false);
    std::size_t closed_count = 0;
    const auto end = Clock::now() + 60s;
    while (closed_count < fds.size() && Clock::now() < end) {
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (closed[i]) continue;
            if (::send(fds[i], "I", 1, MSG_NOSIGNAL) != 1 || closed_by_server(fds[i], 1ms)) {
                closed[i] = true;
                ++closed_count;
            }
        }
        std::this_thread::sleep_for(200ms);
    }
    for (int fd : fds)
        ::close(fd);
    EXPECT_EQ(closed_count, fds.size());
    // An honest client is served all along.
    EXPECT_EQ(talk(solo.port(), "IAMAT honest +1.0+1.0 5\n").rfind("AT Solo ", 0), 0u);
    EXPECT_EQ(solo.metric("herd_clients_closed_total{reason=\"line_timeout\"}"), 50);
    EXPECT_TRUE(wait_until(
        [&] { return count(slurp(solo.log_path()), "closed: line timeout") == 50; }, 10000ms));
}

// ---------------------------------------------------------------- the per-address cap

TEST(Hostile, OneAddressOverItsCapDoesNotLockOutAnother) {
    SoloServer solo("perip", {"--max-conns-per-ip", "20"});
    std::vector<int> fds;
    for (int i = 0; i < 20; ++i) {
        const int fd = connect_to(solo.port());
        ASSERT_GE(fd, 0);
        fds.push_back(fd);
    }
    ASSERT_TRUE(wait_until([&] { return solo.metric("herd_connections{kind=\"client\"}") == 20; },
                           10000ms));
    // The same address again: at most admitted as a would-be peer, never served as a client.
    EXPECT_EQ(talk(solo.port(), "IAMAT greedy +1.0+1.0 5\n"), "");
    // Another address is served.
    const std::string other = talk(solo.port(), "IAMAT other +1.0+1.0 5\n", 5000ms, "127.0.0.2");
    EXPECT_EQ(other.rfind("AT Solo ", 0), 0u) << other;
    for (int fd : fds)
        ::close(fd);
    // Freed slots serve the first address again.
    EXPECT_TRUE(wait_until(
        [&] { return talk(solo.port(), "IAMAT again +1.0+1.0 5\n").rfind("AT Solo ", 0) == 0; },
        10000ms));
    const std::string page = solo.metrics();
    EXPECT_GE(metric(page, "herd_connections_reserve_admitted_total") +
                  metric(page, "herd_connections_refused_total{cap=\"per_address\"}"),
              1);
}

// ---------------------------------------------------------------- file descriptors

TEST(Hostile, TheConnectionCapFitsTheOpenFileLimitSoTheAdminPortKeepsAnswering) {
    SoloServer solo("nofile", {"--max-conns-per-ip", "1000"}, {}, 256);
    EXPECT_NE(slurp(solo.out_path()).find("connection cap lowered"), std::string::npos)
        << slurp(solo.out_path());
    std::vector<int> fds;
    for (int i = 0; i < 400; ++i) {
        const int fd = connect_to(solo.port(), 2000ms, i % 2 == 0 ? "127.0.0.5" : "127.0.0.6");
        if (fd >= 0) fds.push_back(fd);
    }
    // Past the cap connections are refused, but the server still has descriptors for its own
    // ports: the admin port answers and a freed slot serves a client again.
    EXPECT_TRUE(
        wait_until([&] { return http_get(solo.admin_port(), "/healthz") == "ok\n"; }, 10000ms));
    EXPECT_TRUE(wait_until(
        [&] { return solo.metric("herd_connections_refused_total{cap=\"all\"}") >= 1; }, 10000ms));
    for (int fd : fds)
        ::close(fd);
    EXPECT_TRUE(wait_until(
        [&] { return talk(solo.port(), "IAMAT fd +1.0+1.0 5\n").rfind("AT Solo ", 0) == 0; },
        10000ms));
}

// ---------------------------------------------------------------- peers while clients fill up

TEST(Hostile, LinksComeBackWhileEveryClientSlotIsTaken) {
    NetHerd herd("capfull", {"--connections-max", "10"});
    for (const char* name : {"Hamilton", "Welsh"}) {
        ASSERT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_connections{kind=\"peer\"}") == 2; },
            10000ms))
            << name;
    }
    herd.process("Alford").kill9();
    // Alford's neighbours are full of idle clients...
    std::vector<int> fds;
    for (const char* name : {"Hamilton", "Welsh"}) {
        for (int i = 0; i < 10; ++i) {
            const int fd = connect_to(herd.port(name));
            ASSERT_GE(fd, 0);
            fds.push_back(fd);
        }
        ASSERT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_connections{kind=\"client\"}") == 10; },
            10000ms));
    }
    // ...and Alford comes back taking no clients at all: only peers can get in anywhere.
    ASSERT_TRUE(herd.start("Alford", {"--connections-max", "0"}));
    EXPECT_TRUE(wait_until(
        [&] { return metric(herd.metrics("Alford"), "herd_connections{kind=\"peer\"}") == 2; },
        20000ms));
    // An update sent at Holiday reaches Alford.
    ASSERT_EQ(talk(herd.port("Holiday"), "IAMAT probe +1.0+1.0 " + now_text() + "\n")
                  .rfind("AT Holiday ", 0),
              0u);
    EXPECT_TRUE(wait_until(
        [&] { return metric(herd.metrics("Alford"), "herd_records_stored") == 1; }, 20000ms));
    for (int fd : fds)
        ::close(fd);
}

// ---------------------------------------------------------------- timers

TEST(Hostile, TimersStayBoundedAfterAHundredThousandShortConnections) {
    SoloServer solo("timers", {"--log-lines", "false"});
    // A tenth as many under AddressSanitizer, which makes each connection ten times dearer (the
    // plain build's run keeps the full 100 000).
#if defined(__SANITIZE_ADDRESS__)
    const int total = 10000;
#else
    const int total = 100000;
#endif
    std::atomic<int> made{0};
    auto worker = [&](const char* from, int n) {
        char reply[256];
        for (int i = 0; i < n; ++i) {
            const int fd = connect_to(solo.port(), 2000ms, from);
            if (fd < 0) continue;
            // One whole line, answered (so the server surely took the connection), and for half
            // of them the start of another: a line deadline armed when the client vanishes.
            const std::string bytes =
                i % 2 == 0 ? "IAMAT t +1.0+1.0 5\nIAMA" : "IAMAT t +1.0+1.0 5\n";
            ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 5000) == 1) ::recv(fd, reply, sizeof reply, 0);
            // Closed with a reset: no TIME_WAIT left on either side.
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            ::close(fd);
            made += 1;
        }
    };
    std::thread a(worker, "127.0.0.3", total / 2);
    std::thread b(worker, "127.0.0.4", total / 2);
    a.join();
    b.join();
    EXPECT_GE(made.load(), total * 99 / 100);
    EXPECT_TRUE(
        wait_until([&] { return solo.metric("herd_connections{kind=\"client\"}") == 0; }, 30000ms));
    // No neighbours, no connections: no timer is left (it used to keep one per connection until
    // its idle deadline).
    EXPECT_EQ(solo.metric("herd_timers"), 0);
    EXPECT_GE(solo.metric("herd_connections_accepted_total"), made.load() * 9 / 10);
}

// ---------------------------------------------------------------- logs in trouble

// A Places provider gone bad (a misconfigured URL, a compromised proxy): every request gets the
// same answer. A thread on 127.0.0.1, stopped with the test.
class HostileProvider {
  public:
    explicit HostileProvider(std::string body) : body_(std::move(body)) {
        fd_ = listen_loopback(&port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~HostileProvider() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void answer(std::string body) {
        std::lock_guard<std::mutex> lock(mutex_);
        body_ = std::move(body);
    }

  private:
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            std::string request;
            char buffer[4096];
            const auto end = Clock::now() + 2000ms;
            while (request.find("\r\n\r\n") == std::string::npos && Clock::now() < end) {
                const ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
                if (n <= 0) break;
                request.append(buffer, static_cast<std::size_t>(n));
            }
            std::string body;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                body = body_;
            }
            send_all(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
            ::close(c);
        }
    }
    std::mutex mutex_;
    std::string body_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

TEST(Hostile, APlacesAnswerNestedAMillionDeepOrCutShortGetsUnknownErrorAndTheServerGoesOn) {
    const std::string deep = R"({"results": [{"name": "A", "x": )" + std::string(1'000'000, '[') +
                             std::string(1'000'000, ']') + R"(}], "status": "OK"})";
    HostileProvider provider(deep);
    SoloServer solo("deep-places", {"--places", provider.url(), "--places-timeout-ms", "20000"});
    ASSERT_NE(talk(solo.port(), "IAMAT deep +1.0+1.0 " + now_text() + "\n").find("AT Solo "),
              std::string::npos);
    const std::string failure =
        "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n";
    std::string reply = talk(solo.port(), "WHATSAT deep 10 5\n", 30000ms);
    EXPECT_TRUE(reply.ends_with(failure)) << reply.substr(0, 200);
    provider.answer(R"({"results": [{"name": "A", "geometry": {"location": {"lat": 1.)");
    reply = talk(solo.port(), "WHATSAT deep 11 5\n", 30000ms);
    EXPECT_TRUE(reply.ends_with(failure)) << reply.substr(0, 200);
    EXPECT_TRUE(solo.process().running());
    EXPECT_EQ(solo.metric("herd_places_answers_malformed_total"), 2);
    // And a sound answer still goes through.
    provider.answer(R"({"results": [{"name": "Cafe"}], "status": "OK"})");
    reply = talk(solo.port(), "WHATSAT deep 12 5\n", 30000ms);
    EXPECT_NE(reply.find("\"name\": \"Cafe\""), std::string::npos) << reply;
}

long long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6));
    }
    return -1;
}

// Connections from `addresses` source addresses (127.1.x.y), `each` from every one, each sending
// the start of a line and holding it: the table-filling attack. Their descriptors.
std::vector<int> hold_from_many(int port, int addresses, int each, std::size_t partial_bytes) {
    std::vector<int> fds;
    const std::string start = "IAMAT " + std::string(partial_bytes, 'h');
    for (int a = 0; a < addresses; ++a) {
        const std::string from =
            "127.1." + std::to_string(a / 200) + "." + std::to_string(1 + a % 200);
        for (int i = 0; i < each; ++i) {
            const int fd = connect_to(port, 200ms, from.c_str());
            if (fd < 0) continue;
            send_all(fd, start);
            fds.push_back(fd);
        }
    }
    return fds;
}

// Honest clients from their own address: how many of `n` got their IAMAT answered.
int honest_answered(int port, int n) {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        const std::string reply =
            talk(port, "IAMAT honest" + std::to_string(i) + " +1.0+1.0 1479413884\n", 5000ms,
                 "127.0.0.200");
        ok += reply.starts_with("AT Solo ") ? 1 : 0;
    }
    return ok;
}

TEST(HostileShare, FortyOrFourHundredAddressesLeaveRoomForHonestClients) {
    for (const auto& [addresses, each] : {std::pair{40, 20}, std::pair{400, 2}}) {
        SoloServer solo("share-" + std::to_string(addresses),
                        {"--connections-max", "400", "--log-lines", "false"});
        std::vector<int> attack = hold_from_many(solo.port(), addresses, each, 1000);
        ASSERT_TRUE(wait_until(
            [&] { return solo.metric("herd_connections{kind=\"client\"}") >= 390; }, 10000ms))
            << addresses;
        EXPECT_EQ(honest_answered(solo.port(), 8), 8) << addresses << " addresses";
        EXPECT_LT(solo.metric("herd_store_probes_total"), 100);  // 8 records: no clustering
        const std::string page = solo.metrics();
        EXPECT_GT(metric(page, "herd_connections_refused_total{cap=\"per_address\"}") +
                      metric(page, "herd_connections_shed_total{reason=\"share\"}"),
                  0)
            << addresses;
        for (int fd : attack)
            ::close(fd);
    }
}

TEST(HostileShare, UnfinishedLinesPastTheBufferBudgetAreShedLargestFirst) {
    SoloServer solo("buffers", {"--client-buffers-mb", "1", "--log-lines", "false"});
    // 40 addresses, one connection each, 60 000 bytes of a line that never ends: 2.4 MB.
    std::vector<int> attack = hold_from_many(solo.port(), 40, 1, 60000);
    ASSERT_TRUE(wait_until(
        [&] { return solo.metric("herd_connections_shed_total{reason=\"buffers\"}") > 0; },
        10000ms));
    EXPECT_LE(solo.metric("herd_client_buffered_bytes"), 1 << 20);
    EXPECT_EQ(honest_answered(solo.port(), 4), 4);
    for (int fd : attack)
        ::close(fd);
}

TEST(HostileShare, MemoryHeldByUnfinishedLinesIsGivenBackWhenTheyLeave) {
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's allocator keeps freed memory in quarantine: nothing to give back.
    GTEST_SKIP() << "the allocator under AddressSanitizer keeps what is freed";
#endif
    SoloServer solo("give-back", {"--log-lines", "false"});
    const long long before = rss_kib(solo.process().pid());
    // 600 connections from 40 addresses, 60 000 bytes of unfinished line each: 36 MB.
    std::vector<int> attack = hold_from_many(solo.port(), 40, 15, 60000);
    ASSERT_TRUE(wait_until([&] { return solo.metric("herd_client_buffered_bytes") > 30'000'000; },
                           10000ms));
    const long long held = rss_kib(solo.process().pid());
    EXPECT_GT(held - before, 25 * 1024);
    for (int fd : attack)
        ::close(fd);
    EXPECT_TRUE(
        wait_until([&] { return solo.metric("herd_client_buffered_bytes") == 0; }, 10000ms));
    talk(solo.port(), "IAMAT after +1.0+1.0 1479413884\n");  // a turn of the server after they left
    // At least half of what the attack made the process hold goes back (all of it stays without
    // the give-back).
    EXPECT_TRUE(wait_until(
        [&] { return rss_kib(solo.process().pid()) < before + (held - before) / 2; }, 10000ms))
        << "KiB: before " << before << ", holding " << held << ", after "
        << rss_kib(solo.process().pid());
}

TEST(HostileShare, OutputThatClientsNeverReadIsBudgetedAcrossConnections) {
    SoloServer solo("output-budget", {"--client-output-mb", "4", "--log-lines", "false"});
    ASSERT_NE(talk(solo.port(), "IAMAT target +1.0+1.0 1479413884\n").find("AT Solo "),
              std::string::npos);
    // 40 connections from 20 addresses ask for the largest answers and never read them.
    std::string asks;
    for (int i = 0; i < 100; ++i)
        asks += "WHATSAT target 50 20\n";
    std::vector<int> greedy;
    for (int i = 0; i < 40; ++i) {
        const std::string from = "127.1.0." + std::to_string(1 + i % 20);
        const int fd = connect_to(solo.port(), 1000ms, from.c_str());
        if (fd < 0) continue;
        int small = 4096;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        send_all(fd, asks);
        greedy.push_back(fd);
    }
    ASSERT_TRUE(wait_until(
        [&] { return solo.metric("herd_connections_shed_total{reason=\"output\"}") > 0; },
        10000ms));
    EXPECT_LE(solo.metric("herd_client_output_bytes"), 4 << 20);
    EXPECT_EQ(honest_answered(solo.port(), 4), 4);
    for (int fd : greedy)
        ::close(fd);
}

TEST(HostileShare, ChurnFromManyAddressesNeverShedsAnAddressHoldingFewer) {
    SoloServer solo("churn", {"--connections-max", "40", "--log-lines", "false"});
    // The honest long-lived connection first (the oldest of all), then nine addresses with four
    // each and one with three: the table is full.
    const int honest = connect_to(solo.port(), 1000ms, "127.0.0.200");
    ASSERT_GE(honest, 0);
    std::vector<int> held;
    for (int a = 0; a < 10; ++a) {
        const std::string from = "127.1.1." + std::to_string(1 + a);
        for (int i = 0; i < (a == 9 ? 3 : 4); ++i)
            held.push_back(connect_to(solo.port(), 1000ms, from.c_str()));
    }
    ASSERT_TRUE(wait_until([&] { return solo.metric("herd_connections{kind=\"client\"}") == 40; },
                           10000ms));
    // The address holding three comes again, and again: each time one of the four-holders goes.
    for (int round = 0; round < 10; ++round)
        held.push_back(connect_to(solo.port(), 1000ms, "127.1.1.10"));
    EXPECT_TRUE(wait_until(
        [&] { return solo.metric("herd_connections_shed_total{reason=\"share\"}") >= 1; },
        10000ms));
    // The honest connection is still there and served.
    const std::string line = "IAMAT honest-long +1.0+1.0 1479413884\n";
    ASSERT_TRUE(send_all(honest, line));
    EXPECT_TRUE(read_all(honest, 2000ms).starts_with("AT Solo "))
        << "the honest connection was shed";
    ::close(honest);
    for (int fd : held)
        if (fd >= 0) ::close(fd);
}

TEST(HostileAdmin, IdleConnectionsNeverStarveTheProbes) {
    SoloServer solo("admin-idle");
    // Sixteen idle connections (the admin port's cap), opened again as they are shed.
    std::vector<int> idle;
    for (int i = 0; i < 16; ++i)
        idle.push_back(connect_to(solo.admin_port(), 1000ms, "127.0.0.3"));
    int answered = 0;
    for (int probe = 0; probe < 40; ++probe) {
        answered += http_get(solo.admin_port(), "/healthz") == "ok\n" ? 1 : 0;
        idle.push_back(connect_to(solo.admin_port(), 1000ms, "127.0.0.3"));
    }
    EXPECT_EQ(answered, 40);
    EXPECT_GT(solo.metric("herd_admin_connections_shed_total"), 0);
    for (int fd : idle)
        if (fd >= 0) ::close(fd);
}

TEST(HostileAdmin, StoreIsOffWithoutATokenAndStreamsInBoundedMemoryWithOne) {
    const std::string dir = temp_dir("admin-store");
    const std::string token = "a-token-of-twenty-chars";
    std::ofstream(dir + "/token") << token << "\n";
    {
        SoloServer off("admin-store-off");
        std::string status;
        http_get(off.admin_port(), "/store", token, &status);
        EXPECT_EQ(status, "HTTP/1.1 404 Not Found");
    }
    SoloServer solo("admin-store-on",
                    {"--admin-token-file", dir + "/token", "--log-lines", "false"});
    // 100 000 records, about 7 MB of lines.
    for (int batch = 0; batch < 20; ++batch) {
        std::string lines;
        for (int i = 0; i < 5000; ++i)
            lines += "IAMAT client-" + std::to_string(batch * 5000 + i) + " +1.0+1.0 1479413884\n";
        talk(solo.port(), lines, 20000ms);
    }
    ASSERT_EQ(solo.metric("herd_records_stored"), 100000);
    const long long before = rss_kib(solo.process().pid());
    // Sixteen /store requests that read nothing: two stream (a piece at a time), the rest wait no
    // turn; the server answers probes and clients meanwhile.
    std::vector<int> readers;
    const std::string request =
        "GET /store HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
    for (int i = 0; i < 16; ++i) {
        const int fd = connect_to(solo.admin_port(), 1000ms, "127.0.0.4");
        if (fd >= 0) send_all(fd, request);
        readers.push_back(fd);
    }
    // Every request was taken: each connection has its answer's head (a stream's or `busy`).
    ASSERT_TRUE(wait_until(
        [&] {
            return std::all_of(readers.begin(), readers.end(), [](int fd) {
                pollfd p{fd, POLLIN, 0};
                return fd >= 0 && ::poll(&p, 1, 0) > 0;
            });
        },
        10000ms));
    EXPECT_EQ(http_get(solo.admin_port(), "/healthz"), "ok\n");
    EXPECT_NE(talk(solo.port(), "IAMAT during +1.0+1.0 1479413884\n").find("AT Solo "),
              std::string::npos);
    const long long grown = rss_kib(solo.process().pid()) - before;
    EXPECT_LT(grown, 20 * 1024) << "KiB";  // a whole copy per request would be 16 x 7 MB
    for (int fd : readers)
        if (fd >= 0) ::close(fd);
    // One that reads gets every record, once the server has seen the readers go (until then
    // their streams hold the two slots and a request is answered `busy`).
    std::string all;
    EXPECT_TRUE(wait_until(
        [&] {
            all = http_get(solo.admin_port(), "/store", token);
            return count(all, "\n") == 100001u;
        },
        30000ms))
        << count(all, "\n") << " lines: " << all.substr(0, 200);
}

TEST(HostileLogs, SighupReopensTheLogAfterItWasMovedAway) {
    SoloServer solo("sighup");
    ASSERT_EQ(talk(solo.port(), "IAMAT before +1.0+1.0 5\n").rfind("AT Solo", 0), 0u);
    ASSERT_TRUE(wait_until(
        [&] { return slurp(solo.log_path()).find("IAMAT before") != std::string::npos; }, 10000ms));
    std::filesystem::rename(solo.log_path(), solo.log_path() + ".moved");
    solo.process().signal(SIGHUP);
    ASSERT_TRUE(wait_until(
        [&] {
            talk(solo.port(), "IAMAT after +1.0+1.0 5\n");
            return slurp(solo.log_path()).find("IAMAT after") != std::string::npos;
        },
        10000ms));
    EXPECT_EQ(slurp(solo.log_path() + ".moved").find("IAMAT after"), std::string::npos);
    solo.process().signal(SIGTERM);
    ASSERT_TRUE(solo.process().wait_exit(10000ms));
    EXPECT_EQ(solo.process().exit_status(), 0);
}

TEST(HostileLogs, HerdLogPrintsEveryLineInAndOutWithItsConnection) {
    SoloServer solo("herdlog");
    const std::string reply = talk(solo.port(), "IAMAT kiwi +1.0+1.0 5\nWHATSAT kiwi 1 1\n");
    ASSERT_EQ(reply.rfind("AT Solo", 0), 0u) << reply;
    solo.process().signal(SIGTERM);
    ASSERT_TRUE(solo.process().wait_exit(10000ms));
    const std::string text = herd_log(solo.log_path());
    const std::string at = reply.substr(0, reply.find('\n'));
    // conn 1 is the first client: its lines in order, each with a time.
    for (const std::string& line : std::vector<std::string>{
             "conn 1 accepted from 127.0.0.1", "conn 1 < IAMAT kiwi +1.0+1.0 5", "conn 1 > " + at,
             "conn 1 < WHATSAT kiwi 1 1", "conn 1 end of input"})
        EXPECT_NE(text.find("Z " + line), std::string::npos) << line << "\n" << text;
    // Lines read are logged as they are read (both came in one read), replies as they are written.
    EXPECT_LT(text.find("< IAMAT"), text.find("< WHATSAT")) << text;
    EXPECT_LT(text.find("< WHATSAT"), text.find("> AT")) << text;
    EXPECT_NE(text.find("> " + at + "\n", text.find("> AT") + 1), std::string::npos)
        << "the WHATSAT's reply starts with the AT line again";
}

TEST(HostileLogs, AnEndlessLineFillsNoLog) {
    SoloServer solo("endless");
    // 8 MB without an end of line, then one: the server answers it as malformed, and the log
    // keeps the line's first 4 KiB and its length.
    const std::string line = "IAMAT " + std::string(8u << 20, 'x');
    const std::string reply = talk(solo.port(), line + "\nIAMAT after +1.0+1.0 5\n", 60000ms);
    EXPECT_EQ(reply.rfind("? ", 0), 0u) << reply.substr(0, 80);
    EXPECT_NE(reply.find("AT Solo"), std::string::npos);
    solo.process().signal(SIGTERM);
    ASSERT_TRUE(solo.process().wait_exit(10000ms));
    EXPECT_LT(std::filesystem::file_size(solo.log_path()), 1u << 20);
    const std::string text = herd_log(solo.log_path());
    EXPECT_NE(text.find("Z conn 1: the line it sent above had " + std::to_string(line.size()) +
                        " bytes; the log keeps the first 4096\n"),
              std::string::npos)
        << text.substr(0, 2000);
    EXPECT_NE(text.find("< IAMAT after +1.0+1.0 5"), std::string::npos);
}

TEST(HostileLogs, FollowingALogThroughRotationsMissesNoLine) {
    // About one rotation every half second: a follower that is slow (under ASan) still sees
    // each rotation on its own (see the note on -f in the README: a walk of the rotated files
    // can be overtaken by rotations faster than its polls).
    SoloServer solo("follow", {"--log-max-mb", "0.05", "--log-keep", "50"});
    talk(solo.port(), "IAMAT first +1.0+1.0 5\n");
    ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(solo.log_path()); }, 10000ms));
    const std::string out = solo.log_path() + ".followed";
    Process follower({HERD_BINARY, "log", "-f", solo.log_path()}, out);
    // Following from here on: the follower has the file open before anything rotates it (a
    // follower that starts after a rotation starts at the new file, as tail -F does).
    ASSERT_TRUE(
        wait_until([&] { return slurp(out).find("< IAMAT first") != std::string::npos; }, 30000ms));
    constexpr int rounds = 40, per_round = 100;
    for (int r = 0; r < rounds; ++r) {
        std::string lines;
        for (int i = 0; i < per_round; ++i)
            lines += "IAMAT f" + std::to_string(r * per_round + i) + " +1.0+1.0 5\n";
        talk(solo.port(), lines);
        std::this_thread::sleep_for(50ms);
    }
    const std::string last = "< IAMAT f" + std::to_string(rounds * per_round - 1) + " ";
    EXPECT_TRUE(wait_until([&] { return slurp(out).find(last) != std::string::npos; }, 30000ms));
    EXPECT_TRUE(std::filesystem::exists(solo.log_path() + ".2")) << "rotated a few times";
    const std::string text = slurp(out);
    for (int i = 0; i < rounds * per_round; ++i)
        ASSERT_EQ(count(text, "< IAMAT f" + std::to_string(i) + " "), 1u) << i;
}

TEST(HostileLogs, RotationKeepsTheNamedNumberOfFiles) {
    SoloServer solo("rotation", {"--log-max-mb", "0.01", "--log-keep", "2"});
    std::string lines;
    for (int i = 0; i < 400; ++i)
        lines += "IAMAT rotate" + std::to_string(i) + " +1.0+1.0 5\n";
    ASSERT_TRUE(wait_until(
        [&] {
            talk(solo.port(), lines);
            return std::filesystem::exists(solo.log_path() + ".2");
        },
        20000ms));
    talk(solo.port(), lines);
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(std::filesystem::exists(solo.log_path()));
    EXPECT_TRUE(std::filesystem::exists(solo.log_path() + ".1"));
    EXPECT_FALSE(std::filesystem::exists(solo.log_path() + ".3"));
    // 0.01 MiB: no file passes it.
    EXPECT_LE(std::filesystem::file_size(solo.log_path() + ".1"), 10485u);
    EXPECT_LE(std::filesystem::file_size(solo.log_path() + ".2"), 10485u);
}

TEST(HostileLogs, AFullDiskIsReportedOnceAndLoggingResumesWhenThereIsRoom) {
    const std::string disk_dir = temp_dir("fulldisk") + "/disk";
    SmallDisk disk(disk_dir, "size=512k");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    SoloServer solo("fulldisk-server", {}, disk_dir);
    // Fill the disk.
    {
        std::ofstream filler(disk_dir + "/filler", std::ios::binary);
        const std::string block(4096, 'f');
        for (int i = 0; i < 256 && filler; ++i)
            filler.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    for (int round = 0; round < 20; ++round) {
        ASSERT_EQ(talk(solo.port(), "IAMAT full" + std::to_string(round) + " +1.0+1.0 5\n")
                      .rfind("AT Solo", 0),
                  0u);
    }
    ASSERT_TRUE(wait_until(
        [&] { return slurp(solo.out_path()).find("cannot write") != std::string::npos; }, 10000ms));
    std::filesystem::remove(disk_dir + "/filler");
    ASSERT_TRUE(wait_until(
        [&] {
            talk(solo.port(), "IAMAT roomy +1.0+1.0 5\n");
            return slurp(solo.out_path()).find("writing again") != std::string::npos;
        },
        10000ms));
    EXPECT_EQ(count(slurp(solo.out_path()), "cannot write"), 1u);
    EXPECT_GE(solo.metric("herd_log_lines_lost_total"), 1);
    solo.process().signal(SIGTERM);
    ASSERT_TRUE(solo.process().wait_exit(10000ms));
    // A write cut short by the full disk was cut back off the file: what came after it reads,
    // after a mark of what was lost.
    const std::string text = herd_log(solo.log_path());
    EXPECT_NE(text.find("< IAMAT roomy +1.0+1.0 5\n"), std::string::npos) << text;
    EXPECT_NE(text.find("log lines lost here"), std::string::npos) << text;
    EXPECT_EQ(text.find("unreadable"), std::string::npos) << text;
}

TEST(HostileLogs, ARotationThatCannotCreateItsFileNeitherStopsNorCrashesTheServer) {
    const std::string disk_dir = temp_dir("norotate") + "/disk";
    // Room for the folder and two files only: the third file (a new log after the second
    // rotation) cannot be created.
    SmallDisk disk(disk_dir, "size=4m,nr_inodes=3");
    if (!disk.mounted()) GTEST_SKIP() << "needs root and tmpfs mounts to make a full disk";
    SoloServer solo("norotate-server", {"--log-max-mb", "0.01"}, disk_dir);
    std::string lines;
    for (int i = 0; i < 200; ++i)
        lines += "IAMAT rot" + std::to_string(i) + " +1.0+1.0 5\n";
    ASSERT_TRUE(wait_until(
        [&] {
            EXPECT_EQ(count(talk(solo.port(), lines), "AT Solo"), 200u);
            return slurp(solo.out_path()).find("herd: log") != std::string::npos;
        },
        20000ms));
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(count(talk(solo.port(), lines), "AT Solo"), 200u);
    EXPECT_EQ(count(slurp(solo.out_path()), "herd: log"), 1u) << slurp(solo.out_path());
    EXPECT_GE(solo.metric("herd_log_write_failures_total"), 1);
    solo.process().signal(SIGTERM);
    ASSERT_TRUE(solo.process().wait_exit(10000ms));
    EXPECT_EQ(solo.process().exit_status(), 0);
}

}  // namespace
}  // namespace herd::test
