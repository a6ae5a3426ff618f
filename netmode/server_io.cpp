// herd serve's Server, its connections: accept and admission (shares per address, shedding),
// reads, TLS sniffing and handshakes, writes, closes, and dials to neighbours.
#include "netmode/server.hpp"

#include <rapidjson/document.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <cstring>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <iostream>
#include <random>
#include <vector>

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/peer_protocol.hpp"
#include "core/text.hpp"
#include "netmode/clock.hpp"
#include "netmode/data_format.hpp"
#include "netmode/files.hpp"
#include "netmode/process.hpp"

#include "netmode/server_conn.hpp"

namespace herd::net {

// ---------------------------------------------------------------- connections

void Server::do_accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopped_) return;
        if (!ec) on_accepted(std::move(socket));
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
            // Out of file descriptors: wait a little rather than spin on the error.
            log_.event(std::string("accept failed: ") + ec.message());
            accept_pause_.expires_after(std::chrono::milliseconds(100));
            accept_pause_.async_wait([this](const boost::system::error_code& e) {
                if (!e && !stopped_) do_accept();
            });
            return;
        }
        do_accept();
    });
}

// What one address may hold now: the per-address cap, and no more than an even split of the
// connection cap among the addresses connected, so the share shrinks as more addresses compete
// (and a newcomer under its share gets in by shedding: shed_for).
std::size_t Server::address_share(bool new_address) const {
    const std::size_t addresses =
        std::max<std::size_t>(1, clients_per_ip_.size() + (new_address ? 1 : 0));
    return std::max(conns_per_ip_min,
                    std::min(options_.conns_per_ip_max, options_.connections_max / addresses));
}

// Makes room for a connection from an address under its share when the table is full: among
// the addresses that hold the most, and more than this one, the oldest connection goes (an idle
// attacker's long before any client that comes, asks and goes; never one of an address holding
// fewer, however old).
bool Server::shed_for(const asio::ip::address& from) {
    std::size_t most = 0;
    for (const auto& [address, ids] : clients_per_ip_)
        most = std::max(most, ids.size());
    const auto mine = clients_per_ip_.find(from);
    const std::size_t own = mine == clients_per_ip_.end() ? 0 : mine->second.size();
    if (most <= own) return false;
    auto from_where = clients_per_ip_.end();
    for (auto it = clients_per_ip_.begin(); it != clients_per_ip_.end(); ++it) {
        if (it->second.size() != most) continue;
        if (from_where == clients_per_ip_.end() ||
            *it->second.begin() < *from_where->second.begin())
            from_where = it;
    }
    auto victim = find(*from_where->second.begin());
    HERD_ASSERT(victim != nullptr);
    counters_.shed += 1;
    close_now(victim, "shed to make room: its address holds " +
                          std::to_string(from_where->second.size()) + " connections");
    node_->handle_closed(victim->id, now());
    return true;
}

std::optional<Admission> Server::admit(const asio::ip::address& from, Seat* seat,
                                       std::string* refusal) {
    const auto it = clients_per_ip_.find(from);
    const bool over_ip = it != clients_per_ip_.end() && it->second.size() >= address_share(false);
    bool over_all = clients_ >= options_.connections_max;
    if (over_all && !over_ip) over_all = !shed_for(from);
    if (!over_all && !over_ip) {
        *seat = Seat::client;
        return Admission::anyone;
    }
    if (reserve_used_ < reserve_max_) {
        // It may be a neighbour coming back: let it prove so with a handshake.
        counters_.admitted_reserve += 1;
        *seat = Seat::reserve;
        return Admission::peers_only;
    }
    if (over_all) {
        counters_.refused_cap += 1;
        *refusal = "connection cap " + std::to_string(options_.connections_max);
    } else {
        counters_.refused_per_ip += 1;
        *refusal = "per-address share " + std::to_string(address_share(false)) + " (cap " +
                   std::to_string(options_.conns_per_ip_max) + ")";
    }
    return std::nullopt;
}

void Server::take_seat(Conn& c, Seat seat) {
    c.seat = seat;
    if (seat == Seat::client) {
        clients_ += 1;
        clients_per_ip_[c.from].insert(c.id);
    } else if (seat == Seat::reserve) {
        reserve_used_ += 1;
    }
    HERD_ASSERT(reserve_used_ <= reserve_max_);
}

void Server::release_seat(Conn& c) {
    if (c.seat == Seat::client) {
        HERD_ASSERT(clients_ > 0);
        clients_ -= 1;
        auto it = clients_per_ip_.find(c.from);
        HERD_ASSERT(it != clients_per_ip_.end() && it->second.count(c.id) == 1);
        it->second.erase(c.id);
        if (it->second.empty()) clients_per_ip_.erase(it);
    } else if (c.seat == Seat::reserve) {
        HERD_ASSERT(reserve_used_ > 0);
        reserve_used_ -= 1;
    }
    c.seat = Seat::none;
}

void Server::on_accepted(tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    const std::string from = remote.address().to_string() + ":" + std::to_string(remote.port());
    Seat seat = Seat::none;
    std::string refusal;
    const auto admission = admit(remote.address(), &seat, &refusal);
    if (!admission) {
        // Refused at once rather than let one flood starve everyone; logged, so an operator
        // sees who hits the cap.
        log_.event("refused connection from " + from + ": " + refusal);
        socket.close(ec);
        return;
    }
    counters_.accepted += 1;
    const ConnectionId id = next_id_++;
    log_.event("conn " + std::to_string(id) + " accepted from " + from +
               (seat == Seat::reserve ? " (over a cap: peers only)" : ""));
    auto c = start_conn(id, std::move(socket), from);
    c->from = remote.address();
    take_seat(*c, seat);
    // The origin the Node's per-origin handshake limits count by: the source address.
    const std::uint64_t origin = origin_of(remote.address());
    node_->handle_accepted(id, now(), *admission, origin);
    pump();
}

std::shared_ptr<Server::Conn> Server::start_conn(ConnectionId id, tcp::socket socket,
                                                 const std::string& label, bool read) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);
    // Keep little unsent data in the kernel: a slow reader then makes room, and our writes make
    // progress, a little at a time, instead of waiting for megabytes of a grown send buffer to
    // drain (the write timeout counts from the last progress).
    const int unsent_bytes_max = 64 << 10;
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent_bytes_max,
                 sizeof unsent_bytes_max);
    auto c = std::make_shared<Conn>(id, std::move(socket), label);
    conns_.emplace(id, c);
    if (read) do_read(c);
    return c;
}

void Server::do_read(const std::shared_ptr<Conn>& c) {
    if (c->reading || c->paused || c->eof || !c->open || c->securing) return;
    HERD_ASSERT(conns_.count(c->id) == 1);  // an open connection is known
    c->reading = true;
    if (c->tls) {
        read_tls(c);
        return;
    }
    // Wait for bytes without a buffer of our own; read them into the shared one when they come.
    c->socket.async_wait(tcp::socket::wait_read, [this, c](const boost::system::error_code& ec) {
        c->reading = false;
        if (!c->open || stopped_) return;
        if (ec) {
            lost(c, ec.message());
            return;
        }
        on_readable(c);
    });
}

void Server::on_readable(const std::shared_ptr<Conn>& c) {
    HERD_ASSERT(c->open && !c->reading);
    if (tls_ && !c->sniffed && sniff_tls(c)) return;
    boost::system::error_code ec;
    const std::size_t n = c->socket.read_some(asio::buffer(read_buffer_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        do_read(c);
        return;
    }
    if (ec == asio::error::eof) {
        on_eof(c);
        return;
    }
    if (ec) {
        lost(c, ec.message());
        return;
    }
    on_bytes(c, n, read_buffer_.data());
}

void Server::on_bytes(const std::shared_ptr<Conn>& c, std::size_t n, const char* data) {
    counters_.bytes_read += n;
    if (options_.log_lines) log_read(*c, std::string_view(data, n));
    node_->handle_bytes(c->id, std::string_view(data, n), now());
    pump();
    do_read(c);  // unless the Node paused it, or closed it
}

// Bytes read go to the log as they came, in one entry per read, except the part of a line past
// logfmt::logged_line_bytes_max: a client that sends endless bytes without an end of line fills
// no log with them (the line's length is logged when it ends).
void Server::log_read(Conn& c, std::string_view bytes) {
    constexpr std::size_t cap = logfmt::logged_line_bytes_max;
    std::size_t logged = 0;  // bytes before this are logged, or skipped
    std::size_t at = 0;      // the current line's start in `bytes`
    while (at < bytes.size()) {
        const auto* nl =
            static_cast<const char*>(std::memchr(bytes.data() + at, '\n', bytes.size() - at));
        const std::size_t end = nl ? static_cast<std::size_t>(nl - bytes.data()) : bytes.size();
        const std::size_t before = c.log_line_bytes;  // of this line, in earlier reads
        c.log_line_bytes += end - at;
        if (c.log_line_bytes > cap) {
            const std::size_t room = cap - std::min(before, cap);
            const std::size_t kept = at + std::min(room, end - at) - logged;
            if (kept > 0) log_.read(c.id, bytes.substr(logged, kept));
            logged = end;
            if (nl) {
                log_.read(c.id, "\n");
                // Said as an event ("conn N:", never "conn N <"): no client can forge it.
                log_.event("conn " + std::to_string(c.id) + ": the line it sent above had " +
                           std::to_string(c.log_line_bytes) + " bytes; the log keeps the first " +
                           std::to_string(cap));
                logged = end + 1;
            }
        }
        if (!nl) break;
        c.log_line_bytes = 0;
        at = end + 1;
    }
    if (logged < bytes.size()) log_.read(c.id, bytes.substr(logged));
}

void Server::on_eof(const std::shared_ptr<Conn>& c) {
    c->eof = true;
    log_.event("conn " + std::to_string(c->id) + " end of input");
    node_->handle_eof(c->id, now());
    pump();
}

bool Server::sniff_tls(const std::shared_ptr<Conn>& c) {
    unsigned char first = 0;
    const ssize_t got = ::recv(c->socket.native_handle(), &first, 1, MSG_PEEK);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        do_read(c);
        return true;
    }
    c->sniffed = true;  // an error or EOF is the plain read's to report
    if (got != 1 || first != tls_handshake_record) return false;
    accept_tls(c);
    return true;
}

// The Node counts the handshake against its origin and bounds it in time; the stream does the
// rest. On success the connection reads as any other, but decrypted.
void Server::accept_tls(const std::shared_ptr<Conn>& c) {
    node_->handle_transport_started(c->id, now());
    pump();
    if (!c->open) return;  // its origin is over a limit
    c->securing = true;
    c->tls = tls_->stream(c->socket, {});
    c->tls->async_handshake(asio::ssl::stream_base::server,
                            [this, c](const boost::system::error_code& ec) {
                                c->securing = false;
                                if (!c->open || stopped_) return;
                                on_tls_accepted(c, ec);
                            });
}

void Server::on_tls_accepted(const std::shared_ptr<Conn>& c, const boost::system::error_code& ec) {
    const std::string name = ec ? std::string() : tls_->certificate_name(*c->tls);
    if (ec) {
        node_->handle_transport_failed(c->id, "tls handshake failed: " + ec.message(), now());
    } else if (tls_->uses_certificates() && name.empty()) {
        node_->handle_transport_failed(c->id, "tls: a certificate without a common name", now());
    } else {
        log_.event("conn " + std::to_string(c->id) + " TLS up" +
                   (name.empty() ? "" : " (certificate of " + name + ")"));
        node_->handle_transport_secured(c->id, now(), name);
    }
    pump();
    do_read(c);
}

void Server::read_tls(const std::shared_ptr<Conn>& c) {
    if (c->tls_in.empty()) c->tls_in.resize(tls_read_bytes);
    c->tls->async_read_some(
        asio::buffer(c->tls_in), [this, c](const boost::system::error_code& ec, std::size_t n) {
            c->reading = false;
            if (!c->open || stopped_) return;
            if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
                on_eof(c);
                return;
            }
            if (ec) {
                lost(c, ec.message());
                return;
            }
            on_bytes(c, n, c->tls_in.data());
        });
}

void Server::lost(const std::shared_ptr<Conn>& c, const std::string& why) {
    counters_.closed_by_remote += 1;
    close_now(c, "lost: " + why);
    node_->handle_closed(c->id, now());
    pump();
}

void Server::do_write(const std::shared_ptr<Conn>& c) {
    if (c->writing || c->out.empty() || !c->open || c->securing) return;
    HERD_ASSERT(c->out_offset < c->out.front()->size());
    c->writing = true;
    // What is queued goes out in gathered writes (one system call, not one per line), each of
    // a bounded size, so that a client taking its output slowly shows progress write by write
    // (the Node's write timeout counts from the last progress).
    constexpr std::size_t buffers_max = 64;
    constexpr std::size_t write_bytes_max = 64 << 10;
    std::vector<asio::const_buffer> buffers;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < c->out.size() && i < buffers_max && bytes < write_bytes_max; ++i) {
        const std::string& chunk = *c->out[i];
        const std::size_t skip = i == 0 ? c->out_offset : 0;
        const std::size_t take = std::min(chunk.size() - skip, write_bytes_max - bytes);
        buffers.push_back(asio::buffer(chunk.data() + skip, take));
        bytes += take;
    }
    auto done = [this, c](const boost::system::error_code& ec, std::size_t n) {
        on_written(c, ec, n);
    };
    if (!c->tls) {
        c->socket.async_write_some(buffers, done);
        return;
    }
    // A TLS stream writes one buffer at a time: the lines go out gathered in one.
    c->tls_out.clear();
    for (const asio::const_buffer& b : buffers)
        c->tls_out.append(static_cast<const char*>(b.data()), b.size());
    c->tls->async_write_some(asio::buffer(c->tls_out), done);
}

void Server::on_written(const std::shared_ptr<Conn>& c, const boost::system::error_code& ec,
                        std::size_t n) {
    c->writing = false;
    if (!c->open || stopped_) return;
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        do_write(c);
        return;
    }
    if (ec) {
        lost(c, "write failed: " + ec.message());
        return;
    }
    consume_output(*c, n);
    node_->handle_sent(c->id, n, now());
    if (c->out.empty() && c->close_after_flush) {
        boost::system::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        close_now(c, {});
    } else {
        do_write(c);
    }
    pump();
}

void Server::consume_output(Conn& c, std::size_t n) {
    HERD_ASSERT(n <= c.out_bytes);
    c.out_bytes -= n;
    counters_.bytes_written += n;
    while (n > 0) {
        HERD_ASSERT(!c.out.empty());
        const std::size_t left = c.out.front()->size() - c.out_offset;
        if (n < left) {
            c.out_offset += n;
            return;
        }
        n -= left;
        c.out.pop_front();
        c.out_offset = 0;
    }
}

void Server::close_now(const std::shared_ptr<Conn>& c, std::string_view reason) {
    if (!c->open) return;
    HERD_ASSERT(conns_.count(c->id) == 1);
    c->open = false;
    if (c->flush_deadline) c->flush_deadline->cancel();
    boost::system::error_code ec;
    c->socket.close(ec);
    release_seat(*c);
    conns_.erase(c->id);
    if (!reason.empty())
        log_.event("conn " + std::to_string(c->id) + " closed: " + std::string(reason));
}

void Server::dial(const ServerName& peer) {
    const int index = options_.herd.index_of(peer.str());
    const ServerSpec& spec = options_.herd.servers[static_cast<std::size_t>(index)];
    auto d = std::make_shared<Dialing>(io_, peer, spec.host, options_.dial_timeout);
    d->deadline.async_wait([this, d](const boost::system::error_code& ec) {
        if (!ec) dial_failed(d, "timed out");
    });
    d->resolver.async_resolve(
        spec.host, std::to_string(spec.port),
        [this, d](const boost::system::error_code& ec, tcp::resolver::results_type results) {
            if (d->done || stopped_) return;
            if (ec) return dial_failed(d, "cannot resolve: " + ec.message());
            asio::async_connect(
                d->socket, results,
                [this, d](const boost::system::error_code& ec2, const tcp::endpoint&) {
                    if (d->done || stopped_) return;
                    if (ec2) return dial_failed(d, ec2.message());
                    on_dial_connected(d);
                });
        });
}

// Connected: with TLS, its handshake comes first (under the dial's deadline), and only a secured
// connection is handed to the Node.
void Server::on_dial_connected(const std::shared_ptr<Dialing>& d) {
    const ConnectionId id = next_id_++;
    auto c = start_conn(id, std::move(d->socket), d->peer.str(), false);  // no seat: a peer
    if (!tls_) {
        dial_done(d, c);
        return;
    }
    d->conn = c;
    c->securing = true;
    c->tls = tls_->stream(c->socket, d->host);
    c->tls->async_handshake(asio::ssl::stream_base::client,
                            [this, d, c](const boost::system::error_code& ec) {
                                c->securing = false;
                                if (d->done || stopped_ || !c->open) return;
                                if (ec)
                                    return dial_failed(d, "tls handshake: " + ec.message() +
                                                              " (closed by the other end: "
                                                              "another herd secret or CA, or one "
                                                              "of its handshake limits; see its "
                                                              "log)");
                                // Which server the certificate names is the Node's to check.
                                const std::string name = tls_->certificate_name(*c->tls);
                                if (tls_->uses_certificates() && name.empty())
                                    return dial_failed(d, "its certificate has no common name");
                                dial_done(d, c, name);
                            });
}

void Server::dial_failed(const std::shared_ptr<Dialing>& d, const std::string& why) {
    if (d->done || stopped_) return;
    d->done = true;
    d->deadline.cancel();
    d->resolver.cancel();
    boost::system::error_code ignored;
    d->socket.close(ignored);
    if (d->conn) close_now(d->conn, {});
    log_.event("dial " + d->peer.str() + " failed: " + why);
    node_->handle_dial_failed(d->peer, now());
    pump();
}

void Server::dial_done(const std::shared_ptr<Dialing>& d, std::shared_ptr<Conn> c,
                       const std::string& identity) {
    d->done = true;
    d->deadline.cancel();
    d->conn.reset();
    log_.event("conn " + std::to_string(c->id) + " dialed " + d->peer.str() +
               (c->tls ? " (TLS)" : ""));
    node_->handle_dialed(c->id, d->peer, now(), identity);
    pump();
    do_read(c);
}

}  // namespace herd::net
