#include "netmode/proxy.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <list>
#include <set>

#include "core/assert.hpp"
#include "core/herd_file.hpp"
#include "core/text.hpp"

namespace herd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// HOST:PORT; port 0 (any free port) too, for a listening end.
// After a failed accept, the next waits this long.
constexpr std::chrono::milliseconds accept_pause{100};
// The longest one-way latency a draw may give (a larger one is cut to this).
constexpr Duration latency_max = Duration::seconds(3600);

Result<tcp::endpoint> resolve(asio::io_context& io, const std::string& address) {
    auto split = parse_address(address);
    if (!split && address.ends_with(":0") && address.size() > 2)
        split = std::pair<std::string, std::uint16_t>(address.substr(0, address.size() - 2), 0);
    if (!split) return Error{"expected HOST:PORT, got '" + address + "'"};
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(split->first, std::to_string(split->second), ec);
    if (ec || results.empty()) return Error{"cannot resolve " + address + ": " + ec.message()};
    return results.begin()->endpoint();
}

}  // namespace

struct Proxy::Direction {
    tcp::socket* from = nullptr;
    tcp::socket* to = nullptr;
    bool up = true;  // towards upstream
    std::array<char, 16384> buffer;
    // Chunks waiting for their delivery time, in order; an empty chunk stands for the end.
    std::deque<std::pair<Clock::time_point, std::string>> queue;
    std::size_t queued_bytes = 0;
    Clock::time_point last_due;
    std::string writing;
    std::unique_ptr<asio::steady_timer> timer;
    bool reading = false;
    bool busy = false;   // a write or a timer wait in progress
    bool ended = false;  // its end was delivered
};

struct Proxy::Pipe {
    Link* link = nullptr;  // links live as long as the proxy
    tcp::socket client;
    tcp::socket server;
    Direction up;
    Direction down;
    bool open = true;
    explicit Pipe(asio::io_context& io) : client(io), server(io) {
        up.from = &client, up.to = &server, up.up = true;
        down.from = &server, down.to = &client, down.up = false;
        up.timer = std::make_unique<asio::steady_timer>(io);
        down.timer = std::make_unique<asio::steady_timer>(io);
    }
};

struct Proxy::Link {
    std::string name;
    std::string listen_text;
    std::string upstream_text;
    tcp::endpoint upstream;
    tcp::acceptor acceptor;
    bool cut = false;
    bool silent_up = false;  // bytes towards upstream are held (read, not delivered)
    bool silent_down = false;
    LatencySampler latency_up;
    LatencySampler latency_down;
    std::string latency_up_text = "0ms";
    std::string latency_down_text = "0ms";
    std::set<std::shared_ptr<Pipe>> pipes;
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
    std::uint64_t connections = 0;
    explicit Link(asio::io_context& io) : acceptor(io) {}
};

struct Proxy::ControlConn {
    tcp::socket socket;
    asio::streambuf in;
    std::string out;
    asio::steady_timer idle;
    bool authenticated = false;
    std::list<std::shared_ptr<ControlConn>>::iterator waiting;  // in unauthenticated_ while not
    // A control line is short: past this without a newline the connection is dropped.
    static constexpr std::size_t line_bytes_max = 4096;
    ControlConn(tcp::socket s, asio::io_context& io)
        : socket(std::move(s)), in(line_bytes_max), idle(io) {}
};

Proxy::Proxy(asio::io_context& io, LatencyParser parser) : io_(io), parser_(std::move(parser)) {}

Proxy::~Proxy() {
    stop();
}

void Proxy::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    if (control_) control_->close(ec);
    for (auto& [name, link] : links_) {
        link->acceptor.close(ec);
        for (const auto& pipe : std::set<std::shared_ptr<Pipe>>(link->pipes))
            close(pipe);
        link->pipes.clear();
    }
}

std::optional<Error> Proxy::add(const std::string& name, const std::string& listen,
                                const std::string& upstream) {
    if (fields_of(name).size() != 1 || fields_of(name)[0] != name)
        return Error{"a link name is one word"};
    if (links_.count(name) == 1) return Error{"link " + name + " exists already"};
    if (links_.size() >= links_max) return Error{"at most " + std::to_string(links_max) + " links"};
    auto at = resolve(io_, listen);
    if (const Error* e = error_of(at)) return *e;
    auto to = resolve(io_, upstream);
    if (const Error* e = error_of(to)) return *e;
    auto link = std::make_shared<Link>(io_);
    link->name = name;
    link->upstream = std::get<tcp::endpoint>(to);
    link->upstream_text = upstream;
    boost::system::error_code ec;
    const tcp::endpoint endpoint = std::get<tcp::endpoint>(at);
    link->acceptor.open(endpoint.protocol(), ec);
    if (!ec) link->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) link->acceptor.bind(endpoint, ec);
    if (!ec) link->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error{"cannot listen on " + listen + ": " + ec.message()};
    const auto local = link->acceptor.local_endpoint();
    link->listen_text = local.address().to_string() + ":" + std::to_string(local.port());
    links_.emplace(name, link);
    accept(link);
    return std::nullopt;
}

std::optional<Error> Proxy::set_latency(const std::string& name, std::string_view direction,
                                        std::string_view distribution) {
    auto it = links_.find(name);
    if (it == links_.end()) return Error{"no link " + name};
    if (direction != "up" && direction != "down" && direction != "both")
        return Error{"expected up, down or both, got '" + std::string(direction) + "'"};
    Link& link = *it->second;
    for (const bool up : {true, false}) {
        if (direction == (up ? "down" : "up")) continue;
        auto sampler = parser_(distribution, name + (up ? "/up" : "/down"));
        if (!sampler)
            return Error{
                "expected a duration or distribution (5ms, uniform(1ms,5ms), "
                "normal(5ms,1ms), exp(5ms)), got '" +
                std::string(distribution) + "'"};
        (up ? link.latency_up : link.latency_down) = std::move(*sampler);
        (up ? link.latency_up_text : link.latency_down_text) = std::string(distribution);
    }
    return std::nullopt;
}

std::optional<Error> Proxy::cut(const std::string& name) {
    auto it = links_.find(name);
    if (it == links_.end()) return Error{"no link " + name};
    it->second->cut = true;
    for (const auto& pipe : std::set<std::shared_ptr<Pipe>>(it->second->pipes))
        close(pipe);
    it->second->pipes.clear();
    return std::nullopt;
}

std::optional<Error> Proxy::restore(const std::string& name) {
    auto it = links_.find(name);
    if (it == links_.end()) return Error{"no link " + name};
    it->second->cut = false;
    return silence(name, false, false);
}

std::optional<Error> Proxy::silence(const std::string& name, bool up, bool down) {
    auto it = links_.find(name);
    if (it == links_.end()) return Error{"no link " + name};
    Link& link = *it->second;
    link.silent_up = up;
    link.silent_down = down;
    // What waited goes on now, in order (its delivery times are past).
    for (const auto& pipe : std::set<std::shared_ptr<Pipe>>(link.pipes)) {
        for (Direction* d : {&pipe->up, &pipe->down}) {
            pump(pipe, *d);
            read(pipe, *d);
        }
    }
    return std::nullopt;
}

std::uint16_t Proxy::port(const std::string& name) const {
    auto it = links_.find(name);
    return it == links_.end() ? 0 : it->second->acceptor.local_endpoint().port();
}

std::string Proxy::list() const {
    std::string out;
    for (const auto& [name, l] : links_) {
        out += "link " + name + " " + l->listen_text + " -> " + l->upstream_text +
               (l->cut ? " cut" : " up") +
               (l->silent_up || l->silent_down
                    ? std::string(" silent ") + (l->silent_up && l->silent_down ? "both"
                                                 : l->silent_up                 ? "up"
                                                                                : "down")
                    : std::string()) +
               " latency up " + l->latency_up_text + " down " + l->latency_down_text +
               " connections " + std::to_string(l->pipes.size()) + "/" +
               std::to_string(l->connections) + " bytes up " + std::to_string(l->bytes_up) +
               " down " + std::to_string(l->bytes_down) + "\n";
    }
    return out;
}

// ---------------------------------------------------------------- connections

void Proxy::accept(const std::shared_ptr<Link>& link) {
    link->acceptor.async_accept(
        [this, link](const boost::system::error_code& ec, tcp::socket socket) {
            if (stopped_ || !link->acceptor.is_open()) return;
            if (!ec && !link->cut) {
                auto pipe = std::make_shared<Pipe>(io_);
                pipe->link = link.get();
                pipe->client = std::move(socket);
                link->pipes.insert(pipe);
                link->connections += 1;
                pipe->server.async_connect(link->upstream,
                                           [this, link, pipe](const boost::system::error_code& e) {
                                               if (!pipe->open) return;
                                               if (e) return finish(pipe);
                                               joined(pipe);
                                           });
            }
            // A cut link takes the connection and closes it at once (the socket goes here).
            if (!ec) return accept(link);
            // Out of descriptors, say: the connection stays in the backlog, so wait a little
            // rather than spin on the same error.
            auto pause = std::make_shared<asio::steady_timer>(io_, accept_pause);
            pause->async_wait([this, link, pause](const boost::system::error_code&) {
                if (!stopped_) accept(link);
            });
        });
}

void Proxy::joined(const std::shared_ptr<Pipe>& pipe) {
    boost::system::error_code ignored;
    pipe->client.set_option(tcp::no_delay(true), ignored);
    pipe->server.set_option(tcp::no_delay(true), ignored);
    read(pipe, pipe->up);
    read(pipe, pipe->down);
}

void Proxy::read(const std::shared_ptr<Pipe>& pipe, Direction& d) {
    if (d.reading || !pipe->open || d.queued_bytes >= queued_bytes_max) return;
    d.reading = true;
    d.from->async_read_some(
        asio::buffer(d.buffer),
        [this, pipe, &d](const boost::system::error_code& ec, std::size_t n) {
            d.reading = false;
            if (!pipe->open) return;
            Link& link = *pipe->link;
            const LatencySampler& sampler = d.up ? link.latency_up : link.latency_down;
            const Duration delay =
                std::clamp(sampler ? sampler() : Duration{}, Duration{}, latency_max);
            // Never before the chunk read before it: each direction stays in order.
            const auto due =
                std::max(Clock::now() + std::chrono::nanoseconds(delay.ns), d.last_due);
            d.last_due = due;
            if (ec && ec != asio::error::eof) {
                // A reset (or any failure) is passed on as one: both ends closed at once, so a
                // truncated stream never looks complete to the other side.
                boost::system::error_code ignored;
                d.to->set_option(asio::socket_base::linger(true, 0), ignored);
                return finish(pipe);
            }
            if (ec) {
                d.queue.emplace_back(due, std::string());  // the end, after the data
                pump(pipe, d);
                return;
            }
            (d.up ? link.bytes_up : link.bytes_down) += n;
            d.queue.emplace_back(due, std::string(d.buffer.data(), n));
            d.queued_bytes += n;
            pump(pipe, d);
            read(pipe, d);
        });
}

// Delivers what is due, in order; waits for the next chunk's time.
void Proxy::pump(const std::shared_ptr<Pipe>& pipe, Direction& d) {
    if (d.busy || d.queue.empty() || !pipe->open) return;
    if (d.up ? pipe->link->silent_up : pipe->link->silent_down) return;  // held until restored
    const auto now = Clock::now();
    if (d.queue.front().first > now) {
        d.busy = true;
        d.timer->expires_at(d.queue.front().first);
        d.timer->async_wait([this, pipe, &d](const boost::system::error_code& ec) {
            d.busy = false;
            if (!ec) pump(pipe, d);
        });
        return;
    }
    d.writing.clear();
    bool end = false;
    while (!d.queue.empty() && d.queue.front().first <= now && !end) {
        end = d.queue.front().second.empty();
        d.writing += d.queue.front().second;
        d.queued_bytes -= d.queue.front().second.size();
        d.queue.pop_front();
    }
    d.busy = true;
    asio::async_write(*d.to, asio::buffer(d.writing),
                      [this, pipe, &d, end](const boost::system::error_code& ec, std::size_t) {
                          d.busy = false;
                          if (!pipe->open) return;
                          if (ec) return finish(pipe);
                          if (end) {
                              boost::system::error_code ignored;
                              d.to->shutdown(tcp::socket::shutdown_send, ignored);
                              d.ended = true;
                              if (pipe->up.ended && pipe->down.ended) return finish(pipe);
                              return;
                          }
                          pump(pipe, d);
                          read(pipe, d);  // if it waited for room
                      });
}

void Proxy::finish(const std::shared_ptr<Pipe>& pipe) {
    close(pipe);
    pipe->link->pipes.erase(pipe);
}

void Proxy::close(const std::shared_ptr<Pipe>& pipe) {
    if (!pipe->open) return;
    pipe->open = false;
    boost::system::error_code ignored;
    pipe->client.close(ignored);
    pipe->server.close(ignored);
    pipe->up.timer->cancel();
    pipe->down.timer->cancel();
}

// ---------------------------------------------------------------- control

std::string Proxy::command(std::string_view line) {
    const auto f = fields_of(line);
    auto answer = [](const std::optional<Error>& e, const std::string& ok) {
        return e ? "? " + e->message + "\n" : "ok" + (ok.empty() ? "" : " " + ok) + "\n";
    };
    if (f.empty()) return "? expected a command: add, latency, cut, restore or list\n";
    const std::string name = f.size() > 1 ? std::string(f[1]) : std::string();
    if (f[0] == "add" && f.size() == 4) {
        const auto e = add(name, std::string(f[2]), std::string(f[3]));
        return answer(e, e ? "" : name + " listening on " + links_.at(name)->listen_text);
    }
    if (f[0] == "latency" && f.size() == 4) return answer(set_latency(name, f[2], f[3]), "");
    if (f[0] == "cut" && f.size() == 2) return answer(cut(name), "");
    if (f[0] == "restore" && f.size() == 2) return answer(restore(name), "");
    if (f[0] == "silence" && f.size() == 3 && (f[2] == "up" || f[2] == "down" || f[2] == "both"))
        return answer(silence(name, f[2] != "down", f[2] != "up"), "");
    if (f[0] == "list" && f.size() == 1)
        return list() + "ok " + std::to_string(links_.size()) + "\n";
    return "? expected `add NAME LISTEN UPSTREAM`, `latency NAME up|down|both DIST`, `cut NAME`, "
           "`silence NAME up|down|both`, `restore NAME` or `list`\n";
}

std::optional<Error> Proxy::listen_control(const std::string& address, std::string token) {
    auto at = resolve(io_, address);
    if (const Error* e = error_of(at)) return *e;
    const tcp::endpoint endpoint = std::get<tcp::endpoint>(at);
    if (token.empty() && !endpoint.address().is_loopback())
        return Error{"a control port off loopback needs a token (--control-token-file)", 2};
    control_token_ = std::move(token);
    control_ = std::make_unique<tcp::acceptor>(io_);
    boost::system::error_code ec;
    control_->open(endpoint.protocol(), ec);
    if (!ec) control_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) control_->bind(endpoint, ec);
    if (!ec) control_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error{"cannot listen on " + address + ": " + ec.message()};
    accept_control();
    return std::nullopt;
}

void Proxy::accept_control() {
    control_->async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopped_) return;
        if (!ec) {
            // Full: the connection that has waited longest without authenticating makes room,
            // so strangers who know no token cannot keep the operator out.
            if (control_open_ >= control_connections_max && !unauthenticated_.empty()) {
                const auto oldest = unauthenticated_.front();  // a copy: closing unlists it
                close_control(oldest);
            }
            if (control_open_ >= control_connections_max) {
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                control_open_ += 1;
                auto c = std::make_shared<ControlConn>(std::move(socket), io_);
                c->authenticated = control_token_.empty();
                if (!c->authenticated)
                    c->waiting = unauthenticated_.insert(unauthenticated_.end(), c);
                read_control(c);
            }
            return accept_control();
        }
        auto pause = std::make_shared<asio::steady_timer>(io_, accept_pause);
        pause->async_wait([this, pause](const boost::system::error_code&) {
            if (!stopped_) accept_control();
        });
    });
}

void Proxy::close_control(const std::shared_ptr<ControlConn>& c) {
    if (!c->socket.is_open()) return;
    if (!c->authenticated) unauthenticated_.erase(c->waiting);
    c->authenticated = true;  // out of unauthenticated_ for good
    boost::system::error_code ignored;
    c->idle.cancel();
    c->socket.close(ignored);
    control_open_ -= 1;
}

// One line, then its reply, then the next; a connection that sends no line for control_idle
// is closed, and with a token the first line must be `auth TOKEN`.
void Proxy::read_control(const std::shared_ptr<ControlConn>& c) {
    c->idle.expires_after(c->authenticated ? control_idle : control_auth_deadline);
    c->idle.async_wait([this, c](const boost::system::error_code& ec) {
        if (!ec) close_control(c);
    });
    asio::async_read_until(
        c->socket, c->in, '\n', [this, c](const boost::system::error_code& ec, std::size_t n) {
            if (ec == asio::error::not_found) {  // a line past ControlConn::line_bytes_max
                c->out = "? a control line is at most 4096 bytes\n";
                asio::async_write(
                    c->socket, asio::buffer(c->out),
                    [this, c](const boost::system::error_code&, std::size_t) { close_control(c); });
                return;
            }
            if (ec || stopped_) return close_control(c);
            const auto data = c->in.data();
            std::string line(asio::buffers_begin(data),
                             asio::buffers_begin(data) + static_cast<std::ptrdiff_t>(n) - 1);
            c->in.consume(n);
            bool close = false;
            c->out = control_reply(*c, line, &close);
            asio::async_write(c->socket, asio::buffer(c->out),
                              [this, c, close](const boost::system::error_code& e, std::size_t) {
                                  if (e || close) return close_control(c);
                                  read_control(c);
                              });
        });
}

std::string Proxy::control_reply(ControlConn& c, std::string_view line, bool* close) {
    if (c.authenticated) return command(line);
    const auto f = fields_of(line);
    const bool right = f.size() == 2 && f[0] == "auth" && f[1].size() == control_token_.size() &&
                       std::equal(f[1].begin(), f[1].end(), control_token_.begin());
    if (!right) {
        *close = true;
        return "? this control port needs `auth TOKEN` first\n";
    }
    unauthenticated_.erase(c.waiting);
    c.authenticated = true;
    return "ok\n";
}

}  // namespace herd::net
