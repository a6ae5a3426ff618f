#include "loadgen/echo_server.hpp"

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace herd::loadgen {

namespace {

// The bytes a reply to `line` is: an IAMAT's fields after an AT prefix (what herd bench load
// verifies), or for anything else an AT line and an empty JSON body (a WHATSAT's shape).
void append_reply(std::string& out, std::string_view line) {
    if (line.starts_with("IAMAT ")) {
        out += "AT ceiling +0.000000000";
        out.append(line.substr(5));
        out += '\n';
        return;
    }
    out += "AT ceiling +0.000000000 x +0+0 0\n{\"results\": []}\n\n";
}

class EchoConn : public std::enable_shared_from_this<EchoConn> {
  public:
    explicit EchoConn(tcp::socket socket) : socket_(std::move(socket)) {}
    void read() {
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(buffer_),
                                [this, self](const boost::system::error_code& ec, std::size_t n) {
                                    if (ec) return;
                                    take(n);
                                    write();
                                });
    }

  private:
    // Frames the lines of what was read and queues one reply each.
    void take(std::size_t n) {
        in_.append(buffer_.data(), n);
        std::size_t start = 0;
        while (true) {
            const void* nl = std::memchr(in_.data() + start, '\n', in_.size() - start);
            if (nl == nullptr) break;
            const std::size_t end =
                static_cast<std::size_t>(static_cast<const char*>(nl) - in_.data());
            append_reply(out_, std::string_view(in_.data() + start, end - start));
            start = end + 1;
        }
        in_.erase(0, start);
    }
    // Writes everything queued, then reads on (one read and one write in turn, as a pipelined
    // client allows).
    void write() {
        if (out_.empty()) {
            read();
            return;
        }
        writing_.swap(out_);
        out_.clear();
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(writing_),
                          [this, self](const boost::system::error_code& ec, std::size_t) {
                              writing_.clear();
                              if (!ec) read();
                          });
    }

    tcp::socket socket_;
    std::array<char, 65536> buffer_;
    std::string in_, out_, writing_;
};

}  // namespace

struct EchoServer::Impl {
    asio::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    std::uint16_t port = acceptor.local_endpoint().port();  // read before the thread starts
    asio::steady_timer retry{io};
    std::thread thread;

    void accept() {
        acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {  // out of descriptors, say: accept again a little later
                retry.expires_after(std::chrono::milliseconds(10));
                retry.async_wait([this](const boost::system::error_code& e) {
                    if (!e) accept();
                });
                return;
            }
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            std::make_shared<EchoConn>(std::move(socket))->read();
            accept();
        });
    }
};

EchoServer::EchoServer() : impl_(std::make_unique<Impl>()) {
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

EchoServer::~EchoServer() {
    impl_->io.stop();
    impl_->thread.join();
}

std::uint16_t EchoServer::port() const {
    return impl_->port;
}

}  // namespace herd::loadgen
