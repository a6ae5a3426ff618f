// Server: one herd server on Boost.Asio, driving one core Node.
//
// One io_context, one thread (like the original event loop): an acceptor for clients and peers
// on one port, a read loop and a bounded write queue per connection, outgoing dials with a
// timeout, one timer re-armed to Node::poll_timeout(), and the Places service. Every core
// action is carried out by pump(), the shared drain loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/herd_file.hpp"
#include "core/node.hpp"
#include "netmode/log.hpp"
#include "netmode/places.hpp"

namespace herd::net {

struct ServerOptions {
    HerdSpec herd;
    int self = 0;  // index into herd.servers
    std::string secret;
    PlacesConfig places;
    std::string log_dir;  // empty: no log file
    std::size_t log_bytes_max = 64u << 20;
    bool log_lines = true;   // every input and output line; off: connections and peers only
    std::string trace_path;  // JSON lines of applied records; empty: none
    std::size_t connections_max = 10000;
    std::chrono::milliseconds dial_timeout{2000};
    NodeLimits limits;
    TieBreak tie_break = TieBreak::first;
};

class Server {
  public:
    Server(boost::asio::io_context& io, ServerOptions options);
    ~Server();

    // Binds and starts serving; false (with the reason) if the port cannot be bound.
    bool start(std::string* error);
    // Stops accepting, closes every connection and the Places service.
    void stop();
    std::uint16_t port() const { return port_; }

  private:
    struct Conn;

    void do_accept();
    void on_accepted(boost::asio::ip::tcp::socket socket);
    void start_conn(ConnectionId id, boost::asio::ip::tcp::socket socket, const std::string& label);
    void do_read(const std::shared_ptr<Conn>& c);
    void do_write(const std::shared_ptr<Conn>& c);
    void log_input(Conn& c, std::string_view bytes);
    void close_now(const std::shared_ptr<Conn>& c);
    void dial(const ServerName& peer);
    void pump();
    void arm_timer();
    void on_action(Action& action);
    std::shared_ptr<Conn> find(ConnectionId id);

    boost::asio::io_context& io_;
    ServerOptions options_;
    std::string name_;
    Log log_;
    Log trace_;
    PlacesService places_;
    std::unique_ptr<Node> node_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer timer_;
    std::optional<Instant> timer_at_;
    std::map<ConnectionId, std::shared_ptr<Conn>> conns_;
    ConnectionId next_id_ = 1;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
    bool pumping_ = false;
};

// Runs `herd serve`: a Server on its own io_context until SIGINT or SIGTERM. Returns the exit
// status.
int serve(ServerOptions options);

}  // namespace herd::net
