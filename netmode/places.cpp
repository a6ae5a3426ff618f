#include "netmode/places.hpp"

#include <algorithm>

#include "core/assert.hpp"

#include <curl/curl.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <deque>
#include <mutex>
#include <thread>

#include "core/synthetic_places.hpp"
#include "core/whatsat_reply.hpp"
#include "netmode/places_shapes.hpp"

namespace herd::net {

namespace asio = boost::asio;

std::string PlacesConfig::describe() const {
    switch (kind) {
        case Kind::offline:
            return "offline (synthetic places, no network)";
        case Kind::legacy:
            return "Nearby Search (Legacy) at " + base_url;
        case Kind::places_new:
            return "Places API (New) at " + base_url;
    }
    return {};
}

std::optional<PlacesConfig> parse_places_option(const std::string& value,
                                                const std::string& api_key) {
    PlacesConfig c;
    c.api_key = api_key.empty() ? "herd-placeholder-key" : api_key;
    const std::string v = value.empty() ? (api_key.empty() ? "offline" : "google-new") : value;
    auto is_url = [](const std::string& s) {
        return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
    };
    auto trim = [](std::string s) {
        while (!s.empty() && s.back() == '/')
            s.pop_back();
        return s;
    };
    if (v == "offline") {
        c.kind = PlacesConfig::Kind::offline;
    } else if (v == "google") {
        c.kind = PlacesConfig::Kind::legacy;
        c.base_url = "https://maps.googleapis.com";
    } else if (v == "google-new") {
        c.kind = PlacesConfig::Kind::places_new;
        c.base_url = "https://places.googleapis.com";
    } else if (v.rfind("new=", 0) == 0 && is_url(v.substr(4))) {
        c.kind = PlacesConfig::Kind::places_new;
        c.base_url = trim(v.substr(4));
    } else if (is_url(v)) {
        c.kind = PlacesConfig::Kind::legacy;
        c.base_url = trim(v);
    } else {
        return std::nullopt;
    }
    return c;
}

// ---------------------------------------------------------------- the libcurl thread

class PlacesService::Worker {
  public:
    struct Request {
        std::string url;
        std::string body;  // POST when not empty
        std::vector<std::string> headers;
        std::chrono::milliseconds timeout;
        std::function<void(long status, std::string body, bool transport_ok)>
            done;  // on the worker thread
    };

    explicit Worker(std::size_t sockets_max) : multi_(curl_multi_init()) {
        HERD_ASSERT(multi_ != nullptr && sockets_max > 0);
        // Requests past this many sockets wait inside libcurl: the server's descriptor budget
        // counts these, so Places can never take the descriptors clients and peers need.
        curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(sockets_max));
        thread_ = std::thread([this] { run(); });
    }
    ~Worker() {
        stopping_ = true;
        curl_multi_wakeup(multi_);
        thread_.join();
        curl_multi_cleanup(multi_);
    }

    void submit(Request r) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            pending_.push_back(std::move(r));
        }
        curl_multi_wakeup(multi_);
    }

  private:
    struct Transfer {
        Request request;
        std::string response;
        curl_slist* headers = nullptr;
    };

    static std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
        auto* t = static_cast<Transfer*>(user);
        // A Places answer is a few kB (20 results at most); far below a client's output cap.
        constexpr std::size_t body_bytes_max = 2 << 20;
        if (t->response.size() + size * count > body_bytes_max) return 0;
        t->response.append(data, size * count);
        return size * count;
    }

    void start(Request r) {
        auto* t = new Transfer{std::move(r), {}, nullptr};
        CURL* easy = curl_easy_init();
        curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeout.count()));
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(t->request.timeout.count()));
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Worker::on_data);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "herd/0.1");
        for (const std::string& h : t->request.headers)
            t->headers = curl_slist_append(t->headers, h.c_str());
        if (t->headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
        if (!t->request.body.empty()) {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE,
                             static_cast<long>(t->request.body.size()));
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.c_str());
        }
        curl_multi_add_handle(multi_, easy);
    }

    void run() {
        while (!stopping_) {
            std::deque<Request> batch;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                batch.swap(pending_);
            }
            for (Request& r : batch)
                start(std::move(r));
            int running = 0;
            curl_multi_perform(multi_, &running);
            int queued = 0;
            while (CURLMsg* m = curl_multi_info_read(multi_, &queued)) {
                if (m->msg != CURLMSG_DONE) continue;
                CURL* easy = m->easy_handle;
                Transfer* t = nullptr;
                curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
                long status = 0;
                curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
                const bool ok = m->data.result == CURLE_OK;
                curl_multi_remove_handle(multi_, easy);
                curl_easy_cleanup(easy);
                curl_slist_free_all(t->headers);
                t->request.done(status, std::move(t->response), ok);
                delete t;
            }
            curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
        }
        // Stopping: abandon transfers still running (their callers are gone too).
        int queued = 0;
        while (CURLMsg* m = curl_multi_info_read(multi_, &queued))
            (void)m;
    }

    CURLM* multi_;
    std::mutex mutex_;
    std::deque<Request> pending_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// ---------------------------------------------------------------- the service

PlacesService::PlacesService(asio::io_context& io, PlacesConfig config)
    : io_(io), config_(std::move(config)) {
    if (config_.kind != PlacesConfig::Kind::offline) {
        static const CURLcode curl_started = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (curl_started != CURLE_OK) {
            error_ =
                Error{std::string("libcurl could not start: ") + curl_easy_strerror(curl_started)};
            return;
        }
        worker_ = std::make_unique<Worker>(config_.sockets_max);
    }
}

PlacesService::~PlacesService() {
    stop();
}

void PlacesService::stop() {
    worker_.reset();
}

// Answers from the cache when a fresh entry exists (and drops a stale one); true if answered.
void PlacesService::count_outcome(const std::string& status, std::chrono::nanoseconds took) {
    // A label of the metrics page: Google's statuses are upper-case words; anything else a
    // provider says is OTHER, as is any status past the bound.
    const bool word = !status.empty() && status.size() <= 32 &&
                      std::all_of(status.begin(), status.end(), [](char ch) {
                          return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
                      });
    const bool known = word && stats_.outcomes.count(status) == 1;
    const bool room = word && stats_.outcomes.size() < places_statuses_max - 1;
    stats_.outcomes[known || room ? status : "OTHER"] += 1;
    const double seconds = std::chrono::duration<double>(took).count();
    std::size_t bucket = 0;
    while (bucket < std::size(places_latency_bounds) && seconds > places_latency_bounds[bucket])
        ++bucket;
    stats_.latency_buckets[bucket] += 1;
    stats_.latency_seconds_sum += seconds;
}

bool PlacesService::answer_from_cache(const std::string& key, Done& done) {
    auto it = cache_.find(key);
    if (it == cache_.end()) return false;
    if (it->second->expires <= std::chrono::steady_clock::now()) {
        cache_bytes_ -= entry_bytes(*it->second);
        lru_.erase(it->second);
        cache_.erase(it);
        return false;
    }
    stats_.cache_hits += 1;
    if (report_) report_("places: " + key + " answered from the cache");
    lru_.splice(lru_.begin(), lru_, it->second);
    asio::post(io_, [done = std::move(done), body = it->second->body]() mutable {
        done(PlacesResult{true, std::move(body), {}});
    });
    return true;
}

void PlacesService::query(const PlacesQuery& q, Done done) {
    stats_.queries += 1;
    if (config_.kind == PlacesConfig::Kind::offline) {
        std::string body = synthetic_places_json(q.lat_nanodeg, q.lon_nanodeg, q.radius,
                                                 synthetic_places_count_max);
        asio::post(io_, [done = std::move(done), body = std::move(body)]() mutable {
            done(PlacesResult{true, std::move(body), {}});
        });
        return;
    }
    const std::string key = q.latlon_text + "|" + q.radius.metres_text();
    if (answer_from_cache(key, done)) return;
    if (in_flight_.size() >= config_.requests_in_flight_max && in_flight_.count(key) == 0) {
        stats_.refused += 1;
        if (report_) report_("places: " + key + " refused: too many requests in flight");
        asio::post(io_, [done = std::move(done)]() mutable {
            done(PlacesResult{false, {}, "OVER_QUERY_LIMIT"});
        });
        return;
    }
    auto [flight, fresh] = in_flight_.try_emplace(key);
    flight->second.push_back(std::move(done));
    HERD_ASSERT(in_flight_.size() <= config_.requests_in_flight_max);
    if (!fresh) {
        stats_.merged += 1;
        if (report_) report_("places: " + key + " joined the request in flight");
        return;
    }
    stats_.requests += 1;
    if (report_) report_("places: " + key + " requested from " + config_.base_url);
    Worker::Request r;
    r.timeout = config_.timeout;
    const bool new_api = config_.kind == PlacesConfig::Kind::places_new;
    if (new_api) {
        r.url = config_.base_url + std::string(new_api_path);
        r.body = new_api_body(q);
        r.headers = {"Content-Type: application/json", "X-Goog-Api-Key: " + config_.api_key,
                     "X-Goog-FieldMask: " + std::string(new_api_field_mask)};
    } else {
        r.url = config_.base_url + legacy_path(q) + "&key=" + config_.api_key;
    }
    r.done = [this, key, new_api, start = std::chrono::steady_clock::now()](
                 long status, std::string body, bool transport_ok) {
        const auto took = std::chrono::steady_clock::now() - start;
        PlacesResult result{false, {}, "UNKNOWN_ERROR"};
        if (transport_ok && status == 200) {
            if (!new_api) {
                result = PlacesResult{true, std::move(body), {}};
            } else if (auto legacy = new_to_legacy(body)) {
                result = PlacesResult{true, std::move(*legacy), {}};
            }
        } else if (transport_ok && new_api) {
            result.status = new_error_status(body);
        }
        asio::post(io_, [this, key, took, result = std::move(result)]() mutable {
            finish(key, std::move(result), took);
        });
    };
    HERD_ASSERT(worker_ != nullptr);  // a service whose libcurl failed never starts a server
    worker_->submit(std::move(r));
}

void PlacesService::finish(const std::string& key, PlacesResult result,
                           std::chrono::nanoseconds took) {
    auto flight = in_flight_.find(key);
    if (flight == in_flight_.end()) return;
    std::vector<Done> waiters = std::move(flight->second);
    in_flight_.erase(flight);
    // A legacy answer with an error status is an error too: never cached.
    const std::string status = result.ok ? legacy_status(result.body) : std::string();
    const bool cacheable = places_status_is_answer(status);
    if (!result.ok) stats_.failures += 1;
    count_outcome(result.ok ? (status.empty() ? std::string("OK") : status) : result.status, took);
    if (report_) {
        report_("places: " + key + " answered " +
                (result.ok ? (status.empty() ? std::string("?") : status) : result.status) +
                (cacheable ? " (cached)" : ""));
    }
    if (cacheable && config_.cache_entries_max > 0) {
        lru_.push_front(
            CacheEntry{key, result.body, std::chrono::steady_clock::now() + config_.cache_ttl});
        cache_[key] = lru_.begin();
        cache_bytes_ += entry_bytes(lru_.front());
        // Bounded by entries and by bytes (a key holds the client's coordinate text, which may
        // be long): the least recently used go first.
        while (lru_.size() > config_.cache_entries_max || cache_bytes_ > config_.cache_bytes_max) {
            cache_bytes_ -= entry_bytes(lru_.back());
            cache_.erase(lru_.back().key);
            lru_.pop_back();
        }
    }
    for (Done& done : waiters)
        done(result);
}

}  // namespace herd::net
