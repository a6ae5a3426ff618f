// Peer links an attacker cannot use: TLS keyed by the herd secret or by certificates, against a
// relay on the path that injects records, a flood of forged handshakes, and a server with the
// wrong credentials. Real processes on 127.x, stopped by PID.
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "harness.hpp"
#include "netmode/clock.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::string now_text() {
    return format_timestamp(net::wall_now());
}

// True once a WHATSAT for `client` at `port` is answered with its record (not `?`).
bool known_at(int port, const std::string& client, std::chrono::milliseconds limit) {
    return wait_until(
        [&] {
            const std::string reply = talk(port, "WHATSAT " + client + " 1 0\n", 2000ms);
            return reply.starts_with("AT ");
        },
        limit);
}

// A TCP relay on 127.0.0.1, on its own thread: every connection to port() is joined to the
// upstream port, and `inject` is written towards upstream once, `after` the first connection
// opened (a man in the middle adding lines to a stream it passes on). Stopped and joined by the
// destructor.
class Relay {
  public:
    Relay(int upstream, std::string inject, std::chrono::milliseconds after)
        : upstream_(upstream), inject_(std::move(inject)), after_(after) {
        listener_ = listen_loopback(&port_);
        if (listener_ < 0) throw std::runtime_error("relay: cannot listen");
        thread_ = std::thread([this] { run(); });
    }
    ~Relay() {
        stop_ = true;
        thread_.join();
        for (auto& [from, to] : pairs_)
            ::close(from);
        ::close(listener_);
    }
    int port() const { return port_; }
    bool injected() const { return injected_; }

  private:
    void run() {
        std::optional<Clock::time_point> first;
        while (!stop_) {
            std::vector<pollfd> fds{{listener_, POLLIN, 0}};
            for (const auto& [from, to] : pairs_)
                fds.push_back({from, POLLIN, 0});
            ::poll(fds.data(), fds.size(), 20);
            if (fds[0].revents & POLLIN) accept_one();
            if (!first && !pairs_.empty()) first = Clock::now();
            for (std::size_t i = 1; i < fds.size(); ++i) {
                // (its partner may have been closed by now)
                if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && pairs_.count(fds[i].fd))
                    pass(fds[i].fd);
            }
            if (first && !injected_ && Clock::now() >= *first + after_) inject();
        }
    }
    void accept_one() {
        const int in = ::accept(listener_, nullptr, nullptr);
        if (in < 0) return;
        const int out = connect_to(upstream_, 1000ms);
        if (out < 0) {
            ::close(in);
            return;
        }
        pairs_[in] = out;
        pairs_[out] = in;
        toward_upstream_.push_back(out);
    }
    void pass(int from) {
        char buffer[16384];
        const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        const int to = pairs_.at(from);
        if (n <= 0 || ::send(to, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
            pairs_.erase(from);
            pairs_.erase(to);
            ::close(from);
            ::close(to);
        }
    }
    // Into every connection open towards upstream now.
    void inject() {
        injected_ = true;
        for (const int fd : toward_upstream_) {
            if (pairs_.count(fd) == 1) ::send(fd, inject_.data(), inject_.size(), MSG_NOSIGNAL);
        }
    }

    int upstream_;
    std::string inject_;
    std::chrono::milliseconds after_;
    int listener_ = -1;
    int port_ = 0;
    std::map<int, int> pairs_;  // each end to the other
    std::vector<int> toward_upstream_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> injected_{false};
    std::thread thread_;
};

// Two servers, A and B, whose every link passes a relay that injects a forged record: A's herd
// file names B at relay 1, B's names A at relay 2, so whoever dials, the link crosses a relay.
struct RelayedPair {
    std::string dir;
    int port_a = 0;
    int port_b = 0;
    std::unique_ptr<Relay> to_b;
    std::unique_ptr<Relay> to_a;
    Process a;
    Process b;

    RelayedPair(const std::string& test, const std::vector<std::string>& extra,
                const std::string& forged)
        : dir(temp_dir(test)) {
        port_a = random_base_port();
        port_b = port_a + 1;
        to_b = std::make_unique<Relay>(port_b, forged, 1500ms);
        to_a = std::make_unique<Relay>(port_a, forged, 1500ms);
        auto file = [&](const char* name, int a, int b) {
            const std::string path = dir + "/" + name + ".herd";
            std::ofstream(path) << "server A 127.0.0.1:" << a << "\nserver B 127.0.0.1:" << b
                                << "\nlink A B\n";
            return path;
        };
        const std::string file_a = file("A", port_a, to_b->port());
        const std::string file_b = file("B", to_a->port(), port_b);
        auto args = [&](const char* name, const std::string& herd_file) {
            std::vector<std::string> v = {HERD_BINARY, "serve",     name,         "--config",
                                          herd_file,   "--log-dir", dir + "/logs"};
            v.insert(v.end(), extra.begin(), extra.end());
            return v;
        };
        a.start(args("A", file_a), dir + "/A.out");
        b.start(args("B", file_b), dir + "/B.out");
        for (const int port : {port_a, port_b}) {
            if (!wait_until([&] { return listening(port); }, 3000ms))
                throw std::runtime_error("relayed pair: a server did not start");
        }
    }
    static bool listening(int port) {
        const int fd = connect_to(port, 50ms);
        if (fd < 0) return false;
        ::close(fd);
        return true;
    }
};

std::string forged_record() {
    return "AT A +0.000000001 forged +1.000000+1.000000 " + now_text() + "\n";
}

TEST(Secure, WithoutTlsARelayOnThePathInjectsRecordsTheControl) {
    // Loopback and no secret: unauthenticated by design. This shows the relay does inject.
    RelayedPair pair("inject-plain", {}, forged_record());
    ASSERT_TRUE(pair.a.running() && pair.b.running());
    // Whichever link survived (both ends dial; one connection is kept) carried the injection.
    ASSERT_TRUE(wait_until([&] { return pair.to_a->injected() || pair.to_b->injected(); }, 10000ms))
        << slurp(pair.dir + "/A.out") << slurp(pair.dir + "/B.out")
        << slurp(pair.dir + "/logs/A.log").substr(0, 3000);
    EXPECT_TRUE(wait_until(
        [&] {
            return known_at(pair.port_a, "forged", 0ms) || known_at(pair.port_b, "forged", 0ms);
        },
        5000ms));
}

TEST(Secure, UnderTlsInjectedBytesAchieveNothingAndTheLinkComesBack) {
    const std::string dir = temp_dir("inject-tls-secret");
    std::ofstream(dir + "/secret") << "the herd secret, long enough\n";
    RelayedPair pair("inject-tls", {"--secret-file", dir + "/secret"}, forged_record());
    ASSERT_TRUE(pair.a.running() && pair.b.running());
    // Whichever link survived (both ends dial; one connection is kept) carried the injection.
    ASSERT_TRUE(wait_until([&] { return pair.to_a->injected() || pair.to_b->injected(); }, 10000ms))
        << slurp(pair.dir + "/A.out") << slurp(pair.dir + "/B.out")
        << slurp(pair.dir + "/logs/A.log").substr(0, 3000);
    // The link (redialed if the injection broke it) carries a real update from A to B ...
    talk(pair.port_a, "IAMAT real +2.0+2.0 " + now_text() + "\n");
    EXPECT_TRUE(known_at(pair.port_b, "real", 15000ms));
    // ... and the forged record reached neither server.
    EXPECT_EQ(talk(pair.port_a, "WHATSAT forged 1 0\n"), "? WHATSAT forged 1 0\n");
    EXPECT_EQ(talk(pair.port_b, "WHATSAT forged 1 0\n"), "? WHATSAT forged 1 0\n");
    // What the relay saw of the stream was not the protocol in clear.
    const std::string logs = slurp(pair.dir + "/logs/A.log") + slurp(pair.dir + "/logs/B.log");
    EXPECT_NE(logs.find("(TLS)"), std::string::npos);
}

// An attacker at 127.0.0.2 keeps opening connections to Alford that pose as Hamilton (a plain
// HELLO) or open a TLS handshake it cannot finish, while Hamilton is killed and restarted: the
// real link comes back within the backoff bounds all the same.
TEST(Secure, AForgedHandshakeFloodKeepsNoLinkDown) {
    const std::string dir = temp_dir("flood-secret");
    std::ofstream(dir + "/secret") << "the herd secret, long enough\n";
    NetHerd herd("flood", {"--secret-file", dir + "/secret"});
    const int alford = herd.port("Alford");
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::thread attacker([&] {
        const std::string hello =
            "HELLO herd/1 Hamilton Alford 00000000000000aa 00000000000000bb\n";
        const std::string client_hello("\x16\x03\x01\x00\x05hello", 10);
        while (!stop) {
            const int fd = connect_to(alford, 200ms, "127.0.0.2");
            if (fd >= 0) {
                const std::string& bytes = sent % 2 == 0 ? hello : client_hello;
                ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
                ::close(fd);
                sent += 1;
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    // The flood is under way (a score of forged handshakes sent) before Hamilton goes.
    EXPECT_TRUE(wait_until([&] { return sent.load() >= 20; }, 10000ms));
    herd.process("Hamilton").kill9();
    ASSERT_TRUE(herd.start("Hamilton"));
    // An update at Hamilton reaches Alford over their own link (Holiday's way round is longer
    // but also fine: what matters is that Alford hears Hamilton again and the link is up).
    talk(herd.port("Hamilton"), "IAMAT after-flood +3.0+3.0 " + now_text() + "\n");
    const bool arrived = known_at(alford, "after-flood", 10000ms);
    const bool linked = wait_until(
        [&] { return metric(herd.metrics("Alford"), "herd_connections{kind=\"peer\"}") == 2; },
        10000ms);
    stop = true;
    attacker.join();
    EXPECT_TRUE(arrived);
    EXPECT_TRUE(linked);
    EXPECT_GT(sent.load(), 20);
    const std::string page = herd.metrics("Alford");
    EXPECT_GT(metric(page, "herd_handshakes_refused_total"), 0);
    EXPECT_GT(metric(page, "herd_tls_handshakes_failed_total"), 0);
}

// Stalled TLS handshakes from 40 addresses (8 each, as the per-address limit allows): 320, which
// fill Alford's 256 handshake slots for strangers. The neighbours' slots are their own: Hamilton,
// killed and started again where Alford cannot dial it (another port), gets its link back by
// dialing Alford through the attack.
TEST(Secure, StalledHandshakesFromFortyAddressesKeepNoNeighbourOut) {
    const std::string dir = temp_dir("stall-secret");
    std::ofstream(dir + "/secret") << "the herd secret, long enough\n";
    NetHerd herd("stall", {"--secret-file", dir + "/secret"});
    std::atomic<bool> stop{false};
    const std::string client_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    std::thread attacker([&] {
        std::vector<std::pair<int, std::size_t>> held;  // fd, its slot
        std::vector<bool> open(40 * 8, false);
        const auto end = Clock::now() + 40000ms;
        while (!stop && Clock::now() < end) {
            for (std::size_t slot = 0; slot < open.size() && !stop; ++slot) {
                if (open[slot]) continue;
                const std::string from = "127.0.1." + std::to_string(1 + slot % 40);
                const int fd = connect_to(herd.port("Alford"), 50ms, from.c_str());
                if (fd < 0) continue;
                ::send(fd, client_hello.data(), client_hello.size(), MSG_NOSIGNAL);
                held.emplace_back(fd, slot);
                open[slot] = true;
            }
            // Those Alford closed (refused, or at the handshake deadline) are opened again.
            std::erase_if(held, [&](const std::pair<int, std::size_t>& h) {
                pollfd p{h.first, POLLIN, 0};
                char byte;
                if (::poll(&p, 1, 0) <= 0 || ::recv(h.first, &byte, 1, MSG_DONTWAIT) > 0)
                    return false;
                ::close(h.first);
                open[h.second] = false;
                return true;
            });
            std::this_thread::sleep_for(20ms);
        }
        for (const auto& h : held)
            ::close(h.first);
    });
    const auto refused = [&] {
        return metric(herd.metrics("Alford"),
                      "herd_handshake_limits_total{reason=\"too_many_tls_handshakes\"}");
    };
    ASSERT_TRUE(wait_until([&] { return refused() > 0; }, 10000ms));
    herd.process("Hamilton").kill9();
    // Hamilton comes back on a port Alford does not know: only its own dial can link them.
    std::string text = slurp(herd.herd_file());
    const std::string old_address = "127.0.0.1:" + std::to_string(herd.port("Hamilton"));
    const int new_port = herd.port("Hamilton") + 20;
    text.replace(text.find(old_address), old_address.size(),
                 "127.0.0.1:" + std::to_string(new_port));
    std::ofstream(dir + "/moved.herd") << text;
    Process hamilton({HERD_BINARY, "serve", "Hamilton", "--config", dir + "/moved.herd",
                      "--secret-file", dir + "/secret", "--log-dir", dir + "/moved-logs"},
                     dir + "/hamilton.out");
    const bool linked = wait_until(
        [&] { return metric(herd.metrics("Alford"), "herd_connections{kind=\"peer\"}") == 2; },
        20000ms);
    // And the strangers' slots were still full: one more stranger is turned away.
    const long long before = refused();
    const int probe = connect_to(herd.port("Alford"), 1000ms, "127.0.2.1");
    if (probe >= 0) ::send(probe, client_hello.data(), client_hello.size(), MSG_NOSIGNAL);
    const bool still_full = wait_until([&] { return refused() > before; }, 5000ms);
    if (probe >= 0) ::close(probe);
    stop = true;
    attacker.join();
    hamilton.stop();
    EXPECT_TRUE(linked) << slurp(dir + "/hamilton.out");
    EXPECT_TRUE(still_full);
}

// Certificates made with the openssl command: a CA, and one certificate per server for
// 127.0.0.1 (the host a dialer checks).
bool make_certificates(const std::string& dir, const std::string& ca_name,
                       const std::vector<std::string>& servers) {
    std::string script = "set -e; cd '" + dir + "'; mkdir -p certs; cd certs; " +
                         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                         "-keyout " +
                         ca_name + ".key -out " + ca_name + ".pem -days 2 -subj /CN=" + ca_name +
                         " 2>/dev/null; printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext; ";
    for (const std::string& s : servers) {
        script += "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + s +
                  ".key -out " + s + ".csr -subj /CN=" + s + " 2>/dev/null; " +
                  "openssl x509 -req -in " + s + ".csr -CA " + ca_name + ".pem -CAkey " + ca_name +
                  ".key -CAcreateserial -out " + s + ".pem -days 2 -extfile san.ext 2>/dev/null; ";
    }
    return std::system(("sh -c \"" + script + "\"").c_str()) == 0;
}

TEST(Secure, CertificatesOfTheHerdsCaLinkTheHerdAndAStrangersAreRefused) {
    const std::string certs = temp_dir("certs");
    if (std::system("command -v openssl >/dev/null") != 0)
        GTEST_SKIP() << "no openssl command (scripts/setup.sh installs it)";
    ASSERT_TRUE(make_certificates(certs, "herd-ca",
                                  {"Alford", "Ball", "Hamilton", "Holiday", "Welsh", "Impostor"}));
    ASSERT_TRUE(make_certificates(certs, "other-ca", {"rogue"}));
    const std::string tail = "tls-ca " + certs + "/certs/herd-ca.pem\ntls-cert " + certs +
                             "/certs/{name}.pem\ntls-key " + certs + "/certs/{name}.key\n";
    NetHerd herd("cert-herd", {}, false, tail);
    EXPECT_NE(slurp(herd.dir() + "/Alford.out").find("certificates of the CA"), std::string::npos);
    talk(herd.port("Alford"), "IAMAT certified +1.0+1.0 " + now_text() + "\n");
    EXPECT_TRUE(known_at(herd.port("Holiday"), "certified", 10000ms));
    // Welsh comes back with a certificate of another CA: Alford and Ball refuse its links.
    auto restart_welsh_as = [&](const std::string& holder) {
        herd.process("Welsh").stop();
        for (const char* kind : {".pem", ".key"})
            std::filesystem::copy_file(certs + "/certs/" + holder + kind,
                                       certs + "/certs/Welsh" + kind,
                                       std::filesystem::copy_options::overwrite_existing);
        return herd.start("Welsh");
    };
    ASSERT_TRUE(restart_welsh_as("rogue"));
    talk(herd.port("Welsh"), "IAMAT rogue +1.0+1.0 " + now_text() + "\n");
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(herd.dir() + "/logs/Alford.log").find("tls handshake failed") !=
                   std::string::npos;
        },
        10000ms));
    EXPECT_EQ(talk(herd.port("Alford"), "WHATSAT rogue 1 0\n"), "? WHATSAT rogue 1 0\n");
    EXPECT_EQ(talk(herd.port("Ball"), "WHATSAT rogue 1 0\n"), "? WHATSAT rogue 1 0\n");
    // Then with the herd CA's certificate of another server: it may not pose as Welsh.
    ASSERT_TRUE(restart_welsh_as("Impostor"));
    talk(herd.port("Welsh"), "IAMAT impostor +1.0+1.0 " + now_text() + "\n");
    EXPECT_TRUE(wait_until(
        [&] {
            const std::string log = slurp(herd.dir() + "/logs/Alford.log");
            return log.find("identity-mismatch") != std::string::npos &&
                   log.find("its certificate names 'Impostor', not Welsh") != std::string::npos;
        },
        10000ms));
    EXPECT_EQ(talk(herd.port("Alford"), "WHATSAT impostor 1 0\n"), "? WHATSAT impostor 1 0\n");
}

TEST(Secure, APlainHelloIsRefusedWhenPeersUseTls) {
    const std::string dir = temp_dir("plain-hello-secret");
    std::ofstream(dir + "/secret") << "the herd secret, long enough\n";
    NetHerd herd("plain-hello", {"--secret-file", dir + "/secret"});
    const std::string reply = talk(
        herd.port("Alford"), "HELLO herd/1 Hamilton Alford 00000000000000aa 00000000000000bb\n");
    EXPECT_EQ(reply, "REFUSED secure-transport-required\n");
    // Clients are served in plain text on the same port.
    const std::string at = talk(herd.port("Alford"), "IAMAT plain +1.0+1.0 " + now_text() + "\n");
    EXPECT_TRUE(at.starts_with("AT Alford "));
    EXPECT_TRUE(known_at(herd.port("Ball"), "plain", 10000ms));
}

}  // namespace
}  // namespace herd::test
