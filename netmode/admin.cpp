#include "netmode/admin.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <memory>

#include "core/assert.hpp"

namespace herd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct AdminServer::Session {
    tcp::socket socket;
    asio::steady_timer deadline;
    asio::streambuf head{AdminServer::head_bytes_max};
    std::string out;
    Session(tcp::socket s, asio::io_context& io) : socket(std::move(s)), deadline(io) {}
};

bool split_host_port(const std::string& text, std::string* host, std::uint16_t* port) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
    std::string h = text.substr(0, colon);
    if (h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    unsigned value = 0;
    const char* first = text.data() + colon + 1;
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last || value > 65535) return false;
    *host = h;
    *port = static_cast<std::uint16_t>(value);
    return true;
}

AdminServer::AdminServer(asio::io_context& io, Handler handler)
    : io_(io), handler_(std::move(handler)), acceptor_(io), pause_(io) {}

std::optional<Error> AdminServer::start(const std::string& address) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_host_port(address, &host, &port)) {
        return Error{"--admin takes ADDR:PORT, not '" + address + "'"};
    }
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(host, ec);
    if (ec) {
        return Error{"--admin: '" + host + "' is not an IP address"};
    }
    const tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error{"cannot listen on admin address " + address + ": " + ec.message()};
    }
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    return std::nullopt;
}

void AdminServer::stop() {
    stopped_ = true;
    pause_.cancel();
    boost::system::error_code ec;
    acceptor_.close(ec);
}

void AdminServer::do_accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopped_) return;
        if (ec) {
            // Out of file descriptors, say: wait a little rather than spin on the error.
            pause_.expires_after(std::chrono::milliseconds(100));
            pause_.async_wait([this](const boost::system::error_code& e) {
                if (!e && !stopped_) do_accept();
            });
            return;
        }
        if (open_ >= connections_max) {
            boost::system::error_code ignored;
            socket.close(ignored);
        } else {
            serve(std::make_shared<Session>(std::move(socket), io_));
        }
        do_accept();
    });
}

void AdminServer::serve(const std::shared_ptr<Session>& s) {
    open_ += 1;
    HERD_ASSERT(open_ <= connections_max);
    s->deadline.expires_after(std::chrono::seconds(5));
    s->deadline.async_wait([s](const boost::system::error_code& ec) {
        if (ec) return;
        boost::system::error_code ignored;
        s->socket.close(ignored);
    });
    asio::async_read_until(s->socket, s->head, "\r\n\r\n",
                           [this, s](const boost::system::error_code& ec, std::size_t) {
                               if (ec) {
                                   s->deadline.cancel();
                                   open_ -= 1;
                                   return;
                               }
                               answer(s);
                           });
}

void AdminServer::answer(const std::shared_ptr<Session>& s) {
    std::string head(asio::buffers_begin(s->head.data()), asio::buffers_end(s->head.data()));
    const std::string request_line = head.substr(0, head.find("\r\n"));
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    HttpAnswer a;
    if (sp1 == std::string::npos || sp2 == std::string::npos) {
        a = HttpAnswer{400, "text/plain; charset=utf-8", "bad request\n"};
    } else if (request_line.substr(0, sp1) != "GET") {
        a = HttpAnswer{405, "text/plain; charset=utf-8", "only GET\n"};
    } else {
        std::string path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        path = path.substr(0, path.find('?'));
        a = handler_(path);
    }
    const char* reason = a.status == 200   ? "OK"
                         : a.status == 404 ? "Not Found"
                         : a.status == 503 ? "Service Unavailable"
                         : a.status == 405 ? "Method Not Allowed"
                                           : "Bad Request";
    s->out = "HTTP/1.1 " + std::to_string(a.status) + " " + reason +
             "\r\nContent-Type: " + a.content_type +
             "\r\nContent-Length: " + std::to_string(a.body.size()) +
             "\r\nConnection: close\r\n\r\n" + a.body;
    asio::async_write(s->socket, asio::buffer(s->out),
                      [this, s](const boost::system::error_code&, std::size_t) {
                          s->deadline.cancel();
                          boost::system::error_code ignored;
                          s->socket.shutdown(tcp::socket::shutdown_both, ignored);
                          s->socket.close(ignored);
                          open_ -= 1;
                      });
}

}  // namespace herd::net
