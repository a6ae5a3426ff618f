// Real processes on 127.0.0.1 for the network tests: `herd` children started with fork/exec and
// always stopped by PID, a herd on a random high base port (retried when a port is taken), and
// a blocking client with timeouts. Everything is bounded in time.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/herd_file.hpp"

namespace herd::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A child process; the destructor stops it (SIGTERM, then SIGKILL) and reaps it.
class Process {
  public:
    Process() = default;
    Process(const std::vector<std::string>& args, const std::string& output_file) {
        start(args, output_file);
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    Process(Process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
    Process& operator=(Process&& o) noexcept {
        stop();
        pid_ = o.pid_;
        o.pid_ = -1;
        return *this;
    }
    ~Process() { stop(); }

    void start(const std::vector<std::string>& args, const std::string& output_file) {
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (const std::string& a : args)
                argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }

    pid_t pid() const { return pid_; }

    // True while the child runs (reaps it when it has exited).
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            pid_ = -1;
            return false;
        }
        return true;
    }
    int exit_status() const { return exit_status_; }

    void signal(int sig) {
        if (pid_ > 0) ::kill(pid_, sig);
    }

    // Waits up to `limit` for the child to exit by itself.
    bool wait_exit(std::chrono::milliseconds limit) {
        const auto end = Clock::now() + limit;
        while (Clock::now() < end) {
            if (!running()) return true;
            std::this_thread::sleep_for(10ms);
        }
        return !running();
    }

    void kill9() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        if (!wait_exit(3000ms)) kill9();
        pid_ = -1;
    }

  private:
    pid_t pid_ = -1;
    int exit_status_ = -1;
};

// Connects to 127.0.0.1:port, from the loopback address `from` (another 127.x address lets a
// test be a second client host).
inline int connect_to(int port, std::chrono::milliseconds limit = 2000ms,
                      const char* from = nullptr) {
    const auto end = Clock::now() + limit;
    while (true) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (from != nullptr) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            ::inet_pton(AF_INET, from, &local.sin_addr);
            if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
                ::close(fd);
                return -1;
            }
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
        ::close(fd);
        if (Clock::now() >= end) return -1;
        std::this_thread::sleep_for(20ms);
    }
}

// A socket listening on 127.0.0.1 at a port the kernel picks (put in *port); -1 if it cannot.
inline int listen_loopback(int* port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 16) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

// How many times `what` occurs in `text`.
inline std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
        ++n;
    return n;
}

// Reads until the server closes or `limit` passes.
inline std::string read_all(int fd, std::chrono::milliseconds limit) {
    std::string out;
    const auto end = Clock::now() + limit;
    char buffer[65536];
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
        if (left <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

// One client connection: sends `bytes`, half-closes, returns everything the server answers
// before it closes (or `limit` passes).
inline std::string talk(int port, const std::string& bytes,
                        std::chrono::milliseconds limit = 5000ms, const char* from = nullptr) {
    const int fd = connect_to(port, 2000ms, from);
    if (fd < 0) return "<connect failed>";
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    std::string out = read_all(fd, limit);
    ::close(fd);
    return out;
}

// GET `path` from the admin port (with a bearer `token`, if given); the body, or "" when there
// is no answer. `status`, if given, gets the answer's status line.
inline std::string http_get(int port, const std::string& path, const std::string& token = {},
                            std::string* status = nullptr) {
    const std::string reply =
        talk(port,
             "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                 (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n",
             5000ms);
    if (status != nullptr) *status = reply.substr(0, reply.find("\r\n"));
    const std::size_t body = reply.find("\r\n\r\n");
    return body == std::string::npos ? std::string() : reply.substr(body + 4);
}

// One sample of a metric from a /metrics page (`series` with its labels, if any); -1 if absent.
inline long long metric(const std::string& page, const std::string& series) {
    std::size_t p = 0;
    while ((p = page.find(series + " ", p)) != std::string::npos) {
        if (p == 0 || page[p - 1] == '\n') return std::stoll(page.substr(p + series.size() + 1));
        p += 1;
    }
    return -1;
}

inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return done();
}

// Every folder made by temp_dir, removed when the test program ends.
inline std::vector<std::string>& temp_dirs() {
    static std::vector<std::string> dirs;
    return dirs;
}

class TempDirCleanup : public ::testing::Environment {
  public:
    void TearDown() override {
        std::error_code ec;
        for (const std::string& d : temp_dirs())
            std::filesystem::remove_all(d, ec);
    }
};

inline std::string temp_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("herd-net-" + name + "-" + std::to_string(::getpid()) + "-" +
                      std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    temp_dirs().push_back(dir.string());
    return dir.string();
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Below Linux's default ephemeral range (32768-60999), so that no connection a test (or an
// earlier one, in TIME_WAIT) made from an ephemeral port can hold a port a server should listen
// on; room above for a herd's ports and admin ports (base + 0 .. base + 14).
inline int random_base_port() {
    std::random_device rd;
    return 20000 + static_cast<int>(rd() % 12000);
}

// A small tmpfs of the test's own (root only), unmounted at the end.
class SmallDisk {
  public:
    SmallDisk(const std::string& dir, const std::string& options) : dir_(dir) {
        std::filesystem::create_directories(dir);
        mounted_ =
            ::geteuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    }
    ~SmallDisk() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }

  private:
    std::string dir_;
    bool mounted_ = false;
};

// The Fall 2017 herd on 127.0.0.1, base port random, each server a `herd serve` process.
class NetHerd {
  public:
    // The Fall 2017 servers, in the order of fall2017_herd().
    static constexpr const char* names[5] = {"Alford", "Ball", "Hamilton", "Holiday", "Welsh"};

    // `durable`: every server keeps its records in DIR/data/NAME (--data-dir). `herd_tail`: lines
    // added to the herd file (e.g. tls- settings).
    explicit NetHerd(const std::string& test, std::vector<std::string> extra = {},
                     bool durable = false, std::string herd_tail = {})
        : dir_(temp_dir(test)),
          extra_(std::move(extra)),
          durable_(durable),
          herd_tail_(std::move(herd_tail)) {
        for (int attempt = 0; attempt < 5; ++attempt) {
            base_ = random_base_port();
            write_herd_file();
            bool ok = true;
            for (int i = 0; i < 5; ++i)
                ok = ok && start(i);
            if (ok) return;
            for (auto& p : servers_)
                p.stop();
        }
        throw std::runtime_error("could not start a herd on 127.0.0.1");
    }

    int port(int i) const { return base_ + i; }
    // Every server has an admin port, at base + 10 + i.
    int admin_port(const std::string& name) const { return base_ + 10 + index(name); }
    std::string metrics(const std::string& name) const {
        return http_get(admin_port(name), "/metrics");
    }
    int port(const std::string& name) const { return base_ + index(name); }
    const std::string& dir() const { return dir_; }
    std::string herd_file() const { return dir_ + "/herd.conf"; }
    Process& process(const std::string& name) {
        return servers_[static_cast<std::size_t>(index(name))];
    }

    // Starts server i (again) with the herd's options, or with `instead` when given; false if
    // it did not listen.
    bool start(int i, const std::vector<std::string>& instead = {}) {
        std::vector<std::string> args = {
            HERD_BINARY,    "serve",     names[i],
            "--config",     herd_file(), "--log-dir",
            dir_ + "/logs", "--admin",   "127.0.0.1:" + std::to_string(base_ + 10 + i)};
        const auto& options = instead.empty() ? extra_ : instead;
        args.insert(args.end(), options.begin(), options.end());
        if (durable_) args.insert(args.end(), {"--data-dir", dir_ + "/data/" + names[i]});
        servers_[static_cast<std::size_t>(i)].start(args, dir_ + "/" + names[i] + ".out");
        // Listening once a connection is accepted; a taken port makes the child exit.
        const auto end = Clock::now() + 3000ms;
        while (Clock::now() < end) {
            if (!servers_[static_cast<std::size_t>(i)].running()) return false;
            const int fd = connect_to(port(i), 50ms);
            if (fd >= 0) {
                ::close(fd);
                return true;
            }
        }
        return false;
    }
    bool start(const std::string& name, const std::vector<std::string>& instead = {}) {
        return start(index(name), instead);
    }

  private:
    static int index(const std::string& name) {
        for (int i = 0; i < 5; ++i) {
            if (name == names[i]) return i;
        }
        return -1;
    }
    void write_herd_file() {
        std::ofstream(herd_file(), std::ios::trunc)
            << format_herd_file(fall2017_herd("127.0.0.1", base_)) << herd_tail_;
    }

    std::string dir_;
    std::vector<std::string> extra_;
    bool durable_ = false;
    std::string herd_tail_;
    int base_ = 0;
    Process servers_[5];
};

// One `herd serve Solo` with no peers, on a random port, with an admin port at port + 1.
// What `herd log PATH` prints (a server's log as a person reads it), or why it failed.
inline std::string herd_log(const std::string& path) {
    const std::string out = path + ".printed";
    std::filesystem::remove(out);
    Process printer({HERD_BINARY, "log", path}, out);
    if (!printer.wait_exit(30000ms)) return "(herd log did not finish)";
    if (printer.exit_status() != 0) return "(herd log failed: " + slurp(out) + ")";
    return slurp(out);
}

class SoloServer {
  public:
    // `log_dir` empty: a folder of the test's own.
    // `open_files_max` > 0: the server runs under that open-file limit (ulimit -n).
    explicit SoloServer(const std::string& test, std::vector<std::string> extra = {},
                        std::string log_dir = {}, int open_files_max = 0)
        : dir_(temp_dir(test)), log_dir_(log_dir.empty() ? dir_ + "/logs" : std::move(log_dir)) {
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = random_base_port();
            HerdSpec solo;
            solo.servers.push_back(ServerSpec{*ServerName::parse("Solo"), "127.0.0.1",
                                              static_cast<std::uint16_t>(port_), 0});
            std::ofstream(dir_ + "/solo.herd", std::ios::trunc) << format_herd_file(solo);
            std::vector<std::string> args = {HERD_BINARY,
                                             "serve",
                                             "Solo",
                                             "--config",
                                             dir_ + "/solo.herd",
                                             "--log-dir",
                                             log_dir_,
                                             "--admin",
                                             "127.0.0.1:" + std::to_string(port_ + 1)};
            args.insert(args.end(), extra.begin(), extra.end());
            if (open_files_max > 0) {
                args.insert(args.begin(), {"/bin/sh", "-c",
                                           "ulimit -n " + std::to_string(open_files_max) +
                                               " && exec \"$0\" \"$@\""});
            }
            process_.start(args, out_path());
            const auto end = Clock::now() + 3000ms;
            while (Clock::now() < end && process_.running()) {
                if (http_get(admin_port(), "/healthz") == "ok\n") return;
                std::this_thread::sleep_for(20ms);
            }
            process_.stop();
        }
        throw std::runtime_error("could not start herd serve Solo on 127.0.0.1");
    }

    int port() const { return port_; }
    int admin_port() const { return port_ + 1; }
    std::string metrics() const { return http_get(admin_port(), "/metrics"); }
    long long metric(const std::string& series) const {
        return herd::test::metric(metrics(), series);
    }
    Process& process() { return process_; }
    const std::string& dir() const { return dir_; }
    std::string log_path() const { return log_dir_ + "/Solo.log"; }
    std::string out_path() const { return dir_ + "/Solo.out"; }

  private:
    std::string dir_;
    std::string log_dir_;
    int port_ = 0;
    Process process_;
};

}  // namespace herd::test
