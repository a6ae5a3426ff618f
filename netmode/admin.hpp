// AdminServer: the read-only admin port of `herd serve --admin ADDR:PORT` (never the client
// port). A small, bounded HTTP/1.1 responder: one GET per connection, request head at most
// 8 KiB, read within 5 s, at most 16 connections at once; the answer closes the connection.
// An HTTP framework would bring a dependency for three fixed paths; this is all they need.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace herd::net {

struct HttpAnswer {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

class AdminServer {
  public:
    // Called with the request path (query string removed) of every GET.
    using Handler = std::function<HttpAnswer(std::string_view path)>;

    static constexpr std::size_t head_bytes_max = 8192;
    static constexpr std::size_t connections_max = 16;

    AdminServer(boost::asio::io_context& io, Handler handler);
    // Listens on "ADDR:PORT"; the reason when it cannot.
    std::optional<Error> start(const std::string& address);
    void stop();
    std::uint16_t port() const { return port_; }

  private:
    struct Session;
    void do_accept();
    void serve(const std::shared_ptr<Session>& s);
    void answer(const std::shared_ptr<Session>& s);

    boost::asio::io_context& io_;
    Handler handler_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer pause_;
    std::size_t open_ = 0;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

// Splits "HOST:PORT" ("[v6]:PORT" too); false when it is not that.
bool split_host_port(const std::string& text, std::string* host, std::uint16_t* port);

}  // namespace herd::net
