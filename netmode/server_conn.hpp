// The Server's insides that its files share (server.cpp: its life; server_io.cpp: connections,
// admission, reads, TLS, writes and dials; server_drain.cpp: the drain loop and the Node's
// actions; server_admin.cpp: the admin port). Not for use outside netmode/.
#pragma once

#include <boost/asio.hpp>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/hash.hpp"
#include "netmode/server.hpp"

namespace herd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A dial in progress: resolving, connecting, then (with TLS) its handshake, all under one
// deadline.
struct Server::Dialing {
    ServerName peer;
    std::string host;
    tcp::resolver resolver;
    tcp::socket socket;
    asio::steady_timer deadline;
    std::shared_ptr<Server::Conn> conn;  // connected, in its TLS handshake
    bool done = false;

    Dialing(asio::io_context& io, ServerName p, std::string h, std::chrono::milliseconds timeout)
        : peer(std::move(p)), host(std::move(h)), resolver(io), socket(io), deadline(io, timeout) {}
};

struct Server::Conn {
    ConnectionId id;
    tcp::socket socket;
    std::string label;       // "127.0.0.1:53412", or the peer's name for dialed links
    asio::ip::address from;  // accepted connections: the source address
    Seat seat = Seat::none;
    std::deque<SharedBytes> out;
    std::size_t out_offset = 0;  // bytes of out.front() already written
    std::size_t out_bytes = 0;
    std::unique_ptr<asio::steady_timer> flush_deadline;  // closing: output must drain by then
    std::size_t out_bytes_at_deadline = 0;
    bool writing = false;
    bool reading = false;  // a readiness wait is pending
    bool eof = false;      // the remote end finished sending: nothing more to read
    bool paused = false;   // the Node asked to stop reading
    bool close_after_flush = false;
    bool open = true;
    std::size_t log_line_bytes = 0;  // of the line being read, for the log's bound on one line
    // TLS (peer links): the stream over `socket`, its own read buffer, and the plain text of the
    // write in progress. Accepted connections are sniffed once for a TLS handshake.
    std::unique_ptr<TlsStream> tls;
    std::vector<char> tls_in;
    std::string tls_out;
    bool sniffed = false;
    bool securing = false;  // in its TLS handshake: nothing is read or written by us
    // Output waiting for the data folder: an acknowledgement (with the sequence number that must
    // be durable first) and whatever follows it on this connection.
    std::deque<std::pair<std::uint64_t, SharedBytes>> gated;

    Conn(ConnectionId i, tcp::socket s, std::string l)
        : id(i), socket(std::move(s)), label(std::move(l)) {}
};

// One read takes at most this much; the Node keeps what a paused connection had in hand, so this
// also bounds what a client can push past its high-water mark.
constexpr std::size_t read_bytes_max = 64 << 10;
// A TLS connection's reads: one record's worth.
constexpr std::size_t tls_read_bytes = 16 << 10;
// A REFUSED line, the one write the Node makes past its output bounds.
constexpr std::size_t refused_line_bytes_max = 256;

// The origin the Node's per-origin limits count a connection by: its source address.
inline std::uint64_t origin_of(const asio::ip::address& address) {
    return fnv1a64(address.to_string()) | 1;
}

// Compares two secrets in time that does not depend on where they differ.
inline bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace herd::net
