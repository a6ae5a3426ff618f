// `herd proxy`, the real binary: bytes stay in order under random latency, latency is applied,
// cut closes both ends and refuses new connections until restore, the control port answers
// mistakes with `?`, and a herd link through proxies is cut and restored. 127.0.0.1 only.
#include <gtest/gtest.h>

#include <fstream>

#include <atomic>
#include <map>
#include <random>

#include "harness.hpp"
#include "netmode/clock.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

// An echo server on its own thread: every byte back on the connection it came from.
class Echo {
  public:
    Echo() {
        listener_ = listen_loopback(&port_);
        if (listener_ < 0) throw std::runtime_error("echo: cannot listen");
        thread_ = std::thread([this] { run(); });
    }
    ~Echo() {
        stop_ = true;
        thread_.join();
        for (int fd : conns_)
            ::close(fd);
        ::close(listener_);
    }
    int port() const { return port_; }

  private:
    void run() {
        while (!stop_) {
            std::vector<pollfd> fds{{listener_, POLLIN, 0}};
            for (int fd : conns_)
                fds.push_back({fd, POLLIN, 0});
            ::poll(fds.data(), fds.size(), 20);
            if (fds[0].revents & POLLIN) conns_.push_back(::accept(listener_, nullptr, nullptr));
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
                char buffer[65536];
                const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
                if (n <= 0) {
                    ::shutdown(fds[i].fd, SHUT_WR);
                    continue;
                }
                for (ssize_t done = 0; done < n;) {
                    const ssize_t w = ::send(fds[i].fd, buffer + done,
                                             static_cast<std::size_t>(n - done), MSG_NOSIGNAL);
                    if (w <= 0) break;
                    done += w;
                }
            }
        }
    }
    int listener_ = -1;
    int port_ = 0;
    std::vector<int> conns_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// `herd proxy` with one link to `upstream` and a control port, on random ports.
struct ProxyProcess {
    int port = 0;
    int control = 0;
    Process process;
    ProxyProcess(const std::string& dir, int upstream, const std::vector<std::string>& extra = {}) {
        for (int attempt = 0; attempt < 5 && port == 0; ++attempt) {
            const int p = random_base_port();
            std::vector<std::string> args = {HERD_BINARY,  "proxy",
                                             "--listen",   "127.0.0.1:" + std::to_string(p),
                                             "--upstream", "127.0.0.1:" + std::to_string(upstream),
                                             "--control",  "127.0.0.1:" + std::to_string(p + 1)};
            args.insert(args.end(), extra.begin(), extra.end());
            process.start(args, dir + "/proxy.out");
            if (wait_until([&] { return command_at(p + 1, "list").ends_with("ok 1\n"); }, 3000ms)) {
                port = p;
                control = p + 1;
            } else {
                process.stop();
            }
        }
    }
    static std::string command_at(int port, const std::string& line) {
        const int fd = connect_to(port, 50ms);
        if (fd < 0) return {};
        const std::string bytes = line + "\n";
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        std::string out = read_all(fd, 2000ms);
        ::close(fd);
        return out;
    }
    std::string command(const std::string& line) const { return command_at(control, line); }
};

// Sends `data` on `fd` while reading `expected` bytes back; what came back.
std::string round_trip(int fd, const std::string& data, std::chrono::milliseconds limit) {
    std::string got;
    std::thread reader([&] {
        const auto end = Clock::now() + limit;
        while (got.size() < data.size() && Clock::now() < end) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char buffer[65536];
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            got.append(buffer, static_cast<std::size_t>(n));
        }
    });
    for (std::size_t i = 0; i < data.size(); i += 1000)
        ::send(fd, data.data() + i, std::min<std::size_t>(1000, data.size() - i), MSG_NOSIGNAL);
    reader.join();
    return got;
}

TEST(Proxy, BytesStayInOrderEachWayUnderRandomLatency) {
    Echo echo;
    ProxyProcess proxy(temp_dir("proxy-order"), echo.port(), {"--latency", "uniform(0ms,5ms)"});
    ASSERT_NE(proxy.port, 0);
    std::string data(2'000'000, '\0');
    std::mt19937 random(7);
    for (char& ch : data)
        ch = static_cast<char>(random());
    const int fd = connect_to(proxy.port);
    ASSERT_GE(fd, 0);
    const std::string back = round_trip(fd, data, 60000ms);
    ::close(fd);
    EXPECT_EQ(back.size(), data.size());
    EXPECT_TRUE(back == data);
    EXPECT_NE(proxy.command("list").find("bytes up 2000000 down 2000000"), std::string::npos);
}

TEST(Proxy, LatencyIsAppliedInTheDirectionAsked) {
    Echo echo;
    ProxyProcess proxy(temp_dir("proxy-latency"), echo.port());
    ASSERT_NE(proxy.port, 0);
    EXPECT_EQ(proxy.command("latency link up 300ms"), "ok\n");
    const int fd = connect_to(proxy.port);
    const auto start = Clock::now();
    EXPECT_EQ(round_trip(fd, "ping", 10000ms), "ping");
    // A lower bound only: the bytes waited at least the latency asked for.
    EXPECT_GE(Clock::now() - start, 300ms);
    ::close(fd);
}

TEST(Proxy, ACutClosesBothEndsAndRefusesNewConnectionsUntilRestore) {
    Echo echo;
    ProxyProcess proxy(temp_dir("proxy-cut"), echo.port());
    ASSERT_NE(proxy.port, 0);
    const int fd = connect_to(proxy.port);
    ASSERT_EQ(round_trip(fd, "before", 5000ms), "before");
    EXPECT_EQ(proxy.command("cut link"), "ok\n");
    EXPECT_EQ(read_all(fd, 5000ms), "");  // closed by the proxy
    ::close(fd);
    const int refused = connect_to(proxy.port);
    EXPECT_EQ(round_trip(refused, "during", 1000ms), "");
    ::close(refused);
    EXPECT_NE(proxy.command("list").find(" cut "), std::string::npos);
    EXPECT_EQ(proxy.command("restore link"), "ok\n");
    const int again = connect_to(proxy.port);
    EXPECT_EQ(round_trip(again, "after", 5000ms), "after");
    ::close(again);
}

TEST(Proxy, ASilencedDirectionHoldsItsBytesWithoutClosingAndRestoreReleasesThemInOrder) {
    Echo echo;
    ProxyProcess proxy(temp_dir("proxy-silence"), echo.port());
    ASSERT_NE(proxy.port, 0);
    const int fd = connect_to(proxy.port);
    ASSERT_EQ(round_trip(fd, "before", 5000ms), "before");
    // Down only: the echo gets the bytes, its answer is held; the connection stays open.
    EXPECT_EQ(proxy.command("silence link down"), "ok\n");
    EXPECT_NE(proxy.command("list").find(" silent down "), std::string::npos);
    EXPECT_EQ(round_trip(fd, "held-1", 1000ms), "");
    EXPECT_EQ(round_trip(fd, "held-2", 500ms), "");
    // Read from the echo (counted) but not delivered: the proxy holds them.
    EXPECT_TRUE(wait_until(
        [&] { return proxy.command("list").find("bytes up 18 down 18") != std::string::npos; },
        5000ms))
        << proxy.command("list");
    EXPECT_EQ(proxy.command("restore link"), "ok\n");
    std::string got;  // what was held, in order, once restored
    wait_until(
        [&] {
            char buffer[256];
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) == 1) {
                const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
                if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
            }
            return got.size() >= 12;
        },
        5000ms);
    EXPECT_EQ(got, "held-1held-2");
    EXPECT_EQ(round_trip(fd, "after", 5000ms), "after");
    ::close(fd);
    EXPECT_EQ(
        proxy.command("silence link sideways"),
        "? expected `add NAME LISTEN UPSTREAM`, `latency NAME up|down|both DIST`, `cut NAME`, "
        "`silence NAME up|down|both`, `restore NAME` or `list`\n");
}

TEST(Proxy, TheControlPortAnswersMistakesWithAReason) {
    Echo echo;
    ProxyProcess proxy(temp_dir("proxy-control"), echo.port());
    ASSERT_NE(proxy.port, 0);
    EXPECT_TRUE(proxy.command("frobnicate").starts_with("? expected `add NAME"));
    EXPECT_TRUE(proxy.command("latency link sideways 5ms").starts_with("? expected up, down"));
    EXPECT_TRUE(proxy.command("latency link up soon").starts_with("? expected a duration"));
    EXPECT_EQ(proxy.command("cut nolink"), "? no link nolink\n");
    EXPECT_TRUE(
        proxy.command("add link 127.0.0.1:1 127.0.0.1:2").starts_with("? link link exists"));
    // A second link in the same process.
    const std::string added =
        proxy.command("add second 127.0.0.1:0 127.0.0.1:" + std::to_string(echo.port()));
    EXPECT_TRUE(added.starts_with("ok second listening on 127.0.0.1:")) << added;
    EXPECT_EQ(proxy.command("latency second both uniform(1ms,2ms)"), "ok\n");
    EXPECT_NE(proxy.command("list").find("ok 2\n"), std::string::npos);
}

TEST(Proxy, AResetIsPassedOnAsAResetNotAsAnEndOfStream) {
    // An upstream that records how its connection ended.
    int upstream_port = 0;
    const int listener = listen_loopback(&upstream_port);
    ASSERT_GE(listener, 0);
    ProxyProcess proxy(temp_dir("proxy-reset"), upstream_port);
    ASSERT_NE(proxy.port, 0);
    std::string ending;
    std::atomic<std::size_t> received{0};
    std::thread upstream([&] {
        const int fd = ::accept(listener, nullptr, nullptr);
        char buffer[256];
        while (true) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                received += static_cast<std::size_t>(n);
                continue;
            }
            ending = n == 0 ? "end of stream" : "reset";
            break;
        }
        ::close(fd);
    });
    const int fd = connect_to(proxy.port);
    ::send(fd, "partial request", 15, MSG_NOSIGNAL);
    // The reset comes once the proxy has passed the bytes on (the upstream has them).
    ASSERT_TRUE(wait_until([&] { return received.load() == 15; }, 10000ms));
    const linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd);  // a reset
    upstream.join();
    ::close(listener);
    EXPECT_EQ(ending, "reset");
}

TEST(Proxy, AnOverlongControlLineIsRefusedWithAReason) {
    Echo echo;
    ProxyProcess proxy(temp_dir("proxy-longline"), echo.port());
    ASSERT_NE(proxy.port, 0);
    EXPECT_EQ(proxy.command(std::string(5000, 'x')), "? a control line is at most 4096 bytes\n");
    EXPECT_EQ(proxy.command("list").substr(0, 5), "link ");  // and the port goes on
}

TEST(Proxy, AnUpstreamThatNeverReadsHoldsOnlyABoundedQueue) {
    // An upstream that accepts and reads nothing (its backlog takes the proxy's connection).
    int upstream_port = 0;
    const int listener = listen_loopback(&upstream_port);
    ASSERT_GE(listener, 0);
    ProxyProcess proxy(temp_dir("proxy-stuck"), upstream_port);
    ASSERT_NE(proxy.port, 0);
    const int fd = connect_to(proxy.port);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    // Offer 64 MB; the proxy takes what fits in its queue (Proxy::queued_bytes_max, 1 MiB per
    // direction, and one write of at most as much) and the kernels' buffers, then stops reading.
    const std::string block(65536, 'q');
    std::size_t offered = 0;
    auto quiet_since = Clock::now();
    while (offered < (64u << 20) && Clock::now() - quiet_since < 2000ms) {
        const ssize_t n = ::send(fd, block.data(), block.size(), MSG_NOSIGNAL);
        if (n > 0) {
            offered += static_cast<std::size_t>(n);
            quiet_since = Clock::now();
        } else {
            std::this_thread::sleep_for(10ms);
        }
    }
    const std::string list = proxy.command("list");
    const std::size_t at = list.find("bytes up ");
    ASSERT_NE(at, std::string::npos) << list;
    const long long taken = std::stoll(list.substr(at + 9));
    EXPECT_LT(offered, 64u << 20);  // the client was held back
    EXPECT_LT(taken, 32ll << 20) << list;
    ::close(fd);
    ::close(listener);
}

TEST(Proxy, AControlPortWithATokenTakesNothingBeforeAuthAndStrangersCannotKeepTheOperatorOut) {
    const std::string dir = temp_dir("proxy-token");
    const std::string token = "proxy-control-token-1";
    std::ofstream(dir + "/token") << token << "\n";
    Process proxy;
    int control = 0;
    for (int attempt = 0; attempt < 5 && control == 0; ++attempt) {
        const int p = random_base_port();
        proxy.start({HERD_BINARY, "proxy", "--control", "127.0.0.1:" + std::to_string(p),
                     "--control-token-file", dir + "/token"},
                    dir + "/proxy.out");
        if (wait_until(
                [&] {
                    return ProxyProcess::command_at(p, "auth " + token + "\nlist") == "ok\nok 0\n";
                },
                3000ms))
            control = p;
        else
            proxy.stop();
    }
    ASSERT_NE(control, 0);
    const std::string refusal = "? this control port needs `auth TOKEN` first\n";
    EXPECT_EQ(ProxyProcess::command_at(control, "list"), refusal);
    EXPECT_EQ(ProxyProcess::command_at(control, "auth proxy-control-token-2\ncut x"), refusal);
    // Sixteen strangers who send nothing hold every seat: the one waiting longest makes room,
    // so the operator gets in every time.
    std::vector<int> idle;
    for (int i = 0; i < 16; ++i)
        idle.push_back(connect_to(control, 1000ms));
    for (int round = 0; round < 5; ++round) {
        EXPECT_EQ(ProxyProcess::command_at(control, "auth " + token + "\nlist"), "ok\nok 0\n");
        idle.push_back(connect_to(control, 1000ms));
    }
    for (int fd : idle)
        if (fd >= 0) ::close(fd);
    idle.clear();
    // Sixteen that did authenticate hold their seats: a seventeenth is closed at once.
    const std::string auth = "auth " + token + "\n";
    for (int i = 0; i < 16; ++i) {
        const int fd = connect_to(control, 1000ms);
        if (fd >= 0) ::send(fd, auth.data(), auth.size(), MSG_NOSIGNAL);
        idle.push_back(fd);
    }
    for (int fd : idle) {
        char ok[3];
        if (fd >= 0) ::recv(fd, ok, sizeof ok, 0);
    }
    EXPECT_TRUE(wait_until(
        [&] { return ProxyProcess::command_at(control, "auth " + token + "\nlist").empty(); },
        5000ms));
    for (int fd : idle)
        if (fd >= 0) ::close(fd);
    EXPECT_TRUE(wait_until(
        [&] {
            return ProxyProcess::command_at(control, "auth " + token + "\nlist") == "ok\nok 0\n";
        },
        5000ms));
    // Off loopback, a control port without a token is refused at start.
    std::string out;
    Process open_control(
        {HERD_BINARY, "proxy", "--control", "0.0.0.0:" + std::to_string(control + 7)},
        dir + "/open.out");
    ASSERT_TRUE(open_control.wait_exit(10000ms));
    EXPECT_EQ(open_control.exit_status(), 2);
    EXPECT_NE(slurp(dir + "/open.out").find("needs a token"), std::string::npos);
}

// The port a control `add` reply names ("ok NAME listening on 127.0.0.1:PORT").
int added_port(const std::string& reply) {
    const std::size_t colon = reply.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(reply.c_str() + colon + 1);
}

// A-B-C in a line, A-B through the proxy both ways (each end's herd file names the other at a
// proxy port, so whoever dials crosses it): a cut of that link stops A's updates reaching B and
// C and nothing else; restore, and anti-entropy brings them.
TEST(Proxy, ACutOfAHerdLinkBlocksThatLinkOnlyAndRestoreHealsIt) {
    const std::string dir = temp_dir("proxy-herd");
    Process proxy;
    int control = 0;
    for (int attempt = 0; attempt < 5 && control == 0; ++attempt) {
        const int p = random_base_port();
        proxy.start({HERD_BINARY, "proxy", "--control", "127.0.0.1:" + std::to_string(p)},
                    dir + "/proxy.out");
        if (wait_until([&] { return ProxyProcess::command_at(p, "list") == "ok 0\n"; }, 3000ms))
            control = p;
        else
            proxy.stop();
    }
    ASSERT_NE(control, 0);
    const int base = random_base_port();
    const int a = base, b = base + 1, c = base + 2;
    const int ab = added_port(
        ProxyProcess::command_at(control, "add ab 127.0.0.1:0 127.0.0.1:" + std::to_string(b)));
    const int ba = added_port(
        ProxyProcess::command_at(control, "add ba 127.0.0.1:0 127.0.0.1:" + std::to_string(a)));
    ASSERT_GT(ab, 0);
    ASSERT_GT(ba, 0);
    auto herd_file = [&](const char* name, int port_a, int port_b) {
        const std::string path = dir + "/" + name + ".herd";
        std::ofstream(path) << "server A 127.0.0.1:" << port_a << "\nserver B 127.0.0.1:" << port_b
                            << "\nserver C 127.0.0.1:" << c << "\nlink A B\nlink B C\n";
        return path;
    };
    std::map<std::string, std::string> files = {
        {"A", herd_file("A", a, ab)}, {"B", herd_file("B", ba, b)}, {"C", herd_file("C", a, b)}};
    std::map<std::string, int> admin = {{"A", base + 10}, {"B", base + 11}, {"C", base + 12}};
    std::vector<std::unique_ptr<Process>> servers;
    for (const auto& [name, file] : files) {
        servers.push_back(std::make_unique<Process>(
            std::vector<std::string>{HERD_BINARY, "serve", name, "--config", file, "--log-dir",
                                     dir + "/logs", "--admin",
                                     "127.0.0.1:" + std::to_string(admin[name])},
            dir + "/" + name + ".out"));
    }
    auto peers = [&](const std::string& name) {
        return metric(http_get(admin[name], "/metrics"), "herd_connections{kind=\"peer\"}");
    };
    ASSERT_TRUE(wait_until([&] { return peers("A") == 1 && peers("B") == 2; }, 10000ms));
    EXPECT_EQ(ProxyProcess::command_at(control, "cut ab"), "ok\n");
    EXPECT_EQ(ProxyProcess::command_at(control, "cut ba"), "ok\n");
    ASSERT_TRUE(wait_until([&] { return peers("A") == 0 && peers("B") == 1; }, 10000ms));
    const std::string now = format_timestamp(net::wall_now());
    talk(a, "IAMAT from-a +1.0+1.0 " + now + "\n");
    talk(c, "IAMAT from-c +1.0+1.0 " + now + "\n");
    auto known = [](int port, const std::string& client) {
        return talk(port, "WHATSAT " + client + " 1 0\n").starts_with("AT ");
    };
    EXPECT_TRUE(wait_until([&] { return known(b, "from-c"); }, 10000ms));  // B-C still up
    std::this_thread::sleep_for(1000ms);
    EXPECT_FALSE(known(b, "from-a"));  // the cut link carries nothing
    EXPECT_FALSE(known(a, "from-c"));
    EXPECT_EQ(ProxyProcess::command_at(control, "restore ab"), "ok\n");
    EXPECT_EQ(ProxyProcess::command_at(control, "restore ba"), "ok\n");
    EXPECT_TRUE(wait_until([&] { return known(c, "from-a") && known(a, "from-c"); }, 20000ms));
}

}  // namespace
}  // namespace herd::test
