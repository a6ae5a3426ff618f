#include "replay/clients.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "core/assert.hpp"
#include "sim/workload.hpp"

namespace herd::replay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Clients::SendConn {
    explicit SendConn(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::string out;
    std::array<char, 4096> buffer{};
    std::size_t index = 0;
};

struct Clients::WorkConn {
    explicit WorkConn(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    int server = 0;
    bool connecting = false;
    bool open = false;
    bool writing = false;
    std::string pending;  // lines not yet handed to the socket
    std::string writing_now;
    std::array<char, 4096> drain{};
    std::deque<int> in_flight;  // with a history: the requests written, awaiting their reply
    std::string partial;        // with a history: a reply line read in part
};

struct Clients::Workload {
    explicit Workload(asio::io_context& io) : timer(io) {}
    sim::WorkloadStep step;
    Instant at;
    std::uint64_t index = 0;
    asio::steady_timer timer;
};

namespace {

tcp::endpoint loopback(std::uint16_t port) {
    return tcp::endpoint(asio::ip::address_v4::loopback(), port);
}

}  // namespace

Clients::Clients(RealHerd& herd, const sim::Scenario& scenario, Clock::time_point t0,
                 sim::HistoryRecorder* history)
    : herd_(herd),
      sc_(scenario),
      t0_(t0),
      latest_send_(scenario.herd.servers.size(), -1),
      live_(scenario.herd.servers.size()),
      work_(scenario.herd.servers.size()),
      workload_prng_(scenario.seed * 4 + 3),
      alive_(std::make_shared<bool>(true)),
      history_(history) {
    for (auto& l : live_)
        l = true;
}

Clients::~Clients() {
    herd_.on_io([this] {
        *alive_ = false;
        boost::system::error_code ignored;
        for (auto& c : work_) {
            if (c) c->socket.close(ignored);
        }
        for (auto& w : workloads_)
            w->timer.cancel();
    });
}

void Clients::invoked(int id, int server, std::string_view bytes) {
    if (history_ == nullptr) return;
    std::lock_guard<std::mutex> lock(history_mutex_);
    history_->invoked(id, sc_.herd.servers[static_cast<std::size_t>(server)].name.str(), bytes,
                      elapsed());
}

void Clients::replied(int id, std::string_view bytes, bool complete) {
    if (history_ == nullptr) return;
    std::lock_guard<std::mutex> lock(history_mutex_);
    if (!bytes.empty()) history_->received(id, bytes);
    if (complete) history_->completed(id, elapsed());
}

Instant Clients::elapsed() const {
    return Instant{
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0_).count()};
}

void Clients::set_live(int s, bool live) {
    live_[static_cast<std::size_t>(s)] = live;
}

void Clients::release_before(Instant t) {
    released_before_ns_ = t.ns;
    asio::post(herd_.io(), [this, alive = alive_] {
        if (!*alive) return;
        for (auto& w : workloads_)
            tick(w);
    });
}

std::vector<sim::SimClient> Clients::clients() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return clients_;
}

std::vector<int> Clients::latest_send() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return latest_send_;
}

void Clients::refuse(int s) {
    std::lock_guard<std::mutex> lock(mutex_);
    latest_send_[static_cast<std::size_t>(s)] = static_cast<int>(clients_.size());
    clients_.push_back(sim::SimClient{s, {}, false, true});
}

void Clients::send(int s, const std::string& line, Instant at) {
    auto c = std::make_shared<SendConn>(herd_.io());
    c->out = sim::send_line(line, wall_at(at));
    {
        std::lock_guard<std::mutex> lock(mutex_);
        c->index = clients_.size();
        latest_send_[static_cast<std::size_t>(s)] = static_cast<int>(clients_.size());
        clients_.push_back(sim::SimClient{s, {}, false, false});
    }
    const std::uint16_t port = herd_.client_port(s);
    invoked(static_cast<int>(c->index), s, c->out);
    asio::post(herd_.io(), [this, c, port, alive = alive_] {
        if (!*alive) return;
        c->socket.async_connect(loopback(port), [this, c,
                                                 alive](const boost::system::error_code& ec) {
            if (!*alive || ec) return;
            asio::async_write(c->socket, asio::buffer(c->out),
                              [this, c, alive](const boost::system::error_code& e, std::size_t) {
                                  if (!*alive || e) return;
                                  boost::system::error_code ignored;
                                  c->socket.shutdown(tcp::socket::shutdown_send, ignored);
                                  read_reply(c);
                              });
        });
    });
}

void Clients::read_reply(const std::shared_ptr<SendConn>& c) {
    c->socket.async_read_some(
        asio::buffer(c->buffer),
        [this, c, alive = alive_](const boost::system::error_code& ec, std::size_t n) {
            if (!*alive) return;
            replied(static_cast<int>(c->index), std::string_view(c->buffer.data(), n), !!ec);
            std::lock_guard<std::mutex> lock(mutex_);
            sim::SimClient& client = clients_[c->index];
            client.received.append(c->buffer.data(), n);
            if (!ec) return read_reply(c);
            client.complete = true;  // closed by the server (or reset): nothing more comes
        });
}

void Clients::start_workload(const sim::WorkloadStep& step, Instant at) {
    auto w = std::make_shared<Workload>(herd_.io());
    w->step = step;
    w->at = at;
    asio::post(herd_.io(), [this, w, alive = alive_] {
        if (!*alive) return;
        workloads_.push_back(w);
        tick(w);
    });
}

// Every IAMAT of `w` that is due (and released), then a timer for the next one.
void Clients::tick(const std::shared_ptr<Workload>& w) {
    const auto due = [&](std::uint64_t i) {
        return sim::workload_offset(i, w->step.rate_per_s).ns;
    };
    const std::int64_t elapsed = this->elapsed().ns - w->at.ns;
    const std::int64_t released = released_before_ns_ - w->at.ns;
    while (due(w->index) < w->step.length.ns && due(w->index) <= elapsed &&
           due(w->index) < released) {
        std::vector<int> live;
        for (int s = 0; s < static_cast<int>(live_.size()); ++s) {
            if (live_[static_cast<std::size_t>(s)]) live.push_back(s);
        }
        const sim::WorkloadDraw draw = sim::draw_workload(workload_prng_, w->step.clients);
        if (live.empty()) {
            workload_refused_ += 1;
        } else {
            const int target = live[workload_prng_.below(live.size())];
            workload_iamats_ += 1;
            write_work(target, sim::workload_line(draw, wall_at(w->at + Duration{due(w->index)}),
                                                  w->step.prefix));
        }
        w->index += 1;
    }
    // Done, or waiting for statements (release_before ticks again), or for the next line's time.
    if (due(w->index) >= w->step.length.ns || due(w->index) >= released) return;
    w->timer.expires_at(t0_ + std::chrono::nanoseconds(w->at.ns + due(w->index)));
    w->timer.async_wait([this, w, alive = alive_](const boost::system::error_code& ec) {
        if (*alive && !ec) tick(w);
    });
}

void Clients::write_work(int s, std::string line) {
    auto& c = work_[static_cast<std::size_t>(s)];
    if (!c || (!c->open && !c->connecting)) {
        c = std::make_shared<WorkConn>(herd_.io());
        c->server = s;
        c->connecting = true;
        c->socket.async_connect(loopback(herd_.client_port(s)),
                                [this, c, alive = alive_](const boost::system::error_code& ec) {
                                    if (!*alive) return;
                                    c->connecting = false;
                                    c->open = !ec;
                                    if (!c->open) return;
                                    drain_work(c);
                                    flush_work(c);
                                });
    }
    if (history_ != nullptr) {
        c->in_flight.push_back(next_work_id_);
        invoked(next_work_id_++, s, line);
    }
    c->pending += line;
    if (c->open) flush_work(c);
}

void Clients::flush_work(const std::shared_ptr<WorkConn>& c) {
    if (c->writing || c->pending.empty() || !c->open) return;
    c->writing = true;
    c->writing_now.swap(c->pending);
    c->pending.clear();
    asio::async_write(c->socket, asio::buffer(c->writing_now),
                      [this, c, alive = alive_](const boost::system::error_code& ec, std::size_t) {
                          if (!*alive) return;
                          c->writing = false;
                          c->writing_now.clear();
                          if (ec) {
                              c->open = false;  // lines lost with the server, as in a crash
                              return;
                          }
                          flush_work(c);
                      });
}

void Clients::drain_work(const std::shared_ptr<WorkConn>& c) {
    c->socket.async_read_some(
        asio::buffer(c->drain),
        [this, c, alive = alive_](const boost::system::error_code& ec, std::size_t n) {
            if (!*alive) return;
            if (ec) {
                c->open = false;
                boost::system::error_code ignored;
                c->socket.close(ignored);
                return;  // requests still in flight complete without a reply at the run's end
            }
            if (history_ != nullptr) {
                // Replies come in the order of the requests: each line completes the oldest.
                c->partial.append(c->drain.data(), n);
                for (std::size_t end; (end = c->partial.find('\n')) != std::string::npos;) {
                    if (!c->in_flight.empty()) {
                        replied(c->in_flight.front(),
                                std::string_view(c->partial).substr(0, end + 1), true);
                        c->in_flight.pop_front();
                    }
                    c->partial.erase(0, end + 1);
                }
            }
            drain_work(c);
        });
}

}  // namespace herd::replay
