// AdminServer: the admin port of `herd serve --admin ADDR:PORT` (never the client port). A small,
// bounded HTTP/1.1 responder: one GET (or HEAD) per connection, request head at most 8 KiB, read
// within 2 s, at most 16 connections at once; the answer closes the connection.
//
// Probes must never starve: when every connection is taken, the one that has waited longest
// for its request head is closed to make room (a probe sends its request at once, so only idle
// connections are ever shed). A long answer (/store) is streamed: produced a piece at a time
// between writes, so it holds one piece of memory and never stops the server, with a deadline
// per piece; at most streams_max stream at once.
// An HTTP framework would bring a dependency for a few fixed paths; this is all they need.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace herd::net {

struct HttpRequest {
    std::string_view path;    // without its query string
    std::string_view bearer;  // the token of an `Authorization: Bearer` header, or empty
};

struct HttpAnswer {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // A streamed answer: called again after each piece is written, it appends the next piece to
    // its argument (about 64 KiB) and returns false once nothing is left. The body goes before.
    std::function<bool(std::string&)> more;
};

class AdminServer {
  public:
    using Handler = std::function<HttpAnswer(const HttpRequest&)>;

    static constexpr std::size_t head_bytes_max = 8192;
    static constexpr std::size_t connections_max = 16;
    static constexpr std::size_t streams_max = 2;
    static constexpr std::chrono::seconds head_deadline{2};
    static constexpr std::chrono::seconds write_deadline{10};  // per piece written

    AdminServer(boost::asio::io_context& io, Handler handler);
    // Listens on "ADDR:PORT"; the reason when it cannot.
    std::optional<Error> start(const std::string& address);
    void stop();
    std::uint16_t port() const { return port_; }
    std::uint64_t shed() const { return shed_; }  // idle connections closed to make room

  private:
    struct Session;
    void do_accept();
    void serve(const std::shared_ptr<Session>& s);
    void shed_oldest();
    void done_reading(Session& s);
    void answer(const std::shared_ptr<Session>& s);
    void write_piece(const std::shared_ptr<Session>& s);
    void finish(const std::shared_ptr<Session>& s);

    boost::asio::io_context& io_;
    Handler handler_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer pause_;
    std::list<std::shared_ptr<Session>> reading_;  // waiting for their request head, oldest first
    std::size_t open_ = 0;
    std::size_t streaming_ = 0;
    std::uint64_t shed_ = 0;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

// An address as "HOST:PORT" ("[v6]:PORT" too) names it.
struct HostPort {
    std::string host;  // without the brackets of a v6 address
    std::uint16_t port = 0;
};
// The host and port of `text`, or nothing when it is not that (the caller, who knows which flag
// it was, says so).
std::optional<HostPort> split_host_port(const std::string& text);

}  // namespace herd::net
