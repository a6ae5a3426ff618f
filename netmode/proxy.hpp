// Proxy: a fault proxy for real TCP links (`herd proxy`), many links in one process.
//
// A link listens on one address and joins every connection it accepts to a new connection to
// its upstream address. Faults, changed at run time:
// - latency per direction, a duration drawn for every chunk read, with each direction's bytes
//   kept in order (a chunk is never delivered before the one read before it: FIFO, as the
//   simulator's links);
// - cut: every connection of the link is closed at both ends and new ones are closed at once,
//   until restore;
// - silence (per direction): bytes are read but held, not delivered, and nobody is told (a
//   black hole, as TCP sees one: what was sent arrives if the link comes back; reading stops
//   at the queue's bound), until restore.
// Control: a line protocol on its own TCP port (one command a line, one `ok ...` or `? why`
// reply line; `list` first writes one `link ...` line per link). Lines rather than HTTP: the
// same shape as herd's own protocols, scriptable with `herd client` or nc, no HTTP parser.
//
//   add NAME LISTEN_ADDR UPSTREAM_ADDR     latency NAME up|down|both DIST
//   cut NAME      silence NAME up|down|both      restore NAME      list
//   (DIST as in scenario files: 5ms, uniform(1ms,5ms), ...)
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/time.hpp"

namespace herd::net {

// Draws one one-way latency.
using LatencySampler = std::function<Duration()>;
// Reads a distribution as written in a scenario file ("uniform(1ms,5ms)"), for a named stream of
// draws; nothing when the text is not one.
using LatencyParser =
    std::function<std::optional<LatencySampler>(std::string_view text, std::string_view stream)>;

class Proxy {
  public:
    // Bytes read and not yet delivered, per direction of one connection: past this, reading
    // from that side waits.
    static constexpr std::size_t queued_bytes_max = 1 << 20;

    Proxy(boost::asio::io_context& io, LatencyParser parser);
    ~Proxy();

    std::optional<Error> add(const std::string& name, const std::string& listen,
                             const std::string& upstream);
    // `direction`: up (towards upstream), down, or both; `distribution` as in a scenario.
    std::optional<Error> set_latency(const std::string& name, std::string_view direction,
                                     std::string_view distribution);
    std::optional<Error> cut(const std::string& name);
    // Ends a cut and any silence.
    std::optional<Error> restore(const std::string& name);
    // Holds the bytes of a direction (up: towards upstream) until restored; false releases them.
    std::optional<Error> silence(const std::string& name, bool up, bool down);
    // The port a link listens on (0 if there is no such link).
    std::uint16_t port(const std::string& name) const;
    // One line per link: name, addresses, state, latencies, connections, bytes each way.
    std::string list() const;
    // One control command; its reply (ending in a newline).
    std::string command(std::string_view line);
    // The control port: with a `token`, each connection's first line must be `auth TOKEN`;
    // without one it must be on loopback. At most control_connections_max at once, each closed
    // after control_idle without a line.
    std::optional<Error> listen_control(const std::string& address, std::string token = {});
    static constexpr std::size_t control_connections_max = 16;
    static constexpr std::chrono::seconds control_idle{30};
    static constexpr std::chrono::seconds control_auth_deadline{2};  // for `auth TOKEN`
    static constexpr std::size_t links_max = 256;
    void stop();

  private:
    struct Link;
    struct Pipe;
    struct Direction;
    struct ControlConn;
    void accept(const std::shared_ptr<Link>& link);
    void joined(const std::shared_ptr<Pipe>& pipe);
    void read(const std::shared_ptr<Pipe>& pipe, Direction& d);
    void pump(const std::shared_ptr<Pipe>& pipe, Direction& d);
    void close(const std::shared_ptr<Pipe>& pipe);
    void finish(const std::shared_ptr<Pipe>& pipe);  // closed, and forgotten by its link
    void accept_control();
    void read_control(const std::shared_ptr<ControlConn>& c);
    void close_control(const std::shared_ptr<ControlConn>& c);
    std::string control_reply(ControlConn& c, std::string_view line, bool* close);

    boost::asio::io_context& io_;
    LatencyParser parser_;
    std::map<std::string, std::shared_ptr<Link>> links_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> control_;
    std::string control_token_;
    std::size_t control_open_ = 0;
    std::list<std::shared_ptr<ControlConn>> unauthenticated_;  // oldest first
    bool stopped_ = false;
};

}  // namespace herd::net
