// PlacesService: answers the core's QueryPlaces actions.
//
// Providers: `offline` (the core's synthetic generator, no network), or HTTP to a Nearby Search
// (Legacy) server or a Places API (New) server. HTTP runs on one dedicated thread that owns a
// libcurl multi handle (curl_multi_poll / curl_multi_wakeup), with a timeout on every request;
// results are posted back to the io_context, so callbacks run on the server's thread.
//
// A cache keyed by the exact coordinate text and radius (LRU with a TTL) answers repeated
// queries, and identical queries in flight share one request. Errors are never cached.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/node.hpp"

namespace herd::net {

struct PlacesConfig {
    enum class Kind { offline, legacy, places_new };
    Kind kind = Kind::offline;
    std::string base_url;  // "https://maps.googleapis.com", "http://127.0.0.1:9000"
    std::string api_key;   // never logged
    std::chrono::milliseconds timeout{places_timeout_default.ns / 1'000'000};
    std::size_t cache_entries_max = 10000;
    std::size_t cache_bytes_max = 64u << 20;  // keys and answers together
    // Distinct requests in flight at once; a query beyond is answered OVER_QUERY_LIMIT at once.
    // (The Node bounds its own queries too; this holds when the Node has given up on slow ones.)
    std::size_t requests_in_flight_max = 4096;
    // Sockets to the provider open at once (more requests wait their turn inside libcurl): the
    // server's descriptor budget counts them (herd serve fits it to the open-file limit).
    std::size_t sockets_max = 256;
    std::chrono::seconds cache_ttl{300};

    std::string describe() const;  // for logs: kind and base URL, never the key
};

// Parses the --places value of design §7: URL, new=URL, google, google-new or offline. Empty
// means the default: google-new when a key is set, else offline.
std::optional<PlacesConfig> parse_places_option(const std::string& value,
                                                const std::string& api_key);

// Seconds, as Prometheus histograms count them: upper bounds of the buckets.
inline constexpr double places_latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                   0.5,   1,    2.5,   5,    10};
inline constexpr std::size_t places_statuses_max = 16;  // distinct outcome labels kept

struct PlacesStats {
    std::uint64_t queries = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t merged = 0;    // answered by a request already in flight
    std::uint64_t requests = 0;  // HTTP requests made
    std::uint64_t failures = 0;
    std::uint64_t refused = 0;  // over requests_in_flight_max
    // HTTP requests by outcome: the answer's status (OK, ZERO_RESULTS, OVER_QUERY_LIMIT, ...,
    // UNKNOWN_ERROR for a transport failure; OTHER past places_statuses_max distinct ones).
    std::map<std::string, std::uint64_t> outcomes;
    // Their latency: counts per bucket of places_latency_bounds (not cumulative), the rest above.
    std::array<std::uint64_t, std::size(places_latency_bounds) + 1> latency_buckets{};
    double latency_seconds_sum = 0;
};

class PlacesService {
  public:
    using Done = std::function<void(PlacesResult)>;

    PlacesService(boost::asio::io_context& io, PlacesConfig config);
    ~PlacesService();
    PlacesService(const PlacesService&) = delete;
    PlacesService& operator=(const PlacesService&) = delete;

    // Answers `query`; `done` runs later on the io_context's thread, exactly once.
    void query(const PlacesQuery& query, Done done);
    void stop();
    // Where the service reports what it does (cache hits, requests, failures) for the log.
    // Never given the key.
    void on_event(std::function<void(const std::string&)> report) { report_ = std::move(report); }
    const PlacesStats& stats() const { return stats_; }
    // Why the service cannot answer at all (libcurl did not start), checked before a server
    // opens its port.
    const std::optional<Error>& error() const { return error_; }

  private:
    class Worker;
    struct CacheEntry {
        std::string key;
        std::string body;
        std::chrono::steady_clock::time_point expires;
    };

    void finish(const std::string& key, PlacesResult result, std::chrono::nanoseconds took);
    void count_outcome(const std::string& status, std::chrono::nanoseconds took);
    bool answer_from_cache(const std::string& key, Done& done);

    std::optional<Error> error_;
    boost::asio::io_context& io_;
    PlacesConfig config_;
    std::unique_ptr<Worker> worker_;
    std::list<CacheEntry> lru_;  // most recent first
    std::map<std::string, std::list<CacheEntry>::iterator> cache_;
    std::size_t cache_bytes_ = 0;
    static std::size_t entry_bytes(const CacheEntry& e) { return 2 * e.key.size() + e.body.size(); }
    std::map<std::string, std::vector<Done>> in_flight_;
    PlacesStats stats_;
    std::function<void(const std::string&)> report_;
};

}  // namespace herd::net
