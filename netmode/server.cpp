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

namespace {

std::string log_path(const ServerOptions& o) {
    if (o.log_dir.empty()) return {};
    return o.log_dir + "/" + o.herd.servers[static_cast<std::size_t>(o.self)].name.str() + ".log";
}

// One read takes at most this much; the Node keeps what a paused connection had in hand, so this
// also bounds what a client can push past its high-water mark.
constexpr std::size_t read_bytes_max = 64 << 10;
// A TLS connection's reads: one record's worth.
constexpr std::size_t tls_read_bytes = 16 << 10;
// A REFUSED line, the one write the Node makes past its output bounds.
constexpr std::size_t refused_line_bytes_max = 256;

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
      log_(log_path(options_),
           LogOptions{options_.log_bytes_max, options_.log_keep, 64u << 20, true}),
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
    log_.write(banner(config) + "; incarnation " + hex64(config.incarnation) + "; herd " +
               options_.version + " (commit " + options_.commit + ")");
    for (const std::string& note : data_notes_)
        log_.write(note);
    places_.on_event([this](const std::string& line) { log_.write(line); });
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

// The origin the Node's per-origin limits count a connection by: its source address.
static std::uint64_t origin_of(const asio::ip::address& address) {
    return fnv1a64(address.to_string()) | 1;
}

// The origins of the neighbours' addresses (host names resolved once, at start), whose TLS
// handshakes have slots of their own.
// Compares two secrets in time that does not depend on where they differ.
static bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

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
    config.notify_lines = options_.log_lines && log_.enabled();
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
        log_.write(what);
        std::cerr << "herd serve " << name_ << ": " << what << "\n";
    }
    log_.write("herd serve " + name_ + ": stopped");
    log_.flush();
    trace_.flush();
}

void Server::reopen_logs() {
    log_.reopen();
    trace_.reopen();
    log_.write("herd serve " + name_ + ": log reopened (SIGHUP)");
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

// ---------------------------------------------------------------- connections

void Server::do_accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopped_) return;
        if (!ec) on_accepted(std::move(socket));
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
            // Out of file descriptors: wait a little rather than spin on the error.
            log_.write(std::string("accept failed: ") + ec.message());
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
        log_.write("refused connection from " + from + ": " + refusal);
        socket.close(ec);
        return;
    }
    counters_.accepted += 1;
    const ConnectionId id = next_id_++;
    log_.write("conn " + std::to_string(id) + " accepted from " + from +
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
    node_->handle_bytes(c->id, std::string_view(data, n), now());
    pump();
    do_read(c);  // unless the Node paused it, or closed it
}

void Server::on_eof(const std::shared_ptr<Conn>& c) {
    c->eof = true;
    log_.write("conn " + std::to_string(c->id) + " end of input");
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
        log_.write("conn " + std::to_string(c->id) + " TLS up" +
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
        log_.write("conn " + std::to_string(c->id) + " closed: " + std::string(reason));
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
    log_.write("dial " + d->peer.str() + " failed: " + why);
    node_->handle_dial_failed(d->peer, now());
    pump();
}

void Server::dial_done(const std::shared_ptr<Dialing>& d, std::shared_ptr<Conn> c,
                       const std::string& identity) {
    d->done = true;
    d->deadline.cancel();
    d->conn.reset();
    log_.write("conn " + std::to_string(c->id) + " dialed " + d->peer.str() +
               (c->tls ? " (TLS)" : ""));
    node_->handle_dialed(c->id, d->peer, now(), identity);
    pump();
    do_read(c);
}

// ---------------------------------------------------------------- the drain loop

void Server::pump() {
    if (pumping_ || stopped_) return;
    HERD_ASSERT(node_ != nullptr);
    pumping_ = true;
    drain(*node_, [this](auto&& action) { act(action); });
    if (data_) commit();
    compact_if_due();
    give_back_memory();
    pumping_ = false;
    arm_timer();
}

// Once clients' buffers that held many megabytes are gone (an attack of unfinished lines that
// ended), the allocator is asked to hand the free memory back rather than keep it: each time
// trim_after_bytes of them have gone since the last time, and when they are down to almost
// nothing after a peak of that much (what is still held pins the pages around it).
void Server::give_back_memory() {
    const std::size_t now_bytes = node_->buffered_bytes() + node_->output_bytes();
    buffered_peak_ = std::max(buffered_peak_, now_bytes);
    buffered_high_ = std::max(buffered_high_, now_bytes);
    constexpr std::size_t trim_after_bytes = std::size_t{16} << 20;
    constexpr std::size_t almost_nothing_bytes = std::size_t{1} << 20;
    const bool gone = buffered_peak_ - now_bytes >= trim_after_bytes;
    const bool emptied = buffered_high_ >= trim_after_bytes && now_bytes <= almost_nothing_bytes;
    if (!gone && !emptied) return;
    buffered_peak_ = now_bytes;
    if (emptied) buffered_high_ = now_bytes;
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
}

// Under --fsync always, what the drain stored is written and synced in one group, and the
// acknowledgements it covers leave; while the folder cannot take it (a full disk) they wait,
// and only they (and what follows them on their connection). In every mode, a backlog past its
// bound makes the Node answer IAMATs `?` until the folder takes writes again.
void Server::commit() {
    if (options_.fsync == StoreFile::Sync::always) {
        // (Only here: under batch the writer thread may hold the folder's lock through an
        // fdatasync, and nothing waits for durability.)
        data_->flush();
        durable_seen_ = data_->durable_seq();
        release_gated();
    }
    const bool refuse = !data_->accepting();
    if (refuse != refusing_) {
        refusing_ = refuse;
        node_->handle_storage(!refuse);
        const std::string why = data_->failing()
                                    ? std::string("the folder cannot take writes")
                                    : "a backlog of " + std::to_string(data_->backlog_bytes()) +
                                          " bytes has passed --data-backlog-mb";
        log_.write("data " + options_.data_dir + ": " +
                   (refuse ? why + ": IAMATs are answered `?` until it takes writes again"
                           : std::string("writes go through: IAMATs are taken again")));
    }
    if (!gated_conns_.empty() || refusing_) retry_held();
}

void Server::release_gated() {
    std::size_t kept = 0;
    for (auto& c : gated_conns_) {
        bool moved = false;
        while (!c->gated.empty() && c->gated.front().first <= durable_seen_) {
            c->out.push_back(std::move(c->gated.front().second));
            c->gated.pop_front();
            moved = true;
        }
        if (moved) do_write(c);
        if (c->open && !c->gated.empty()) gated_conns_[kept++] = c;
    }
    gated_conns_.resize(kept);
    const bool holding = !gated_conns_.empty() && data_->failing();
    if (holding == holding_) return;
    holding_ = holding;
    log_.write("data " + options_.data_dir +
               (holding ? ": cannot write; acknowledgements held until it can (--fsync always)"
                        : ": writing again; held acknowledgements released"));
}

void Server::retry_held() {
    if (retry_armed_) return;
    retry_armed_ = true;
    held_retry_.expires_after(std::chrono::milliseconds(100));
    held_retry_.async_wait([this](const boost::system::error_code& ec) {
        retry_armed_ = false;
        if (ec || stopped_) return;
        commit();
        compact_if_due();
    });
}

void Server::compact_if_due() {
    if (!data_ || !data_->wants_snapshot()) return;
    const RecordStore& store = node_->store();
    std::string entries;
    entries.reserve(store.line_bytes() + store.size() * 18);
    store.for_each([&entries](const Record& r) { data::append_entry(entries, r.at_line()); });
    log_.write("data " + options_.data_dir + ": compacting " + std::to_string(data_->log_bytes()) +
               " bytes of log into a snapshot of " + std::to_string(store.size()) + " records");
    data_->snapshot(std::move(entries));
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

// One overload per action; pump() hands each action to the one that takes it.
void Server::act(Reply& a) {
    // Under --fsync always an acknowledgement waits until every record stored so far is durable.
    const bool gate = a.acknowledges && data_ && options_.fsync == StoreFile::Sync::always;
    on_send(a.conn, std::make_shared<const std::string>(std::move(a.bytes)),
            gate ? last_appended_ : 0);
}

void Server::act(SendToPeer& a) {
    on_send(a.conn, std::move(a.bytes));
}

void Server::act(Dial& a) {
    dial(a.peer);
}

void Server::act(QueryPlaces& a) {
    const QueryId id = a.id;
    places_.query(a.query, [this, id](PlacesResult result) {
        if (stopped_) return;
        node_->handle_places_reply(id, std::move(result), now());
        pump();
    });
}

void Server::act(PeerDown& a) {
    log_.write("peer " + a.peer.str() + " down on conn " + std::to_string(a.conn) + ": " +
               a.reason);
}

void Server::act(PeerLineRejected& a) {
    log_.write("peer " + a.peer.str() + " on conn " + std::to_string(a.conn) + ": line skipped (" +
               a.reason + "), " + std::to_string(a.count) + " so far on this link");
}

void Server::act(LinesRead& a) {
    const std::string_view skip = options_.log_heartbeats ? std::string_view{} : "PING";
    log_.write_lines("conn " + std::to_string(a.conn) + " < ", a.lines, skip);
}

void Server::act(PauseReading& a) {
    if (auto c = find(a.conn)) c->paused = true;
}

void Server::act(ResumeReading& a) {
    if (auto c = find(a.conn)) {
        c->paused = false;
        do_read(c);
    }
}

void Server::on_send(ConnectionId id, SharedBytes bytes, std::uint64_t durable_needed) {
    auto c = find(id);
    if (!c) return;
    if (options_.log_lines) {
        const bool heartbeat = !options_.log_heartbeats && *bytes == "PING\n";
        if (!heartbeat) log_.write_lines("conn " + std::to_string(c->id) + " > ", *bytes);
    }
    c->out_bytes += bytes->size();
    // The Node closes a connection before its queue passes these bounds.
    HERD_ASSERT(c->out_bytes <= std::max(options_.limits.client_output_bytes_max,
                                         options_.limits.peer_output_bytes_max) +
                                    refused_line_bytes_max);
    if (durable_needed > durable_seen_ || !c->gated.empty()) {
        if (c->gated.empty()) gated_conns_.push_back(c);
        c->gated.emplace_back(durable_needed, std::move(bytes));
        return;
    }
    c->out.push_back(std::move(bytes));
    do_write(c);
}

void Server::act(Close& close) {
    auto c = find(close.conn);
    if (!c) return;
    log_.write("conn " + std::to_string(c->id) + " closed: " + close.reason);
    if (close.mode == CloseMode::now || (c->out.empty() && !c->writing)) {
        boost::system::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        close_now(c, {});
    } else {
        c->close_after_flush = true;
        c->paused = true;  // nothing more is read from it
        arm_flush_deadline(c);
    }
}

// The Node has forgotten a connection closed after its output is flushed, so its write timeout
// is kept here: a client that takes nothing more is closed all the same.
void Server::arm_flush_deadline(const std::shared_ptr<Conn>& c) {
    const Duration timeout = options_.limits.client_write_timeout;
    if (timeout.ns == 0) return;
    c->flush_deadline = std::make_unique<asio::steady_timer>(io_);
    c->flush_deadline->expires_after(std::chrono::nanoseconds(timeout.ns));
    c->flush_deadline->async_wait([this, c](const boost::system::error_code& ec) {
        if (ec || !c->open || stopped_) return;
        if (c->out_bytes_at_deadline == c->out_bytes) {
            close_now(c, "write timeout while closing");
            return;
        }
        c->out_bytes_at_deadline = c->out_bytes;  // it took some: wait another period
        arm_flush_deadline(c);
    });
    c->out_bytes_at_deadline = c->out_bytes;
}

void Server::act(PeerUp& up) {
    log_.write("peer " + up.peer.str() + " up on conn " + std::to_string(up.conn));
    // An established peer link counts against no client cap, and leaves the reserve.
    if (auto c = find(up.conn)) release_seat(*c);
}

void Server::act(RecordApplied& applied) {
    // Before the AT reply that follows it among the actions: under --fsync always the record is
    // on disk before its client hears of it.
    if (data_) last_appended_ = data_->append(applied.at_line);
    if (!trace_.enabled()) return;
    const Now t = now();
    std::string line = "{\"ev\":\"apply\",\"server\":\"";
    append_json_escaped(line, name_);
    line += "\",\"origin\":\"";
    append_json_escaped(line, applied.origin);
    line += "\",\"client\":\"";
    append_json_escaped(line, applied.client);
    line += "\",\"client_time\":\"" + format_timestamp(applied.time) + "\",\"record\":\"";
    append_json_escaped(line, applied.at_line);
    line += "\",\"via\":\"";
    append_json_escaped(line, applied.via);
    // steady_ns is CLOCK_MONOTONIC itself: comparable between processes on one host.
    const auto steady = std::chrono::steady_clock::now().time_since_epoch();
    line += "\",\"mono_ns\":" + std::to_string(t.mono.ns) + ",\"steady_ns\":" +
            std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(steady).count()) +
            ",\"wall_ns\":" + std::to_string(t.wall.seconds * nanos_per_second + t.wall.nanos) +
            "}";
    trace_.write(line);
}

std::optional<TraceRecord> parse_trace_record(const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.c_str(), line.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("steady_ns") ||
        !d["steady_ns"].IsInt64())
        return std::nullopt;
    auto text = [&](const char* key) {
        return d.HasMember(key) && d[key].IsString()
                   ? bytes_of_json_string({d[key].GetString(), d[key].GetStringLength()})
                   : std::string();
    };
    TraceRecord r{text("server"),      text("origin"),
                  text("client"),      text("record"),
                  text("via"),         {},
                  text("client_time"), d["steady_ns"].GetInt64()};
    const auto time = parse_client_time(r.client_time_text);
    if (!time || r.record.empty()) return std::nullopt;
    r.client_time = *time;
    return r;
}

// ---------------------------------------------------------------- admin port

bool Server::ready() const {
    // Listening, and linked to at least one neighbour when it has any.
    return !stopped_ && node_ &&
           (node_->config().neighbours.empty() || !node_->linked_peers().empty());
}

HttpAnswer Server::admin_answer(const HttpRequest& request) {
    const std::string_view path = request.path;
    if (path == "/metrics")
        return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", metrics(), {}};
    if (path == "/healthz") return HttpAnswer{200, "text/plain; charset=utf-8", "ok\n", {}};
    if (path == "/readyz") {
        if (ready()) return HttpAnswer{200, "text/plain; charset=utf-8", "ready\n", {}};
        return HttpAnswer{503, "text/plain; charset=utf-8", "not ready: no peer link up\n", {}};
    }
    if (path == "/store") {
        // Every client's position: only for whoever holds the admin token.
        if (options_.admin_token.empty())
            return HttpAnswer{404,
                              "text/plain; charset=utf-8",
                              "/store is off: start the server with --admin-token-file\n",
                              {}};
        if (!same_secret(request.bearer, options_.admin_token))
            return HttpAnswer{401,
                              "text/plain; charset=utf-8",
                              "/store needs `Authorization: Bearer <the admin token>`\n",
                              {}};
        return store_stream();
    }
    return HttpAnswer{404, "text/plain; charset=utf-8", "not found; try /metrics\n", {}};
}

HttpAnswer Server::store_stream() {
    // Every record as its AT line, in the order first stored: what `herd replay` checks
    // expectations against, and a way to look into one server's view by hand. Read-only;
    // written a piece at a time, so neither memory nor the server's turn is held for the store.
    HttpAnswer a{200, "text/plain; charset=utf-8", {}, {}};
    a.more = [this, next = std::size_t{0}](std::string& out) mutable {
        constexpr std::size_t piece_bytes = 64 << 10;
        const RecordStore& store = node_->store();
        while (next < store.size() && out.size() < piece_bytes) {
            out += store.at(next++).at_line();
            out += '\n';
        }
        return next < store.size();
    };
    return a;
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
