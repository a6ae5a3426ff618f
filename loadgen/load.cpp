#include "loadgen/load.hpp"

#include <algorithm>

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

#include "core/herd_file.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "history/history.hpp"
#include "loadgen/echo_server.hpp"
#include "netmode/files.hpp"
#include "netmode/process.hpp"
#include "sim/report.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace herd::loadgen {

namespace {

// A JSON string literal of `text` (quotes, backslashes and control bytes escaped).
std::string json_string(std::string_view text) {
    std::string out = "\"";
    append_json_escaped(out, text);
    return out + "\"";
}

}  // namespace

namespace {

struct Pending {
    bool whatsat;
    std::string suffix;  // what an IAMAT reply must end with: " client latlon time"
    Clock::time_point sent;
    std::string line;          // the request, with --history only
    std::uint64_t client = 0;  // an IAMAT's client number on its connection
};

class Load;

class LoadConn : public std::enable_shared_from_this<LoadConn> {
  public:
    LoadConn(Load& load, asio::io_context& io, int index)
        : load_(load), socket_(io), index_(index) {}
    void start(const tcp::endpoint& endpoint);

  private:
    friend class Load;
    void queue_request();
    void flush();
    void read();
    bool take_reply(std::size_t& consumed);

    Load& load_;
    tcp::socket socket_;
    int index_;
    std::deque<Pending> pending_;
    std::string in_;
    std::string out_;
    std::string writing_;
    std::array<char, 65536> buffer_;
    bool write_busy_ = false;
    bool done_ = false;  // connect failed, closed, or every reply in
    std::uint64_t sequence_ = 0;
    std::uint64_t reported_ = 0;  // clients of this connection with at least one IAMAT answered
    std::uint64_t iamats_ = 0;    // IAMATs queued on this connection
};

class Load {
  public:
    Load(const LoadOptions& o) : options_(o) {}

    LoadResult run() {
        asio::io_context& io = io_;
        tcp::resolver resolver(io);
        boost::system::error_code ec;
        auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port), ec);
        if (ec || endpoints.empty()) {
            result_.first_error = "cannot resolve " + options_.host;
            return result_;
        }
        start_ = Clock::now();
        deadline_ = start_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options_.seconds));
        base_time_ = Timestamp{1479413884, 0} +
                     Duration::seconds(static_cast<std::int64_t>(std::time(nullptr)) - 1479413884);
        live_ = options_.connections;
        for (int i = 0; i < options_.connections; ++i) {
            auto c = std::make_shared<LoadConn>(*this, io, i);
            conns_.push_back(c);
            c->start(*endpoints.begin());
        }
        // Stop waiting for stragglers two seconds after the deadline.
        asio::steady_timer guard(io, deadline_ + std::chrono::seconds(2));
        guard.async_wait([&](const boost::system::error_code&) { io.stop(); });
        io.run();
        // Requests still unanswered when the run was cut off (two seconds past its end) are
        // errors: a server that stalls must not pass for a verified one.
        for (const auto& c : conns_) {
            if (c->done_) continue;
            error(c->pending_.empty()
                      ? std::string("a connection was not made (or made too late) by the end")
                      : "no reply to " + std::to_string(c->pending_.size()) +
                            " requests by the end of the run");
        }
        conns_.clear();  // their sockets go while the io_context they belong to is still there
        const auto end = std::min(Clock::now(), last_reply_);
        result_.seconds = std::chrono::duration<double>(end - start_).count();
        if (recording()) {
            if (auto e = net::write_text_file(options_.history_path, history_))
                error("--history: " + e->message);
        }
        std::sort(latencies_.begin(), latencies_.end());
        const auto p = sim::percentiles(latencies_);
        result_.p50_ns = p.p50;
        result_.p90_ns = p.p90;
        result_.p99_ns = p.p99;
        result_.max_ns = p.max;
        return result_;
    }

    bool may_send() {
        if (Clock::now() >= deadline_) return false;
        if (options_.requests_max != 0 && sent_ >= options_.requests_max) return false;
        ++sent_;
        return true;
    }
    void replied(Clock::time_point sent, Clock::time_point now) {
        result_.replies += 1;
        latencies_.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent).count());
        last_reply_ = now;
    }
    void error(const std::string& what) {
        result_.errors += 1;
        if (result_.first_error.empty()) result_.first_error = what;
    }
    // A connection is over (refused, closed, or all its replies in): the run ends with the last.
    void conn_done() {
        if (--live_ == 0) io_.stop();
    }
    const LoadOptions& options() const { return options_; }
    bool recording() const { return !options_.history_path.empty(); }
    // One line of the history: the request `p`, answered `reply` now.
    void record(const Pending& p, std::string_view reply) {
        std::string_view rest = p.line;
        take_field(rest);
        history::Operation op{
            ++recorded_,
            options_.host + ":" + std::to_string(options_.port),
            p.whatsat ? history::Op::whatsat : history::Op::iamat,
            std::string(take_field(rest)),
            p.line,
            std::string(reply),
            std::chrono::duration_cast<std::chrono::nanoseconds>(p.sent - start_).count(),
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count()};
        history_ += history::format_operation(op);
        history_ += '\n';
    }
    Timestamp base_time() const { return base_time_; }
    std::uint64_t next_time_step() { return ++time_step_; }

  private:
    asio::io_context io_;  // first: outlives every connection's socket
    int live_ = 0;
    LoadOptions options_;
    LoadResult result_;
    std::vector<std::shared_ptr<LoadConn>> conns_;
    std::vector<std::int64_t> latencies_;
    Clock::time_point start_, deadline_, last_reply_ = Clock::time_point::max();
    Timestamp base_time_;
    std::uint64_t sent_ = 0;
    std::uint64_t time_step_ = 0;
    std::string history_;  // with --history: its lines, in order of completion
    std::uint64_t recorded_ = 0;
};

void LoadConn::start(const tcp::endpoint& endpoint) {
    auto self = shared_from_this();
    socket_.async_connect(endpoint, [this, self](const boost::system::error_code& ec) {
        if (ec) {
            load_.error("connect: " + ec.message());
            done_ = true;
            load_.conn_done();
            return;
        }
        boost::system::error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);
        for (int i = 0; i < load_.options().in_flight; ++i) {
            if (load_.may_send()) queue_request();
        }
        flush();
        read();
    });
}

void LoadConn::queue_request() {
    const auto& o = load_.options();
    const bool whatsat = reported_ > 0 && static_cast<int>(sequence_ % 100) < o.whatsat_percent;
    const std::uint64_t k = sequence_++;
    std::string client = "load-" + std::to_string(index_) + "-";
    if (whatsat) {
        append_decimal(client, k % reported_);
        out_ += "WHATSAT " + client + " 10 5\n";
        pending_.push_back(Pending{true, {}, Clock::now(), {}});
        if (load_.recording()) pending_.back().line = "WHATSAT " + client + " 10 5";
        return;
    }
    // IAMATs number their clients by their own count, so the clients answered so far are
    // 0..reported_-1 with none skipped (a WHATSAT in between takes no number).
    const std::uint64_t number = iamats_++ % o.clients_per_connection;
    append_decimal(client, number);
    // Client times only grow (a nanosecond per request), so every IAMAT changes the store and
    // is flooded: the herd does its full work for each one.
    const Timestamp t =
        load_.base_time() + Duration{static_cast<std::int64_t>(load_.next_time_step())};
    std::string suffix = " " + client + " +34.068930-118.445127 " + format_timestamp(t);
    out_ += "IAMAT" + suffix + "\n";
    pending_.push_back(Pending{false, std::move(suffix), Clock::now(), {}, number});
    if (load_.recording()) pending_.back().line = "IAMAT" + pending_.back().suffix;
}

void LoadConn::flush() {
    if (write_busy_ || out_.empty()) return;
    write_busy_ = true;
    writing_.swap(out_);
    out_.clear();
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(writing_),
                      [this, self](const boost::system::error_code& ec, std::size_t) {
                          write_busy_ = false;
                          writing_.clear();
                          if (ec) {
                              load_.error("write: " + ec.message());
                              return;
                          }
                          flush();
                      });
}

bool LoadConn::take_reply(std::size_t& pos) {
    if (pending_.empty()) return false;
    const std::size_t eol = in_.find('\n', pos);
    if (eol == std::string::npos) return false;
    const std::string_view line(in_.data() + pos, eol - pos);
    const Pending& p = pending_.front();
    std::size_t end = eol + 1;
    if (!p.whatsat) {
        if (line.substr(0, 3) != "AT " || !line.ends_with(p.suffix))
            load_.error("unexpected IAMAT reply: " + std::string(line));
    } else if (line.substr(0, 2) == "? ") {
        load_.error("WHATSAT for a client the server does not know: " + std::string(line));
    } else {
        const std::size_t body_end = in_.find("}\n\n", eol);
        if (body_end == std::string::npos) return false;
        end = body_end + 3;
    }
    load_.replied(p.sent, Clock::now());
    if (load_.recording()) load_.record(p, line);
    if (!p.whatsat && line.substr(0, 3) == "AT ")
        // Clients are numbered in the order their first IAMATs went, and answered in order: the
        // clients below this one's number are known too. (Counting what was sent instead made a
        // WHATSAT ask for a client whose IAMAT was still in flight.)
        reported_ = std::max(reported_, p.client + 1);
    pending_.pop_front();
    pos = end;
    if (load_.may_send()) queue_request();
    return true;
}

void LoadConn::read() {
    auto self = shared_from_this();
    socket_.async_read_some(
        asio::buffer(buffer_), [this, self](const boost::system::error_code& ec, std::size_t n) {
            if (ec) {
                if (!pending_.empty())
                    load_.error("connection closed with " + std::to_string(pending_.size()) +
                                " replies missing");
                pending_.clear();  // counted
                done_ = true;
                load_.conn_done();
                return;
            }
            in_.append(buffer_.data(), n);
            std::size_t pos = 0;
            while (take_reply(pos)) {
            }
            in_.erase(0, pos);
            flush();
            if (pending_.empty()) {
                boost::system::error_code ignored;
                socket_.shutdown(tcp::socket::shutdown_send, ignored);
                socket_.close(ignored);
                done_ = true;
                load_.conn_done();
                return;
            }
            read();
        });
}

}  // namespace

LoadResult run_load(const LoadOptions& options) {
    return Load(options).run();
}

std::string load_report(const LoadOptions& o, const LoadResult& r) {
    const double rate = replies_per_second(r);
    std::ostringstream out;
    out << "herd bench load " << o.host << ":" << o.port << ": " << o.connections
        << " connections x " << o.in_flight << " in flight, " << o.whatsat_percent << "% WHATSAT\n"
        << "replies: " << r.replies << " in " << r.seconds
        << " s = " << static_cast<std::uint64_t>(rate) << " replies/s"
        << (r.replies > 0 ? ", every one verified" : "") << "; errors: " << r.errors << "\n";
    // With no reply there is no latency to speak of: say so rather than print zeros.
    if (r.replies > 0) {
        out << "latency: p50 " << sim::format_latency(r.p50_ns) << ", p90 "
            << sim::format_latency(r.p90_ns) << ", p99 " << sim::format_latency(r.p99_ns)
            << ", max " << sim::format_latency(r.max_ns) << "\n";
    } else {
        out << "latency: none (no reply came)\n";
    }
    if (!r.first_error.empty()) out << "first error: " << r.first_error << "\n";
    return out.str();
}

std::string load_json(const LoadOptions& o, const LoadResult& r) {
    const double rate = replies_per_second(r);
    std::ostringstream json;
    json << "{\"target\": " << json_string(o.host + ":" + std::to_string(o.port))
         << ", \"connections\": " << o.connections << ", \"in_flight\": " << o.in_flight
         << ", \"whatsat_percent\": " << o.whatsat_percent << ", \"replies\": " << r.replies
         << ", \"seconds\": " << r.seconds << ", \"replies_per_s\": " << rate
         << ", \"errors\": " << r.errors << ", \"latency_ns\": {\"p50\": " << r.p50_ns
         << ", \"p90\": " << r.p90_ns << ", \"p99\": " << r.p99_ns << ", \"max\": " << r.max_ns
         << "}}\n";
    return json.str();
}

std::optional<Error> fit_descriptors(const LoadOptions& options, bool ceiling) {
    constexpr std::uint64_t descriptors_other = 64;  // stdio, epoll, the bare server's listener
    const std::uint64_t needed =
        static_cast<std::uint64_t>(options.connections) * (ceiling ? 2 : 1) + descriptors_other;
    const std::uint64_t limit = net::raise_open_file_limit(needed);
    if (limit >= needed) return std::nullopt;
    return Error{std::to_string(options.connections) + " connections" +
                     (ceiling ? " (and as many to the bare server)" : "") + " need " +
                     std::to_string(needed) + " file descriptors; this process may open " +
                     std::to_string(limit),
                 2};
}

double replies_per_second(const LoadResult& r) {
    return r.seconds > 0 ? static_cast<double>(r.replies) / r.seconds : 0;
}

namespace {

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

bool CeilingRun::ok() const {
    if (!error.empty()) return false;
    for (const auto* results : {&target, &ceiling}) {
        for (const LoadResult& r : *results)
            if (r.errors != 0 || r.replies == 0) return false;
    }
    return !target.empty();
}

CeilingRun run_with_ceiling(const LoadOptions& options, int rounds) {
    CeilingRun run;
    std::unique_ptr<EchoServer> echo;
    try {
        echo = std::make_unique<EchoServer>();
    } catch (const std::exception& e) {
        run.error = std::string("the bare server could not start: ") + e.what();
        return run;
    }
    LoadOptions bare = options;
    bare.host = "127.0.0.1";
    bare.port = echo->port();
    std::vector<double> target_rates, ceiling_rates, ratios;
    for (int i = 0; i < rounds; ++i) {
        bare.history_path.clear();  // the history is the target's (its last round's)
        run.ceiling.push_back(run_load(bare));
        run.target.push_back(run_load(options));
        target_rates.push_back(replies_per_second(run.target.back()));
        ceiling_rates.push_back(replies_per_second(run.ceiling.back()));
        ratios.push_back(ceiling_rates.back() > 0 ? target_rates.back() / ceiling_rates.back() : 0);
    }
    run.target_median = median(target_rates);
    run.ceiling_median = median(ceiling_rates);
    run.ratio_median = median(ratios);
    return run;
}

std::string ceiling_report(const LoadOptions& o, const CeilingRun& run) {
    std::ostringstream out;
    out << "herd bench load " << o.host << ":" << o.port << " --ceiling: " << o.connections
        << " connections x " << o.in_flight << " in flight, " << o.whatsat_percent << "% WHATSAT, "
        << run.target.size() << " rounds of " << o.seconds
        << " s each against a bare line server (same connections, every reply verified), then "
           "the target\n";
    if (!run.error.empty()) out << "error: " << run.error << "\n";
    out << " round    ceiling/s     target/s   target/ceiling\n";
    for (std::size_t i = 0; i < run.target.size(); ++i) {
        const double c = replies_per_second(run.ceiling[i]);
        const double t = replies_per_second(run.target[i]);
        out << std::setw(6) << i + 1 << std::setw(13) << static_cast<std::uint64_t>(c)
            << std::setw(13) << static_cast<std::uint64_t>(t) << std::setw(17) << std::fixed
            << std::setprecision(3) << (c > 0 ? t / c : 0) << "\n";
    }
    out << "median" << std::setw(13) << static_cast<std::uint64_t>(run.ceiling_median)
        << std::setw(13) << static_cast<std::uint64_t>(run.target_median) << std::setw(17)
        << std::fixed << std::setprecision(3) << run.ratio_median << "\n";
    // The last round's latencies and every round's errors, for each side.
    for (const auto& [what, rounds] :
         {std::pair{"ceiling", &run.ceiling}, std::pair{"target", &run.target}}) {
        if (rounds->empty()) continue;
        std::uint64_t errors = 0;
        for (const LoadResult& r : *rounds)
            errors += r.errors;
        const LoadResult& last = rounds->back();
        out << what << ": errors " << errors << " in all rounds; last round's latency "
            << (last.replies == 0 ? std::string("none (no reply came)")
                                  : "p50 " + sim::format_latency(last.p50_ns) + ", p99 " +
                                        sim::format_latency(last.p99_ns) + ", max " +
                                        sim::format_latency(last.max_ns))
            << "\n";
    }
    for (std::size_t i = 0; i < run.target.size(); ++i) {
        for (const auto& [what, r] :
             {std::pair{"ceiling", &run.ceiling[i]}, std::pair{"target", &run.target[i]}}) {
            if (r->errors != 0 || r->replies == 0)
                out << "round " << i + 1 << ", " << what << ": " << r->errors << " errors, "
                    << r->replies << " replies" << (r->first_error.empty() ? "" : "; first: ")
                    << r->first_error << "\n";
        }
    }
    return out.str();
}

std::string ceiling_json(const LoadOptions& o, const CeilingRun& run) {
    std::ostringstream json;
    json << "{\"target\": " << json_string(o.host + ":" + std::to_string(o.port))
         << ", \"connections\": " << o.connections << ", \"in_flight\": " << o.in_flight
         << ", \"whatsat_percent\": " << o.whatsat_percent
         << ", \"seconds_per_round\": " << o.seconds << ", \"rounds\": " << run.target.size()
         << ", \"target_replies_per_s\": [";
    for (std::size_t i = 0; i < run.target.size(); ++i)
        json << (i ? ", " : "") << replies_per_second(run.target[i]);
    json << "], \"ceiling_replies_per_s\": [";
    for (std::size_t i = 0; i < run.ceiling.size(); ++i)
        json << (i ? ", " : "") << replies_per_second(run.ceiling[i]);
    json << "], \"median_target_replies_per_s\": " << run.target_median
         << ", \"median_ceiling_replies_per_s\": " << run.ceiling_median
         << ", \"median_target_over_ceiling\": " << run.ratio_median
         << ", \"verified\": " << (run.ok() ? "true" : "false") << "}\n";
    return json.str();
}

}  // namespace herd::loadgen
