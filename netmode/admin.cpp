#include "netmode/admin.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
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
    std::function<bool(std::string&)> more;
    std::list<std::shared_ptr<Session>>::iterator in_reading;
    bool reading = false;
    bool closed = false;  // counted out of open_ already
    Session(tcp::socket s, asio::io_context& io) : socket(std::move(s)), deadline(io) {}
};

std::optional<HostPort> split_host_port(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
    std::string h = text.substr(0, colon);
    if (h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    unsigned value = 0;
    const char* first = text.data() + colon + 1;
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last || value > 65535) return std::nullopt;
    return HostPort{h, static_cast<std::uint16_t>(value)};
}

AdminServer::AdminServer(asio::io_context& io, Handler handler)
    : io_(io), handler_(std::move(handler)), acceptor_(io), pause_(io) {}

std::optional<Error> AdminServer::start(const std::string& address) {
    const auto split = split_host_port(address);
    if (!split) {
        return Error{"--admin takes ADDR:PORT, not '" + address + "'"};
    }
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(split->host, ec);
    if (ec) {
        return Error{"--admin: '" + split->host + "' is not an IP address"};
    }
    const tcp::endpoint endpoint(ip, split->port);
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
        if (open_ >= connections_max) shed_oldest();
        if (open_ >= connections_max) {
            boost::system::error_code ignored;  // every one is answering: this one waits no turn
            socket.close(ignored);
        } else {
            serve(std::make_shared<Session>(std::move(socket), io_));
        }
        do_accept();
    });
}

// Closes the connection that has waited longest for its request head.
void AdminServer::shed_oldest() {
    if (reading_.empty()) return;
    const std::shared_ptr<Session> s = reading_.front();
    done_reading(*s);
    s->closed = true;
    open_ -= 1;
    shed_ += 1;
    boost::system::error_code ignored;
    s->deadline.cancel();
    s->socket.close(ignored);
}

void AdminServer::done_reading(Session& s) {
    if (!s.reading) return;
    reading_.erase(s.in_reading);
    s.reading = false;
}

void AdminServer::serve(const std::shared_ptr<Session>& s) {
    open_ += 1;
    HERD_ASSERT(open_ <= connections_max);
    // A probe has usually sent its request by the time it is accepted: read it now, so that it
    // is answered before any newer connection could make it the oldest one waiting.
    boost::system::error_code ec;
    s->socket.non_blocking(true, ec);
    const std::size_t n = s->socket.read_some(s->head.prepare(head_bytes_max), ec);
    if (!ec) s->head.commit(n);
    const std::string_view got(static_cast<const char*>(s->head.data().data()), s->head.size());
    if (!ec && got.find("\r\n\r\n") != std::string_view::npos) {
        answer(s);
        return;
    }
    s->in_reading = reading_.insert(reading_.end(), s);
    s->reading = true;
    s->deadline.expires_after(head_deadline);
    s->deadline.async_wait([s](const boost::system::error_code& ec) {
        if (ec) return;
        boost::system::error_code ignored;
        s->socket.close(ignored);
    });
    asio::async_read_until(s->socket, s->head, "\r\n\r\n",
                           [this, s](const boost::system::error_code& ec, std::size_t) {
                               done_reading(*s);
                               if (s->closed) return;  // shed: counted out already
                               if (ec) {
                                   finish(s);
                                   return;
                               }
                               answer(s);
                           });
}

void AdminServer::finish(const std::shared_ptr<Session>& s) {
    if (s->closed) return;
    s->closed = true;
    if (s->more) streaming_ -= 1;
    s->deadline.cancel();
    boost::system::error_code ignored;
    s->socket.shutdown(tcp::socket::shutdown_both, ignored);
    s->socket.close(ignored);
    HERD_ASSERT(open_ > 0);
    open_ -= 1;
}

namespace {

// The token of an `Authorization: Bearer TOKEN` header line in `head`, or empty.
std::string_view bearer_of(std::string_view head) {
    std::size_t at = 0;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
        at += 2;
        const std::string_view line = head.substr(at, head.find("\r\n", at) - at);
        constexpr std::string_view name = "authorization:";
        if (line.size() < name.size()) continue;
        std::string lower(line.substr(0, name.size()));
        for (char& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower != name) continue;
        std::string_view value = line.substr(name.size());
        while (!value.empty() && value.front() == ' ')
            value.remove_prefix(1);
        if (!value.starts_with("Bearer ")) return {};
        return value.substr(7);
    }
    return {};
}

const char* reason_of(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 503:
            return "Service Unavailable";
        default:
            return "Bad Request";
    }
}

}  // namespace

void AdminServer::answer(const std::shared_ptr<Session>& s) {
    const std::string head(asio::buffers_begin(s->head.data()), asio::buffers_end(s->head.data()));
    const std::string request_line = head.substr(0, head.find("\r\n"));
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    const std::string method = request_line.substr(0, sp1);
    HttpAnswer a;
    if (sp1 == std::string::npos || sp2 == std::string::npos) {
        a = HttpAnswer{400, "text/plain; charset=utf-8", "bad request\n", {}};
    } else if (method != "GET" && method != "HEAD") {
        a = HttpAnswer{405, "text/plain; charset=utf-8", "only GET and HEAD\n", {}};
    } else {
        std::string path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        path = path.substr(0, path.find('?'));
        a = handler_(HttpRequest{path, bearer_of(head)});
    }
    if (a.more && streaming_ >= streams_max)
        a = HttpAnswer{503, "text/plain; charset=utf-8", "busy: try again\n", {}};
    const bool head_only = method == "HEAD";
    // A streamed answer has no length: the end of the connection ends it.
    s->out = "HTTP/1.1 " + std::to_string(a.status) + " " + reason_of(a.status) +
             "\r\nContent-Type: " + a.content_type +
             (a.more ? std::string() : "\r\nContent-Length: " + std::to_string(a.body.size())) +
             "\r\nConnection: close\r\n\r\n" + (head_only ? std::string() : a.body);
    if (a.more && !head_only) {
        s->more = std::move(a.more);
        streaming_ += 1;
    }
    write_piece(s);
}

void AdminServer::write_piece(const std::shared_ptr<Session>& s) {
    s->deadline.expires_after(write_deadline);
    s->deadline.async_wait([s](const boost::system::error_code& ec) {
        if (ec) return;
        boost::system::error_code ignored;
        s->socket.close(ignored);  // takes nothing: the write fails and finishes the session
    });
    asio::async_write(s->socket, asio::buffer(s->out),
                      [this, s](const boost::system::error_code& ec, std::size_t) {
                          if (ec || stopped_ || !s->more) {
                              finish(s);
                              return;
                          }
                          s->out.clear();
                          if (!s->more(s->out)) {
                              s->more = nullptr;  // this piece is the last
                              streaming_ -= 1;
                          }
                          if (s->out.empty()) {
                              finish(s);
                              return;
                          }
                          write_piece(s);
                      });
}

}  // namespace herd::net
