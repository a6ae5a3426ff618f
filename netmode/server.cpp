// herd serve's Server, its life: options, start (every output checked before the port opens),
// the Node's configuration, the data folder, stop; and serve(), the command's body.
#include "netmode/server.hpp"

#include <rapidjson/document.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
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

namespace {

std::string log_path(const ServerOptions& o) {
    if (o.log_dir.empty()) return {};
    return o.log_dir + "/" + o.herd.servers[static_cast<std::size_t>(o.self)].name.str() + ".log";
}

std::uint64_t random64() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

// Places gets an eighth of the open-file limit for its sockets (4 to 256), which the descriptor
// budget then counts.
static ServerOptions with_places_sockets(ServerOptions o) {
    const std::uint64_t limit = raise_open_file_limit(UINT64_MAX);
    o.places.sockets_max =
        static_cast<std::size_t>(std::clamp<std::uint64_t>(limit / 8, 4, o.places.sockets_max));
    return o;
}

Server::Server(asio::io_context& io, ServerOptions options)
    : io_(io),
      options_(with_places_sockets(std::move(options))),
      name_(options_.herd.servers[static_cast<std::size_t>(options_.self)].name.str()),
      log_(log_path(options_), EventLogOptions{options_.log_bytes_max, options_.log_keep}),
      trace_(options_.trace_path, LogOptions{0, 0, 64u << 20, false, true}),
      places_(io, options_.places),
      acceptor_(io),
      timer_(io),
      read_buffer_(read_bytes_max) {
    // Room for every neighbour to reach us twice at once (a redial beside a stale link).
    reserve_max_ = 2 * options_.herd.neighbours_of(options_.self).size() + 2;
}

Server::~Server() {
    stop();
}

std::optional<Error> Server::listen() {
    const ServerSpec& me = options_.herd.servers[static_cast<std::size_t>(options_.self)];
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(me.host.empty() ? "127.0.0.1" : me.host, ec);
    tcp::endpoint endpoint;
    if (ec) {
        // A host name: listen on what it resolves to.
        tcp::resolver resolver(io_);
        auto results = resolver.resolve(me.host, std::to_string(me.port), ec);
        if (ec || results.empty()) return Error{"cannot resolve " + me.host + ": " + ec.message()};
        endpoint = results.begin()->endpoint();
    } else {
        endpoint = tcp::endpoint(address, me.port);
    }
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return Error{"cannot listen on " + me.host + ":" + std::to_string(me.port) + ": " +
                     ec.message()};
    port_ = acceptor_.local_endpoint().port();
    listening_on_ = endpoint.address().to_string() + ":" + std::to_string(port_);
    return std::nullopt;
}

// Fits the connection cap to the file descriptors this process may open (raising the soft
// limit to the hard one first), so that peers' reserve, dials, the admin port, logs and Places
// always have descriptors left however many clients come.
bool Server::fit_descriptor_budget() {
    const std::uint64_t limit = raise_open_file_limit(UINT64_MAX);
    // Logs, trace, epoll, listeners, and Places' sockets (bounded inside libcurl).
    const std::size_t descriptors_other = 64 + options_.places.sockets_max;
    const std::size_t fixed = reserve_max_ + 2 * options_.herd.neighbours_of(options_.self).size() +
                              AdminServer::connections_max + descriptors_other;
    const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(limit, SIZE_MAX));
    const std::size_t fits = available > fixed ? available - fixed : 0;
    if (options_.connections_max <= fits) return true;
    if (fits == 0) return false;
    descriptor_note_ = "connection cap lowered from " + std::to_string(options_.connections_max) +
                       " to " + std::to_string(fits) + " to fit the open-file limit " +
                       std::to_string(available);
    options_.connections_max = fits;
    return true;
}

std::optional<Error> Server::start() {
    if (!fit_descriptor_budget())
        return Error{"the open-file limit leaves no room for clients: raise `ulimit -n`"};
    // Every output is checked before the port opens: a server that cannot log, trace or serve
    // its admin port says so and does not start.
    if (auto e = log_.open()) return e;
    if (auto e = trace_.open()) return e;
    if (places_.error()) return places_.error();
    if (!options_.admin.empty()) {
        admin_ = std::make_unique<AdminServer>(
            io_, [this](const HttpRequest& r) { return admin_answer(r); });
        if (auto e = admin_->start(options_.admin)) return e;
    }
    if (!options_.secret.empty() || options_.tls_files.complete()) {
        auto made = PeerTls::make(options_.secret, options_.tls_files);
        if (const Error* e = error_of(made)) return *e;
        tls_ = std::get<std::unique_ptr<PeerTls>>(std::move(made));
    }
    const NodeConfig config = node_config();
    node_ = std::make_unique<Node>(config, now());
    // The records of an earlier life, back into the store before the port opens.
    if (auto e = open_data()) return e;
    if (auto e = listen()) return e;
    std::cout << banner(config) << std::endl;
    log_.event(banner(config) + "; incarnation " + hex64(config.incarnation) + "; herd " +
               options_.version + " (commit " + options_.commit + ")");
    for (const std::string& note : data_notes_)
        log_.event(note);
    places_.on_event([this](const std::string& line) { log_.event(line); });
    do_accept();
    pump();
    return std::nullopt;
}

// The herd's key for the store's client hash: the same on every server (anti-entropy compares
// buckets of it), and unknown to clients where the herd has something they do not: the herd
// secret, else the CA certificate of its TLS links. A herd with neither (all on loopback, or
// --insecure-peers) takes it from its herd file. The store's cost does not rest on it: IDs aimed
// at one bucket only deepen the store's tree there (core/record_store.hpp).
HashKey Server::client_hash_key() const {
    std::string material = format_herd_file(options_.herd);
    if (!options_.secret.empty()) {
        material = options_.secret;
    } else if (options_.tls_files.complete()) {
        auto ca = read_text_file(options_.tls_files.ca);
        if (const std::string* text = std::get_if<std::string>(&ca)) material = *text;
    }
    const std::string mac = hmac_sha256_hex(material, "herd client-hash key 1");
    HERD_ASSERT(mac.size() == 64);
    return HashKey{*parse_hex64(mac.substr(0, 16)), *parse_hex64(mac.substr(16, 16))};
}

// The origins of the neighbours' addresses (host names resolved once, at start), whose TLS
// handshakes have slots of their own.
std::vector<std::uint64_t> Server::neighbour_origins() const {
    std::vector<std::uint64_t> out;
    for (const ServerName& n : options_.herd.neighbours_of(options_.self)) {
        for (const ServerSpec& s : options_.herd.servers) {
            if (!(s.name == n)) continue;
            boost::system::error_code ec;
            const auto address = asio::ip::make_address(s.host.empty() ? "127.0.0.1" : s.host, ec);
            if (!ec) {
                out.push_back(origin_of(address));
                continue;
            }
            tcp::resolver resolver(io_);
            for (const auto& r : resolver.resolve(s.host, "", ec))
                out.push_back(origin_of(r.endpoint().address()));
        }
    }
    return out;
}

NodeConfig Server::node_config() const {
    NodeConfig config;
    config.self = options_.herd.servers[static_cast<std::size_t>(options_.self)].name;
    config.neighbours = options_.herd.neighbours_of(options_.self);
    config.tie_break = options_.tie_break;
    config.secret = options_.secret;
    config.peers_need_secure_transport = tls_ != nullptr;
    config.incarnation = random64();
    config.seed = random64();
    config.client_hash_key = client_hash_key();
    config.neighbour_origins = neighbour_origins();
    config.limits = options_.limits;
    config.notify_applied = trace_.enabled() || !options_.data_dir.empty();
    return config;
}

std::string Server::banner(const NodeConfig& config) const {
    std::string peers;
    for (const ServerName& n : config.neighbours)
        peers += (peers.empty() ? "" : ", ") + n.str();
    return "herd serve " + name_ + ": listening on " + listening_on_ + "; peers " +
           (peers.empty() ? "none" : peers) + "; places " + options_.places.describe() +
           "; peers " +
           (tls_                      ? "under " + tls_->describe()
            : options_.insecure_peers ? std::string("UNAUTHENTICATED although the herd is not all "
                                                    "on loopback (--insecure-peers)")
                                      : std::string("unauthenticated (no herd secret; all on "
                                                    "loopback)")) +
           (admin_ ? "; admin on " + options_.admin : "") +
           (descriptor_note_.empty() ? "" : "; " + descriptor_note_);
}

void Server::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    timer_.cancel();
    held_retry_.cancel();
    if (admin_) admin_->stop();
    for (auto& [id, c] : conns_) {
        c->open = false;
        c->socket.close(ec);
    }
    conns_.clear();
    places_.stop();
    if (data_ && !data_->flush()) {
        // Records it stored (acknowledged, under batch and off) that never reached the folder:
        // said loudly, and the exit status says it too.
        unwritten_ = data_->appended_seq() - data_->durable_seq();
        const std::string what = "data " + options_.data_dir + ": " + std::to_string(unwritten_) +
                                 " stored records could not be written before the stop (the "
                                 "folder cannot take writes); they are lost unless a neighbour "
                                 "has them";
        log_.event(what);
        std::cerr << "herd serve " << name_ << ": " << what << "\n";
    }
    log_.event("herd serve " + name_ + ": stopped");
    log_.flush();
    trace_.flush();
}

void Server::reopen_logs() {
    log_.reopen();
    trace_.reopen();
    log_.event("herd serve " + name_ + ": log reopened (SIGHUP)");
}

// Opens the data folder (locking it) and restores its records into the Node; a damaged folder
// refuses the start (exit 2) with the file and offset, and nothing in it changed.
std::optional<Error> Server::open_data() {
    if (options_.data_dir.empty()) return std::nullopt;
    StoreFile::Options o;
    o.sync = options_.fsync;
    o.compact_bytes = options_.compact_bytes;
    o.backlog_bytes_max = options_.data_backlog_bytes_max;
    o.server = name_;
    for (const ServerSpec& s : options_.herd.servers)
        o.herd += (o.herd.empty() ? "" : " ") + s.name.str();
    data_ = std::make_unique<StoreFile>(options_.data_dir, std::move(o));
    const std::size_t line_max = options_.limits.line_bytes_max;
    auto opened =
        data_->open([this, line_max](std::string_view line) -> std::optional<std::string> {
            if (node_->restore_record(line)) return std::nullopt;
            if (line.size() > line_max)
                return "a record of " + std::to_string(line.size()) +
                       " bytes, past the record size limit of " + std::to_string(line_max);
            return std::string("not an AT line");
        });
    if (const Error* e = error_of(opened)) return *e;
    const StoreFile::Opened& o2 = std::get<StoreFile::Opened>(opened);
    data_notes_ = o2.notes;
    for (std::string& note : data_notes_)
        note = "data " + options_.data_dir + ": " + note;
    data_notes_.push_back(
        "data " + options_.data_dir + ": " + std::to_string(o2.entries) + " entries read (" +
        std::to_string(o2.from_snapshot) + " from the snapshot), " +
        std::to_string(node_->store().size()) + " records restored" +
        (o2.bytes_cut > 0 ? ", a torn tail of " + std::to_string(o2.bytes_cut) + " bytes cut"
                          : ""));
    return std::nullopt;
}

std::shared_ptr<Server::Conn> Server::find(ConnectionId id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second;
}

int serve(ServerOptions options) {
    asio::io_context io;
    if (!options.log_dir.empty()) {
        if (auto e = Log::make_folder(options.log_dir)) {
            std::cerr << "herd serve: log folder: " << e->message << "\n";
            return 1;
        }
    }
    // Signals are caught from before the port is open, so a stop request is never lost.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::signal_set hangup(io, SIGHUP);
    Server server(io, std::move(options));
    if (auto e = server.start()) {
        std::cerr << "herd serve: " << e->message << "\n";
        return e->exit_status;
    }
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        hangup.cancel();
        server.stop();
        io.stop();
    });
    std::function<void()> wait_hangup = [&] {
        hangup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            server.reopen_logs();
            wait_hangup();
        });
    };
    wait_hangup();
    io.run();
    server.stop();
    const int status = server.unwritten() > 0 ? 1 : 0;
    // Stopping: a second SIGTERM (say from `herd up` after a terminal's Ctrl-C) must not turn a
    // clean exit into a death by signal while the destructors flush the logs, so from here on
    // they are blocked (and die with the process).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    return status;
}

}  // namespace herd::net
