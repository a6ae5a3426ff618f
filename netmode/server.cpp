#include "netmode/server.hpp"

#include <pthread.h>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <iostream>
#include <random>
#include <vector>

#include "core/peer_protocol.hpp"
#include "core/text.hpp"
#include "netmode/clock.hpp"

namespace herd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Conn {
    ConnectionId id;
    tcp::socket socket;
    std::string label;  // "127.0.0.1:53412", or the peer's name for dialed links
    std::array<char, 16384> buffer{};
    std::deque<SharedBytes> out;
    bool writing = false;
    bool close_after_flush = false;
    bool open = true;
    std::string log_partial;  // an input line not complete yet, kept so the log shows whole lines

    Conn(ConnectionId i, tcp::socket s, std::string l)
        : id(i), socket(std::move(s)), label(std::move(l)) {}
};

namespace {

std::string endpoint_text(const tcp::socket& s) {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string log_path(const ServerOptions& o) {
    if (o.log_dir.empty()) return {};
    return o.log_dir + "/" + o.herd.servers[static_cast<std::size_t>(o.self)].name.str() + ".log";
}

std::uint64_t random64() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

Server::Server(asio::io_context& io, ServerOptions options)
    : io_(io),
      options_(std::move(options)),
      name_(options_.herd.servers[static_cast<std::size_t>(options_.self)].name.str()),
      log_(log_path(options_), options_.log_bytes_max),
      trace_(options_.trace_path, 0, false),
      places_(io, options_.places),
      acceptor_(io),
      timer_(io) {}

Server::~Server() {
    stop();
}

bool Server::start(std::string* error) {
    const ServerSpec& me = options_.herd.servers[static_cast<std::size_t>(options_.self)];
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(me.host.empty() ? "127.0.0.1" : me.host, ec);
    tcp::endpoint endpoint;
    if (ec) {
        // A host name: listen on what it resolves to.
        tcp::resolver resolver(io_);
        auto results = resolver.resolve(me.host, std::to_string(me.port), ec);
        if (ec || results.empty()) {
            *error = "cannot resolve " + me.host + ": " + ec.message();
            return false;
        }
        endpoint = results.begin()->endpoint();
    } else {
        endpoint = tcp::endpoint(address, me.port);
    }
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        *error =
            "cannot listen on " + me.host + ":" + std::to_string(me.port) + ": " + ec.message();
        return false;
    }
    port_ = acceptor_.local_endpoint().port();

    NodeConfig config;
    config.self = me.name;
    config.neighbours = options_.herd.neighbours_of(options_.self);
    config.tie_break = options_.tie_break;
    config.secret = options_.secret;
    config.incarnation = random64();
    config.seed = random64();
    config.limits = options_.limits;
    config.notify_applied = trace_.enabled();
    std::string peers;
    for (const ServerName& n : config.neighbours)
        peers += (peers.empty() ? "" : ", ") + n.str();
    const std::string banner = "herd serve " + name_ + ": listening on " +
                               endpoint.address().to_string() + ":" + std::to_string(port_) +
                               "; peers " + (peers.empty() ? "none" : peers) + "; places " +
                               options_.places.describe() + "; peers " +
                               (options_.secret.empty() ? "unauthenticated (no herd secret)"
                                                        : "authenticated by the herd secret");
    std::cout << banner << std::endl;
    log_.write(banner + "; incarnation " + hex64(config.incarnation));
    node_ = std::make_unique<Node>(std::move(config), now());
    places_.on_event([this](const std::string& line) { log_.write(line); });
    do_accept();
    pump();
    return true;
}

void Server::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    timer_.cancel();
    for (auto& [id, c] : conns_) {
        c->open = false;
        c->socket.close(ec);
    }
    conns_.clear();
    places_.stop();
    log_.write("herd serve " + name_ + ": stopped");
    log_.flush();
    trace_.flush();
}

std::shared_ptr<Server::Conn> Server::find(ConnectionId id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second;
}

// ---------------------------------------------------------------- connections

void Server::do_accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopped_) return;
        if (!ec) on_accepted(std::move(socket));
        do_accept();
    });
}

void Server::on_accepted(tcp::socket socket) {
    const std::string from = endpoint_text(socket);
    if (conns_.size() >= options_.connections_max) {
        // The connection cap: refuse at once rather than let one flood starve everyone.
        log_.write("refused connection from " + from + ": connection cap " +
                   std::to_string(options_.connections_max));
        boost::system::error_code ec;
        socket.close(ec);
        return;
    }
    const ConnectionId id = next_id_++;
    log_.write("conn " + std::to_string(id) + " accepted from " + from);
    start_conn(id, std::move(socket), from);
    node_->handle_accepted(id, now());
    pump();
}

void Server::start_conn(ConnectionId id, tcp::socket socket, const std::string& label) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    auto c = std::make_shared<Conn>(id, std::move(socket), label);
    conns_.emplace(id, c);
    do_read(c);
}

void Server::do_read(const std::shared_ptr<Conn>& c) {
    c->socket.async_read_some(asio::buffer(c->buffer),
                              [this, c](const boost::system::error_code& ec, std::size_t n) {
                                  if (!c->open || stopped_) return;
                                  const std::string tag = "conn " + std::to_string(c->id);
                                  if (!ec) {
                                      const std::string_view bytes(c->buffer.data(), n);
                                      if (options_.log_lines && log_.enabled())
                                          log_input(*c, bytes);
                                      node_->handle_bytes(c->id, bytes, now());
                                      pump();
                                      if (c->open) do_read(c);
                                      return;
                                  }
                                  if (ec == asio::error::eof) {
                                      log_.write(tag + " end of input");
                                      node_->handle_eof(c->id, now());
                                  } else {
                                      log_.write(tag + " lost: " + ec.message());
                                      close_now(c);
                                      node_->handle_closed(c->id, now());
                                  }
                                  pump();
                              });
}

void Server::log_input(Conn& c, std::string_view bytes) {
    // Whole lines only: a line split across reads is logged once it is complete. A very long
    // line is logged by its first 4 KiB.
    constexpr std::size_t partial_bytes_max = 4096;
    const std::string tag = "conn " + std::to_string(c.id) + " < ";
    const std::size_t last_newline = bytes.rfind('\n');
    if (last_newline == std::string_view::npos) {
        if (c.log_partial.size() < partial_bytes_max)
            c.log_partial.append(bytes.substr(0, partial_bytes_max - c.log_partial.size()));
        return;
    }
    if (!c.log_partial.empty()) {
        const std::size_t first_newline = bytes.find('\n');
        if (c.log_partial.size() < partial_bytes_max) {
            c.log_partial.append(
                bytes.substr(0, std::min(first_newline, partial_bytes_max - c.log_partial.size())));
        }
        log_.write_lines(tag, c.log_partial);
        c.log_partial.clear();
        bytes.remove_prefix(first_newline + 1);
    }
    const std::size_t last = bytes.rfind('\n');
    if (last != std::string_view::npos) log_.write_lines(tag, bytes.substr(0, last));
    const std::string_view tail = last == std::string_view::npos ? bytes : bytes.substr(last + 1);
    c.log_partial.assign(tail.substr(0, partial_bytes_max));
}

void Server::do_write(const std::shared_ptr<Conn>& c) {
    if (c->writing || c->out.empty() || !c->open) return;
    c->writing = true;
    // Everything queued goes out in one gathered write (one system call, not one per line).
    constexpr std::size_t buffers_max = 256;
    std::vector<asio::const_buffer> buffers;
    std::size_t count = std::min(c->out.size(), buffers_max);
    buffers.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        buffers.push_back(asio::buffer(*c->out[i]));
    asio::async_write(
        c->socket, buffers, [this, c, count](const boost::system::error_code& ec, std::size_t n) {
            c->writing = false;
            if (!c->open || stopped_) return;
            c->out.erase(c->out.begin(), c->out.begin() + static_cast<std::ptrdiff_t>(count));
            if (ec) {
                log_.write("conn " + std::to_string(c->id) + " write failed: " + ec.message());
                close_now(c);
                node_->handle_closed(c->id, now());
                pump();
                return;
            }
            node_->handle_sent(c->id, n, now());
            if (c->out.empty() && c->close_after_flush) {
                boost::system::error_code ignored;
                c->socket.shutdown(tcp::socket::shutdown_both, ignored);
                close_now(c);
            } else {
                do_write(c);
            }
            pump();
        });
}

void Server::close_now(const std::shared_ptr<Conn>& c) {
    if (!c->open) return;
    c->open = false;
    boost::system::error_code ec;
    c->socket.close(ec);
    conns_.erase(c->id);
    log_.write("conn " + std::to_string(c->id) + " closed");
}

void Server::dial(const ServerName& peer) {
    const int index = options_.herd.index_of(peer.str());
    const ServerSpec& spec = options_.herd.servers[static_cast<std::size_t>(index)];
    auto resolver = std::make_shared<tcp::resolver>(io_);
    auto socket = std::make_shared<tcp::socket>(io_);
    auto deadline = std::make_shared<asio::steady_timer>(io_, options_.dial_timeout);
    auto done = std::make_shared<bool>(false);
    auto fail = [this, peer, done, deadline](const std::string& why) {
        if (*done || stopped_) return;
        *done = true;
        deadline->cancel();
        log_.write("dial " + peer.str() + " failed: " + why);
        node_->handle_dial_failed(peer, now());
        pump();
    };
    deadline->async_wait([socket, resolver, fail](const boost::system::error_code& ec) {
        if (ec) return;
        resolver->cancel();
        boost::system::error_code ignored;
        socket->close(ignored);
        fail("timed out");
    });
    resolver->async_resolve(
        spec.host, std::to_string(spec.port),
        [this, peer, socket, resolver, deadline, done, fail](const boost::system::error_code& ec,
                                                             tcp::resolver::results_type results) {
            if (ec) return fail("cannot resolve: " + ec.message());
            asio::async_connect(
                *socket, results,
                [this, peer, socket, deadline, done, fail](const boost::system::error_code& ec2,
                                                           const tcp::endpoint&) {
                    if (ec2) return fail(ec2.message());
                    if (*done || stopped_) return;
                    *done = true;
                    deadline->cancel();
                    const ConnectionId id = next_id_++;
                    log_.write("conn " + std::to_string(id) + " dialed " + peer.str());
                    start_conn(id, std::move(*socket), peer.str());
                    node_->handle_dialed(id, peer, now());
                    pump();
                });
        });
}

// ---------------------------------------------------------------- the drain loop

void Server::pump() {
    if (pumping_ || stopped_) return;
    pumping_ = true;
    drain(*node_, [this](auto&& action) {
        Action a{std::move(action)};
        on_action(a);
    });
    pumping_ = false;
    arm_timer();
}

void Server::arm_timer() {
    const auto at = node_->poll_timeout();
    if (at == timer_at_) return;
    timer_at_ = at;
    if (!at) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(from_instant(*at));
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        timer_at_.reset();
        node_->handle_timeout(now());
        pump();
    });
}

void Server::on_action(Action& action) {
    if (auto* reply = std::get_if<Reply>(&action)) {
        if (auto c = find(reply->conn)) {
            if (options_.log_lines)
                log_.write_lines("conn " + std::to_string(c->id) + " > ", reply->bytes);
            c->out.push_back(std::make_shared<const std::string>(std::move(reply->bytes)));
            do_write(c);
        }
    } else if (auto* send = std::get_if<SendToPeer>(&action)) {
        if (auto c = find(send->conn)) {
            if (options_.log_lines)
                log_.write_lines("conn " + std::to_string(c->id) + " > ", *send->bytes);
            c->out.push_back(std::move(send->bytes));
            do_write(c);
        }
    } else if (auto* d = std::get_if<Dial>(&action)) {
        dial(d->peer);
    } else if (auto* q = std::get_if<QueryPlaces>(&action)) {
        const QueryId id = q->id;
        places_.query(q->query, [this, id](PlacesResult result) {
            if (stopped_) return;
            node_->handle_places_reply(id, std::move(result), now());
            pump();
        });
    } else if (auto* close = std::get_if<Close>(&action)) {
        if (auto c = find(close->conn)) {
            if (close->mode == CloseMode::now || (c->out.empty() && !c->writing)) {
                boost::system::error_code ignored;
                c->socket.shutdown(tcp::socket::shutdown_both, ignored);
                close_now(c);
            } else {
                c->close_after_flush = true;
            }
        }
    } else if (auto* applied = std::get_if<RecordApplied>(&action)) {
        if (trace_.enabled()) {
            const Now t = now();
            std::string line = "{\"ev\":\"apply\",\"server\":\"";
            append_json_escaped(line, name_);
            line += "\",\"origin\":\"";
            append_json_escaped(line, applied->origin);
            line += "\",\"client\":\"";
            append_json_escaped(line, applied->client);
            line += "\",\"client_time\":\"" + format_timestamp(applied->time) + "\",\"via\":\"";
            append_json_escaped(line, applied->via);
            // steady_ns is CLOCK_MONOTONIC itself: comparable between processes on one host.
            const auto steady = std::chrono::steady_clock::now().time_since_epoch();
            line +=
                "\",\"mono_ns\":" + std::to_string(t.mono.ns) + ",\"steady_ns\":" +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(steady).count()) +
                ",\"wall_ns\":" + std::to_string(t.wall.seconds * nanos_per_second + t.wall.nanos) +
                "}";
            trace_.write(line);
        }
    } else if (auto* up = std::get_if<PeerUp>(&action)) {
        log_.write("peer " + up->peer.str() + " up on conn " + std::to_string(up->conn));
    } else if (auto* down = std::get_if<PeerDown>(&action)) {
        log_.write("peer " + down->peer.str() + " down on conn " + std::to_string(down->conn) +
                   ": " + down->reason);
    }
}

int serve(ServerOptions options) {
    asio::io_context io;
    if (!options.log_dir.empty()) {
        std::string error;
        if (!Log::make_folder(options.log_dir, &error)) {
            std::cerr << "herd serve: cannot create log folder " << options.log_dir << ": " << error
                      << "\n";
            return 1;
        }
    }
    // Signals are caught from before the port is open, so a stop request is never lost.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    Server server(io, std::move(options));
    std::string error;
    if (!server.start(&error)) {
        std::cerr << "herd serve: " << error << "\n";
        return 1;
    }
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        server.stop();
        io.stop();
    });
    io.run();
    // Stopping: a second SIGTERM (say from `herd up` after a terminal's Ctrl-C) must not turn a
    // clean exit into a death by signal while the destructors flush the logs, so from here on
    // they are blocked (and die with the process).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    return 0;
}

}  // namespace herd::net
