#include "loadgen/bare_relay.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "core/text.hpp"
#include "netmode/files.hpp"
#include "netmode/peer_tls.hpp"
#include "netmode/process.hpp"

namespace herd::loadgen {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// One end's state: its stamps, the link (plain or TLS) and what waits to go on it.
class RelayEnd {
  public:
    explicit RelayEnd(const RelayOptions& o) : o_(o), acceptor_(io_), link_(io_), signals_(io_) {}

    int run() {
        if (!o_.secret_file.empty()) {
            const auto text = net::read_text_file(o_.secret_file);
            if (const Error* e = error_of(text)) return fail(e->message);
            auto tls = net::PeerTls::make(net::trimmed_file(std::get<std::string>(text)), {});
            if (const Error* e = error_of(tls)) return fail(e->message);
            tls_ = std::move(std::get<std::unique_ptr<net::PeerTls>>(tls));
        }
        boost::system::error_code ec;
        acceptor_.open(tcp::v4(), ec);
        if (!ec) acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0}, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return fail("cannot listen: " + ec.message());
        if (!o_.exit && !dial()) return 1;
        if (auto e = net::write_text_file(o_.port_file,
                                          std::to_string(acceptor_.local_endpoint().port()) + "\n"))
            return fail(e->message);
        signals_.add(SIGTERM);
        signals_.add(SIGINT);
        signals_.async_wait([this](const boost::system::error_code&, int) { io_.stop(); });
        accept();
        io_.run();
        std::ofstream out(o_.stamps_file, std::ios::trunc);
        for (const auto& [line, ns] : stamps_)
            out << line << ' ' << ns << '\n';
        return out ? 0 : fail("cannot write " + o_.stamps_file);
    }

  private:
    int fail(const std::string& what) {
        std::cerr << "herd bench relay: " << what << "\n";
        return 1;
    }

    bool dial() {
        boost::system::error_code ec;
        link_.connect(
            {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(o_.to_port)}, ec);
        if (!ec) link_.set_option(tcp::no_delay(true), ec);
        if (ec) return fail("cannot reach the exit: " + ec.message()) == 0;
        if (tls_) {
            stream_ = tls_->stream(link_, "127.0.0.1");
            stream_->handshake(asio::ssl::stream_base::client, ec);
            if (ec) return fail("TLS handshake: " + ec.message()) == 0;
        }
        return true;
    }

    void accept() {
        acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
            if (ec) return;
            auto socket = std::make_shared<tcp::socket>(std::move(s));
            boost::system::error_code ignored;
            socket->set_option(tcp::no_delay(true), ignored);
            if (o_.exit) {
                link_ = std::move(*socket);
                if (!tls_) return read_link();
                stream_ = tls_->stream(link_, {});
                stream_->async_handshake(asio::ssl::stream_base::server,
                                         [this](const boost::system::error_code& e) {
                                             if (!e) read_link();
                                         });
                return;
            }
            read_client(socket, std::make_shared<std::string>());
            accept();
        });
    }

    // The entry: a client's line, stamped, forwarded, acknowledged.
    void read_client(const std::shared_ptr<tcp::socket>& socket,
                     const std::shared_ptr<std::string>& line) {
        auto buffer = std::make_shared<std::array<char, 512>>();
        socket->async_read_some(
            asio::buffer(*buffer),
            [this, socket, line, buffer](const boost::system::error_code& ec, std::size_t n) {
                if (ec) return;
                line->append(buffer->data(), n);
                const std::size_t end = line->find('\n');
                if (end == std::string::npos) return read_client(socket, line);
                stamps_.emplace_back(line->substr(0, end), steady_ns());
                forward(line->substr(0, end + 1));
                boost::system::error_code ignored;
                asio::write(*socket, asio::buffer("OK\n", 3), ignored);
            });
    }

    void forward(std::string bytes) {
        waiting_ += bytes;
        if (writing_) return;
        writing_ = true;
        out_ = std::move(waiting_);
        waiting_.clear();
        auto done = [this](const boost::system::error_code& ec, std::size_t) {
            writing_ = false;
            if (!ec && !waiting_.empty()) forward({});
        };
        if (stream_)
            asio::async_write(*stream_, asio::buffer(out_), done);
        else
            asio::async_write(link_, asio::buffer(out_), done);
    }

    // The exit: every line of the link, stamped as it is read.
    void read_link() {
        auto done = [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec) return;
            const std::int64_t now = steady_ns();
            partial_.append(in_.data(), n);
            for (std::size_t end; (end = partial_.find('\n')) != std::string::npos;) {
                stamps_.emplace_back(partial_.substr(0, end), now);
                partial_.erase(0, end + 1);
            }
            read_link();
        };
        if (stream_)
            stream_->async_read_some(asio::buffer(in_), done);
        else
            link_.async_read_some(asio::buffer(in_), done);
    }

    const RelayOptions& o_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    tcp::socket link_;
    asio::signal_set signals_;
    std::unique_ptr<net::PeerTls> tls_;
    std::unique_ptr<net::TlsStream> stream_;
    std::vector<std::pair<std::string, std::int64_t>> stamps_;
    std::array<char, 16 * 1024> in_{};
    std::string partial_, out_, waiting_;
    bool writing_ = false;
};

// The port a child wrote once it listened, within 10 s; 0 if it did not.
int wait_port(const std::string& file, pid_t child) {
    for (int i = 0; i < 200; ++i) {
        const auto text = net::read_text_file(file);
        if (const auto* t = std::get_if<std::string>(&text)) {
            const auto port = parse_whole(net::trimmed_file(*t), 65535);
            if (port && *port > 0) return static_cast<int>(*port);
        }
        if (net::reap_child(child)) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
}

std::map<std::string, std::int64_t> read_stamps(const std::string& file) {
    std::map<std::string, std::int64_t> stamps;
    std::ifstream in(file);
    std::string line;
    std::int64_t ns = 0;
    while (in >> line >> ns)
        stamps[line] = ns;
    return stamps;
}

// One line on a fresh connection, as the herd's bench sends its IAMATs; waits for the answer.
void send_line(int port, const std::string& line) {
    asio::io_context io;
    tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    if (ec) return;
    asio::write(socket, asio::buffer(line), ec);
    std::array<char, 16> answer{};
    socket.read_some(asio::buffer(answer), ec);
}

}  // namespace

int run_relay(const RelayOptions& o) {
    RelayEnd end(o);
    return end.run();
}

Result<std::vector<std::int64_t>> measure_bare_hop(const std::string& dir,
                                                   const std::string& secret_file, int count,
                                                   int interval_ms) {
    const std::string exe = net::self_executable();
    auto start = [&](const std::string& role, int to_port) -> Result<pid_t> {
        std::vector<std::string> args = {exe,           "bench",
                                         "relay",       role,
                                         "--port-file", dir + "/" + role + ".port",
                                         "--stamps",    dir + "/" + role + ".stamps"};
        if (to_port > 0) args.insert(args.end(), {"--to", std::to_string(to_port)});
        if (!secret_file.empty()) args.insert(args.end(), {"--secret-file", secret_file});
        auto child = net::spawn_child(args, dir + "/" + role + ".out");
        if (const Error* e = error_of(child)) return Error{e->message, 1};
        return std::get<net::Child>(child).pid;
    };
    auto exit_pid = start("exit", 0);
    if (const Error* e = error_of(exit_pid)) return *e;
    const int exit_port = wait_port(dir + "/exit.port", std::get<pid_t>(exit_pid));
    Result<pid_t> entry_pid = exit_port > 0 ? start("entry", exit_port) : Result<pid_t>(pid_t{-1});
    const pid_t entry = std::holds_alternative<pid_t>(entry_pid) ? std::get<pid_t>(entry_pid) : -1;
    const int entry_port = entry > 0 ? wait_port(dir + "/entry.port", entry) : 0;
    for (int i = 0; entry_port > 0 && i < count; ++i) {
        send_line(entry_port, std::to_string(i) + "\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (entry > 0) net::stop_child(entry, std::chrono::seconds(5));
    net::stop_child(std::get<pid_t>(exit_pid), std::chrono::seconds(5));
    const auto sent = read_stamps(dir + "/entry.stamps");
    const auto received = read_stamps(dir + "/exit.stamps");
    std::vector<std::int64_t> delays;
    for (const auto& [line, ns] : received) {
        auto it = sent.find(line);
        if (it != sent.end()) delays.push_back(ns - it->second);
    }
    std::sort(delays.begin(), delays.end());
    if (delays.empty()) {
        std::ifstream why(dir + "/" + (entry_port > 0 || exit_port == 0 ? "exit" : "entry") +
                          ".out");
        std::string first;
        std::getline(why, first);
        return Error{"the bare relay measured nothing" + (first.empty() ? "" : ": " + first), 1};
    }
    return delays;
}

}  // namespace herd::loadgen
