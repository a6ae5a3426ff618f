// The admin port's /metrics page, in the Prometheus text format (version 0.0.4): what the Node
// counts, what the driver counts, and what the logs lost.
#include "netmode/server.hpp"

namespace herd::net {

namespace {

// Appends one metric family with its HELP and TYPE lines, and one sample per label set.
class MetricsText {
  public:
    MetricsText& family(const char* name, const char* type, const char* help) {
        name_ = name;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
        return *this;
    }
    MetricsText& sample(std::uint64_t value, const char* labels = nullptr) {
        out_ += name_;
        if (labels != nullptr) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        out_ += std::to_string(value);
        out_ += '\n';
        return *this;
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
    const char* name_ = "";
};

// What the Node counts about clients and its store.
void client_metrics(MetricsText& m, const Node& node) {
    const NodeStats& st = node.stats();
    m.family("herd_clients_closed_total", "counter", "Client connections closed by a limit.")
        .sample(st.clients_closed_line_timeout, "reason=\"line_timeout\"")
        .sample(st.clients_closed_idle, "reason=\"idle\"")
        .sample(st.clients_closed_write_timeout, "reason=\"write_timeout\"")
        .sample(st.clients_closed_output_cap, "reason=\"output_cap\"")
        .sample(st.clients_refused_peers_only, "reason=\"not_a_peer\"");
    m.family("herd_client_reads_paused_total", "counter",
             "Times reading from a client stopped because its output passed the high-water mark.")
        .sample(st.client_reads_paused);
    m.family("herd_iamat_refused_too_long_total", "counter",
             "IAMATs answered ? because their AT line would pass the record size limit.")
        .sample(st.iamats_refused_too_long);
    m.family("herd_iamat_refused_store_full_total", "counter",
             "IAMATs for new clients answered ? because the store passed its size limit.")
        .sample(st.iamats_refused_store_full);
    m.family("herd_store_line_bytes", "gauge",
             "Bytes of stored AT lines (the store's size limit counts these).")
        .sample(node.store().line_bytes());
    m.family("herd_places_pending", "gauge", "Places queries waiting for an answer.")
        .sample(node.places_pending());
    m.family("herd_places_refused_over_limit_total", "counter",
             "WHATSATs answered OVER_QUERY_LIMIT at once: too many queries in flight.")
        .sample(st.places_refused_over_limit);
    m.family("herd_timers", "gauge", "Timers armed in the Node (bounded by connections).")
        .sample(node.timers());
    m.family("herd_records_stored", "gauge", "Client records in the store.")
        .sample(node.store().size());
    m.family("herd_records_applied_total", "counter", "Store changes, from clients and peers.")
        .sample(st.records_applied);
}

// What the Node counts about peers and their handshakes.
void peer_metrics(MetricsText& m, const Node& node) {
    const NodeStats& st = node.stats();
    m.family("herd_peer_lines_total", "counter", "Peer protocol lines after the handshake.")
        .sample(st.peer_lines_received, "direction=\"in\"")
        .sample(st.peer_lines_sent, "direction=\"out\"");
    m.family("herd_peer_lines_rejected_total", "counter",
             "Peer lines skipped as malformed, unknown or too long.")
        .sample(st.peer_lines_rejected);
    m.family("herd_sync_records_sent_total", "counter", "Records sent by anti-entropy.")
        .sample(st.sync_records_sent);
    m.family("herd_handshakes_refused_total", "counter",
             "HELLOs answered REFUSED (any reason, the per-origin limits included).")
        .sample(st.handshakes_refused);
    m.family("herd_handshake_limits_total", "counter",
             "Peer or TLS handshakes refused by a limit, by reason.")
        .sample(st.origin_refused_pending, "reason=\"too_many_handshakes\"")
        .sample(st.origin_refused_blocked, "reason=\"too_many_failures\"")
        .sample(st.origin_refused_full, "reason=\"too_many_origins\"")
        .sample(st.transport_refused_busy, "reason=\"too_many_tls_handshakes\"");
    m.family("herd_tls_handshakes_timed_out_total", "counter",
             "TLS handshakes of accepted connections closed at the 3 s deadline.")
        .sample(st.transport_handshakes_timed_out);
    m.family("herd_tls_handshakes_failed_total", "counter",
             "TLS handshakes of accepted connections that failed: a wrong key or certificate, "
             "garbage, or a remote end that hung up.")
        .sample(st.transport_handshakes_failed);
    m.family("herd_peer_links_closed_total", "counter", "Peer links closed by a limit.")
        .sample(st.links_closed_silent, "reason=\"silent\"")
        .sample(st.links_closed_overflow, "reason=\"output_overflow\"");
}

void data_metrics(MetricsText& m, const StoreFile& data) {
    m.family("herd_data_log_bytes", "gauge", "Bytes in the data folder's log since compaction.")
        .sample(data.log_bytes());
    m.family("herd_data_entries_written_total", "counter", "Records written to the data log.")
        .sample(data.entries_written());
    m.family("herd_data_write_failures_total", "counter",
             "Failed writes or syncs of the data log (retried).")
        .sample(data.write_failures());
    m.family("herd_data_entries_dropped_total", "counter",
             "Entries dropped after failed writes past the retry bound (the next snapshot "
             "writes them).")
        .sample(data.entries_dropped());
    m.family("herd_data_snapshots_total", "counter", "Snapshots written by compaction.")
        .sample(data.snapshots_written());
}

}  // namespace

std::string Server::metrics() const {
    MetricsText m;
    const std::string build =
        "version=\"" + options_.version + "\",commit=\"" + options_.commit + "\"";
    m.family("herd_build_info", "gauge", "The binary's version and git commit (always 1).")
        .sample(1, build.c_str());
    m.family("herd_connections", "gauge", "Open connections by kind.")
        .sample(clients_, "kind=\"client\"")
        .sample(reserve_used_, "kind=\"reserve\"")
        .sample(node_->linked_peers().size(), "kind=\"peer\"");
    m.family("herd_connections_accepted_total", "counter", "Connections accepted.")
        .sample(counters_.accepted);
    m.family("herd_connections_refused_total", "counter",
             "Connections refused at accept, by the cap they hit.")
        .sample(counters_.refused_cap, "cap=\"all\"")
        .sample(counters_.refused_per_ip, "cap=\"per_address\"");
    m.family("herd_connections_reserve_admitted_total", "counter",
             "Connections over a cap admitted to the peers' reserve.")
        .sample(counters_.admitted_reserve);
    client_metrics(m, *node_);
    peer_metrics(m, *node_);
    if (data_) data_metrics(m, *data_);
    m.family("herd_bytes_total", "counter", "Bytes read from and written to sockets.")
        .sample(counters_.bytes_read, "direction=\"in\"")
        .sample(counters_.bytes_written, "direction=\"out\"");
    m.family("herd_log_lines_lost_total", "counter",
             "Log lines lost to a full buffer or a failing disk.")
        .sample(log_.lines_lost());
    m.family("herd_log_write_failures_total", "counter", "Failed log writes, opens and rotations.")
        .sample(log_.write_failures());
    return m.take();
}

}  // namespace herd::net
