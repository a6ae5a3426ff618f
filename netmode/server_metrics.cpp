// The admin port's /metrics page, in the Prometheus text format (version 0.0.4): what the Node
// counts, what the driver counts, and what the logs lost.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

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
    MetricsText& sample_double(double value) {
        char text[64];
        std::snprintf(text, sizeof text, "%.6f", value);
        out_ += name_;
        out_ += ' ';
        out_ += text;
        out_ += '\n';
        return *this;
    }
    // A histogram: `counts` per bucket of `bounds` (not cumulative) and one above the last.
    template <std::size_t N>
    MetricsText& histogram(const double (&bounds)[N],
                           const std::array<std::uint64_t, N + 1>& counts, double sum) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= N; ++i) {
            cumulative += counts[i];
            char le[32];
            if (i < N)
                std::snprintf(le, sizeof le, "%g", bounds[i]);
            else
                std::snprintf(le, sizeof le, "+Inf");
            out_ += std::string(name_) + "_bucket{le=\"" + le + "\"} " +
                    std::to_string(cumulative) + "\n";
        }
        char total[64];
        std::snprintf(total, sizeof total, "%.9f", sum);
        out_ += std::string(name_) + "_sum " + total + "\n";
        out_ += std::string(name_) + "_count " + std::to_string(cumulative) + "\n";
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
    m.family("herd_client_lines_total", "counter",
             "Client lines taken, by verb (invalid: answered with ?).")
        .sample(st.client_iamats, "verb=\"IAMAT\"")
        .sample(st.client_whatsats, "verb=\"WHATSAT\"")
        .sample(st.client_lines_invalid, "verb=\"invalid\"");
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
    m.family("herd_places_answers_malformed_total", "counter",
             "Places answers that were no JSON object nested at most 64 deep (the client got "
             "UNKNOWN_ERROR).")
        .sample(st.places_answers_malformed);
    m.family("herd_iamat_refused_storage_total", "counter",
             "IAMATs answered ? because the data folder's backlog passed --data-backlog-mb.")
        .sample(st.iamats_refused_storage);
    m.family("herd_store_line_bytes", "gauge", "Bytes of stored AT lines.")
        .sample(node.store().line_bytes());
    m.family("herd_store_probes_total", "counter",
             "Table slots the store looked at to find and place records (what client IDs chosen "
             "to collide would inflate; about 1.6 per operation).")
        .sample(node.store().probes());
    m.family("herd_store_bytes", "gauge",
             "What the store occupies: records, index and digests (the store's size limit "
             "counts these).")
        .sample(node.store().memory_bytes());
    m.family("herd_places_pending", "gauge", "Places queries waiting for an answer.")
        .sample(node.places_pending());
    m.family("herd_places_refused_over_limit_total", "counter",
             "WHATSATs answered OVER_QUERY_LIMIT at once: too many queries in flight.")
        .sample(st.places_refused_over_limit);
    m.family("herd_places_refused_over_share_total", "counter",
             "WHATSATs answered OVER_QUERY_LIMIT at once because their source address had its "
             "share of Places queries in flight.")
        .sample(st.places_refused_over_share);
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
    m.family("herd_peer_records_received_total", "counter",
             "AT lines from peers (floods and anti-entropy), by what they did to the store.")
        .sample(st.peer_records_received - st.peer_records_duplicate, "result=\"applied\"")
        .sample(st.peer_records_duplicate, "result=\"duplicate\"");
    m.family("herd_records_flooded_total", "counter",
             "Records sent to neighbours as floods (anti-entropy not counted).")
        .sample(st.peer_records_sent - st.sync_records_sent);
    m.family("herd_peer_link_changes_total", "counter", "Peer links that came up or went down.")
        .sample(st.links_established, "change=\"up\"")
        .sample(st.links_lost, "change=\"down\"");
    m.family("herd_peer_bytes_sent_total", "counter",
             "Bytes of peer protocol lines sent after the handshake (floods, anti-entropy, pings).")
        .sample(st.peer_bytes_sent);
    m.family("herd_peer_writes_total", "counter",
             "Peer messages handed to the network, one write each (a line, a batch of flooded "
             "records, a digest, a handshake line).")
        .sample(st.peer_writes);
    m.family("herd_sync_bytes_sent_total", "counter",
             "Anti-entropy bytes sent: digests and the records they asked for.")
        .sample(st.sync_bytes_sent);
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

void places_metrics(MetricsText& m, const PlacesStats& st) {
    m.family("herd_places_queries_total", "counter",
             "WHATSAT queries for Places, by how they were answered.")
        .sample(st.cache_hits, "answered=\"cache\"")
        .sample(st.merged, "answered=\"request_in_flight\"")
        .sample(st.requests, "answered=\"request\"")
        .sample(st.refused, "answered=\"refused\"")
        .sample(st.queries - st.cache_hits - st.merged - st.requests - st.refused,
                "answered=\"offline\"");
    m.family("herd_places_requests_total", "counter",
             "Requests to the Places provider, by the status of the answer.");
    for (const auto& [status, count] : st.outcomes)
        m.sample(count, ("status=\"" + status + "\"").c_str());
    m.family("herd_places_request_duration_seconds", "histogram",
             "Time from a request to the Places provider to its answer.")
        .histogram(places_latency_bounds, st.latency_buckets, st.latency_seconds_sum);
}

// When the process started (read once, as the program loads).
const std::chrono::system_clock::time_point process_started = std::chrono::system_clock::now();

// The process_* family every Prometheus client library exports, so the usual dashboards and
// alerts work: CPU, memory, descriptors, start time.
void process_metrics(MetricsText& m) {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    m.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.")
        .sample_double(cpu);
    std::uint64_t pages_virtual = 0;
    std::uint64_t pages_resident = 0;
    if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(statm, "%lu %lu", &pages_virtual, &pages_resident) != 2)
            pages_virtual = pages_resident = 0;
        std::fclose(statm);
    }
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    m.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        .sample(pages_resident * page);
    m.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
        .sample(pages_virtual * page);
    std::error_code ec;
    std::uint64_t fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++fds;
    m.family("process_open_fds", "gauge", "Number of open file descriptors.").sample(fds);
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    m.family("process_max_fds", "gauge", "Maximum number of open file descriptors.")
        .sample(limit.rlim_cur);
    m.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.")
        .sample(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::seconds>(process_started.time_since_epoch())
                .count()));
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
             "Records from peers not queued because the backlog was past its bound (the next "
             "snapshot writes them).")
        .sample(data.entries_dropped());
    m.family("herd_data_backlog_bytes", "gauge",
             "Entries waiting to be written and synced to the data folder.")
        .sample(data.backlog_bytes());
    m.family("herd_data_writable", "gauge",
             "1 while the data folder takes writes, 0 while they fail (a full disk).")
        .sample(data.failing() ? 0 : 1);
    m.family("herd_data_snapshots_total", "counter", "Snapshots written by compaction.")
        .sample(data.snapshots_written());
    m.family("herd_data_snapshot_failures_total", "counter",
             "Compactions that failed and kept the last good snapshot (retried).")
        .sample(data.snapshot_failures());
}

}  // namespace

std::string Server::metrics() const {
    MetricsText m;
    const std::string build =
        "version=\"" + options_.version + "\",commit=\"" + options_.commit + "\"";
    m.family("herd_build_info", "gauge", "The binary's version and git commit (always 1).")
        .sample(1, build.c_str());
    process_metrics(m);
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
    m.family("herd_connections_shed_total", "counter",
             "Client connections closed to make room: for an address under its share when the "
             "table was full, or past the buffer budget.")
        .sample(counters_.shed, "reason=\"share\"")
        .sample(node_->stats().clients_shed_buffers, "reason=\"buffers\"")
        .sample(node_->stats().clients_shed_output, "reason=\"output\"");
    m.family("herd_client_output_bytes", "gauge",
             "Output waiting for clients, handed over or held in order (--client-output-mb).")
        .sample(node_->output_bytes());
    m.family("herd_client_buffered_bytes", "gauge",
             "Bytes read from connections and not yet taken as lines (--client-buffers-mb).")
        .sample(node_->buffered_bytes());
    if (admin_)
        m.family("herd_admin_connections_shed_total", "counter",
                 "Admin-port connections closed before their request came, to make room.")
            .sample(admin_->shed());
    m.family("herd_connections_reserve_admitted_total", "counter",
             "Connections over a cap admitted to the peers' reserve.")
        .sample(counters_.admitted_reserve);
    client_metrics(m, *node_);
    peer_metrics(m, *node_);
    places_metrics(m, places_.stats());
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
