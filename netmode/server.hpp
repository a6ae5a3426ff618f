// Server: one herd server on Boost.Asio, driving one core Node.
//
// One io_context, one thread (like the original event loop): an acceptor for clients and peers
// on one port, a read loop and a bounded write queue per connection, outgoing dials with a
// timeout, one timer re-armed to Node::poll_timeout(), the Places service, and an optional
// admin HTTP port. Every core action is carried out by pump(), the shared drain loop.
//
// Memory per idle connection is kept small: reads wait for readiness and then read into one
// buffer shared by all connections, so a connection holds no read buffer of its own.
//
// Admission (the Node decides the rest): client connections are capped per source address and
// in all; one over a cap is still admitted into a small reserve for peers (Admission::
// peers_only), where it is closed unless it opens with a peer handshake, so links come back
// while clients fill the server. Established peer links count against neither cap.
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
#include <set>
#include <string>

#include "core/herd_file.hpp"
#include "core/node.hpp"
#include "netmode/admin.hpp"
#include "netmode/event_log.hpp"
#include "netmode/log.hpp"
#include "netmode/peer_tls.hpp"
#include "netmode/places.hpp"
#include "netmode/store_file.hpp"

namespace herd::net {

class AdminServer;

// What the driver itself counts (the Node counts the rest).
struct ServerCounters {
    std::uint64_t accepted = 0;
    std::uint64_t refused_cap = 0;       // over the client cap, reserve full
    std::uint64_t refused_per_ip = 0;    // over the per-address share, reserve full
    std::uint64_t shed = 0;              // closed to make room for an address under its share
    std::uint64_t admitted_reserve = 0;  // over a cap, admitted for a peer handshake
    std::uint64_t closed_by_remote = 0;  // EOF then done, or reset
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_written = 0;
};

// One line of a server's record trace (`--trace`): a record applied, where and when. Written
// by the server, read back by `herd replay` and `herd bench propagation`.
struct TraceRecord {
    std::string server, origin, client, record, via;  // via: empty when a client sent it
    Timestamp client_time;
    std::string client_time_text;
    std::int64_t steady_ns = 0;  // CLOCK_MONOTONIC: comparable between processes on one host
};
std::optional<TraceRecord> parse_trace_record(const std::string& line);

struct ServerOptions {
    HerdSpec herd;
    int self = 0;  // index into herd.servers
    std::string secret;
    TlsFiles tls_files;           // this server's certificate files (complete, or none)
    bool insecure_peers = false;  // no secret although the herd is not all on loopback
    PlacesConfig places;
    std::string log_dir;  // empty: no log file
    std::size_t log_bytes_max = 64u << 20;
    std::size_t log_keep = 5;     // rotated log files kept
    bool log_lines = true;        // every input and output line; off: connections and peers only
    bool log_heartbeats = false;  // PING lines too
    std::string trace_path;       // JSON lines of applied records; empty: none
    std::size_t connections_max = 10000;  // client connections in all
    std::size_t conns_per_ip_max = 256;   // client connections from one address
    std::string admin;                    // ADDR:PORT of the admin HTTP port; empty: none
    std::string admin_token;              // what /store asks for; empty: /store is off
    std::string version = "unknown";      // of the binary, for the log and herd_build_info
    std::string commit = "unknown";
    std::string data_dir;  // where stored records are kept across restarts; empty: none
    StoreFile::Sync fsync = StoreFile::Sync::batch;
    // Records waiting to be written past which IAMATs are refused (--data-backlog-mb).
    std::size_t data_backlog_bytes_max = StoreFile::backlog_bytes_max_default;
    std::uint64_t compact_bytes = std::uint64_t{64} << 20;  // the data log's size that compacts
    std::chrono::milliseconds dial_timeout{2000};
    NodeLimits limits;
    TieBreak tie_break = TieBreak::first;
};

class Server {
  public:
    // However many addresses compete, each may hold this many client connections.
    static constexpr std::size_t conns_per_ip_min = 4;

    Server(boost::asio::io_context& io, ServerOptions options);
    ~Server();

    // Opens its log, trace and admin port and binds; the reason if any of them cannot be.
    std::optional<Error> start();
    // Stops accepting, closes every connection and the Places service.
    void stop();
    // SIGHUP: the log and trace files are closed and opened again.
    void reopen_logs();
    std::uint16_t port() const { return port_; }
    // Stored records the data folder could not take before the stop (0: none, or no folder).
    std::uint64_t unwritten() const { return unwritten_; }

  private:
    struct Conn;
    struct Dialing;
    enum class Seat { none, client, reserve };  // what an accepted connection occupies

    void do_accept();
    void on_accepted(boost::asio::ip::tcp::socket socket);
    std::optional<Error> listen();
    // False when the open-file limit leaves no room for a single client.
    bool fit_descriptor_budget();
    NodeConfig node_config() const;
    HashKey client_hash_key() const;
    std::vector<std::uint64_t> neighbour_origins() const;
    std::string banner(const NodeConfig& config) const;
    std::optional<Error> open_data();
    std::optional<Admission> admit(const boost::asio::ip::address& from, Seat* seat,
                                   std::string* refusal);
    std::size_t address_share(bool new_address) const;
    bool shed_for(const boost::asio::ip::address& from);
    void take_seat(Conn& c, Seat seat);
    void release_seat(Conn& c);
    void lost(const std::shared_ptr<Conn>& c, const std::string& why);
    std::shared_ptr<Conn> start_conn(ConnectionId id, boost::asio::ip::tcp::socket socket,
                                     const std::string& label, bool read = true);
    void do_read(const std::shared_ptr<Conn>& c);
    void on_readable(const std::shared_ptr<Conn>& c);
    // An accepted connection's first byte, peeked: true when it opened a TLS handshake (which
    // then takes the connection over), false to read it as plain text.
    bool sniff_tls(const std::shared_ptr<Conn>& c);
    void accept_tls(const std::shared_ptr<Conn>& c);
    void on_tls_accepted(const std::shared_ptr<Conn>& c, const boost::system::error_code& ec);
    void read_tls(const std::shared_ptr<Conn>& c);
    void log_read(Conn& c, std::string_view bytes);
    void on_bytes(const std::shared_ptr<Conn>& c, std::size_t n, const char* data);
    void on_eof(const std::shared_ptr<Conn>& c);
    void do_write(const std::shared_ptr<Conn>& c);
    void on_written(const std::shared_ptr<Conn>& c, const boost::system::error_code& ec,
                    std::size_t n);
    void consume_output(Conn& c, std::size_t n);
    void arm_flush_deadline(const std::shared_ptr<Conn>& c);
    void close_now(const std::shared_ptr<Conn>& c, std::string_view reason);
    void dial(const ServerName& peer);
    void on_dial_connected(const std::shared_ptr<Dialing>& d);
    void dial_failed(const std::shared_ptr<Dialing>& d, const std::string& why);
    void dial_done(const std::shared_ptr<Dialing>& d, std::shared_ptr<Conn> c,
                   const std::string& identity = {});
    void pump();
    // The whole store to the data folder's snapshot, when it wants one.
    void compact_if_due();
    // After each drain: the data folder's group commit, acknowledgements released as their
    // records become durable (retried while it cannot write), and the Node told when the
    // folder's backlog passes its bound.
    void commit();
    void release_gated();
    void give_back_memory();
    void retry_held();
    void arm_timer();
    // Carrying out the Node's actions, one overload each.
    void act(Reply& a);
    void act(SendToPeer& a);
    void act(Dial& a);
    void act(QueryPlaces& a);
    void act(Close& a);
    void act(RecordApplied& a);
    void act(PeerUp& a);
    void act(PeerDown& a);
    void act(PeerLineRejected& a);
    void act(PauseReading& a);
    void act(ResumeReading& a);
    void on_send(ConnectionId id, SharedBytes bytes, std::uint64_t durable_needed = 0);
    std::shared_ptr<Conn> find(ConnectionId id);
    std::string metrics() const;
    bool ready() const;
    HttpAnswer admin_answer(const HttpRequest& request);
    HttpAnswer store_stream();

    boost::asio::io_context& io_;
    ServerOptions options_;
    std::string name_;
    EventLog log_;
    Log trace_;
    std::string trace_pending_;  // lines of this drain, written when it ends
    PlacesService places_;
    std::unique_ptr<Node> node_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer timer_;
    std::optional<Instant> timer_at_;
    std::map<ConnectionId, std::shared_ptr<Conn>> conns_;
    // Reads land here, for whichever connection is readable (one thread, so one buffer).
    std::vector<char> read_buffer_;
    // Admission: client connections per source address and in all, and the peers' reserve.
    std::map<boost::asio::ip::address, std::set<ConnectionId>> clients_per_ip_;
    std::size_t clients_ = 0;
    std::size_t reserve_used_ = 0;
    std::size_t reserve_max_ = 0;
    ServerCounters counters_;
    std::unique_ptr<AdminServer> admin_;
    std::unique_ptr<StoreFile> data_;
    std::unique_ptr<PeerTls> tls_;         // peer links under TLS; null: plain text
    std::vector<std::string> data_notes_;  // what the data folder's start found, for the log
    std::uint64_t last_appended_ = 0;      // the data folder's sequence number of the last record
    std::uint64_t durable_seen_ = 0;       // every record up to it is durable
    std::vector<std::shared_ptr<Conn>> gated_conns_;  // connections with output waiting for it
    bool holding_ = false;                            // acknowledgements wait on a failing folder
    bool refusing_ = false;                           // the folder's backlog is past its bound
    bool retry_armed_ = false;
    std::uint64_t unwritten_ = 0;
    std::size_t buffered_peak_ = 0;  // the Node's buffered bytes at most since the last trim
    std::size_t buffered_high_ = 0;  // ... since the last trim once they were almost gone
    boost::asio::steady_timer held_retry_{io_};
    boost::asio::steady_timer accept_pause_{io_};
    std::string listening_on_;
    std::string descriptor_note_;  // set when the connection cap had to be lowered
    ConnectionId next_id_ = 1;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
    bool pumping_ = false;
};

// Runs `herd serve`: a Server on its own io_context until SIGINT or SIGTERM. Returns the exit
// status.
int serve(ServerOptions options);

}  // namespace herd::net
