#include "cli/supervisor.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include "core/assert.hpp"
#include "netmode/process.hpp"

namespace herd::cli {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Child {
    ServerCommand command;
    pid_t pid = -1;
    bool running = false;
    bool up = false;       // printed its banner in this life
    bool ever_up = false;  // in any life
    Clock::time_point up_since;
    std::chrono::milliseconds backoff{0};
    int restarts = 0;
    bool restart_pending = false;
    // A life ends once the child is reaped and its output is read to the end (so its last words,
    // and whether it ever printed its banner, are known first).
    std::optional<int> exit_status;
    bool output_closed = false;
    std::unique_ptr<asio::posix::stream_descriptor> output;
    std::unique_ptr<asio::streambuf> buffer;
    std::unique_ptr<asio::steady_timer> restart_timer;
    std::unique_ptr<asio::steady_timer> drain_timer;  // reaped: its output's end is awaited
};

// A child's output line longer than this is printed in pieces of this size.
constexpr std::size_t output_line_bytes_max = 64 << 10;

// How long the output of a reaped child is read on before it is closed (something else, a
// process it started, may hold the pipe open).
constexpr std::chrono::milliseconds output_drain{250};

std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "ended (status " + std::to_string(status) + ")";
}

class Supervisor {
  public:
    Supervisor(const std::vector<ServerCommand>& servers, const SupervisorOptions& options)
        : options_(options), signals_(io_, SIGINT, SIGTERM), child_signals_(io_, SIGCHLD) {
        for (const ServerCommand& s : servers) {
            auto c = std::make_unique<Child>();
            c->command = s;
            c->backoff = options.backoff_initial;
            c->restart_timer = std::make_unique<asio::steady_timer>(io_);
            c->drain_timer = std::make_unique<asio::steady_timer>(io_);
            width_ = std::max(width_, s.name.size());
            children_.push_back(std::move(c));
        }
    }

    int run() {
        wait_stop_signal();
        wait_child_signal();
        for (auto& c : children_) {
            if (!spawn(*c)) {
                stop_all("a server could not be started");
                break;
            }
        }
        if (std::any_of(children_.begin(), children_.end(), [](auto& c) { return c->running; }))
            io_.run();
        return failed_ ? 1 : 0;
    }

  private:
    // A line about a server; problems go to standard error.
    void print(const Child& c, const std::string& line, bool problem = false) {
        (problem ? std::cerr : std::cout)
            << "[" << c.command.name << "]" << std::string(width_ - c.command.name.size(), ' ')
            << " " << line << std::endl;
    }

    bool spawn(Child& c) {
        const auto spawned = net::spawn_child(c.command.args, {});
        if (const Error* e = error_of(spawned)) {
            print(c, "cannot start: " + e->message, true);
            failed_ = true;
            return false;
        }
        c.pid = std::get<net::Child>(spawned).pid;
        c.running = true;
        c.up = false;
        c.exit_status.reset();
        c.output_closed = false;
        c.output = std::make_unique<asio::posix::stream_descriptor>(
            io_, std::get<net::Child>(spawned).output_fd);
        c.buffer = std::make_unique<asio::streambuf>(output_line_bytes_max);
        read_lines(c);
        return true;
    }

    // The child's output, line by line with its name; its banner says it is up.
    void read_lines(Child& c) {
        asio::async_read_until(
            *c.output, *c.buffer, '\n',
            [this, &c, output = c.output.get()](const boost::system::error_code& ec,
                                                std::size_t n) {
                if (output != c.output.get()) return;  // an earlier life's output
                // Full without a newline (not_found): print what there is, and read on.
                const bool piece = ec == asio::error::not_found;
                const auto data = c.buffer->data();
                const std::size_t take = ec ? c.buffer->size() : n;
                std::string line(asio::buffers_begin(data),
                                 asio::buffers_begin(data) + static_cast<std::ptrdiff_t>(take));
                c.buffer->consume(take);
                if (!line.empty() && line.back() == '\n') line.pop_back();
                if (!line.empty()) print(c, line);
                if (!c.up && line.starts_with("herd serve " + c.command.name + ": listening on")) {
                    c.up = c.ever_up = true;
                    c.up_since = Clock::now();
                }
                if (!ec || piece) {
                    read_lines(c);
                    return;
                }
                c.output_closed = true;
                if (c.exit_status) ended(c);
            });
    }

    void wait_stop_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            stop_all(signal == SIGINT ? "interrupted" : "asked to stop");
            wait_stop_signal();
        });
    }

    void wait_child_signal() {
        child_signals_.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec) return;
            for (auto& c : children_) {
                if (!c->running || c->exit_status) continue;
                c->exit_status = net::reap_child(c->pid);
                if (!c->exit_status) continue;
                if (c->output_closed) {
                    ended(*c);
                } else {
                    drain_output(*c);
                }
            }
            wait_child_signal();
        });
    }

    bool done() const {
        return std::none_of(children_.begin(), children_.end(),
                            [this](const auto& c) { return c->running || c->restart_pending; });
    }

    void ended(Child& c);
    void drain_output(Child& c) {
        c.drain_timer->expires_after(output_drain);
        c.drain_timer->async_wait(
            [&c, output = c.output.get()](const boost::system::error_code& ec) {
                if (ec || output != c.output.get() || c.output_closed) return;
                boost::system::error_code ignored;
                c.output->close(ignored);  // its read ends, and with it this life
            });
    }
    void restart_later(Child& c);
    void stop_all(const std::string& why);

    SupervisorOptions options_;
    asio::io_context io_;
    asio::signal_set signals_;
    asio::signal_set child_signals_;
    std::vector<std::unique_ptr<Child>> children_;
    std::unique_ptr<asio::steady_timer> kill_timer_;
    std::size_t width_ = 0;
    bool stopping_ = false;
    bool failed_ = false;
};

void Supervisor::ended(Child& c) {
    HERD_ASSERT(c.running && c.exit_status && c.output_closed);
    c.running = false;
    c.output.reset();
    const int status = *c.exit_status;
    if (stopping_) {
        print(c, "stopped: " + describe(status));
        // Our SIGTERM may reach a child before it has its handler (a stop during start-up).
        const bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                           (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        if (!clean) failed_ = true;
    } else if (!c.ever_up) {
        failed_ = true;
        print(c, "could not start: " + describe(status), true);
        stop_all("server " + c.command.name + " could not start");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        // Stopped cleanly by someone (`kill PID`, the README's way to restart one server): no
        // failure, and back at once.
        print(c, "stopped (exit 0)" + std::string(options_.restart ? "; starting it again" : ""));
        if (options_.restart) {
            c.backoff = std::chrono::milliseconds(0);
            restart_later(c);
            c.backoff = options_.backoff_initial;  // a crash after it still backs off
        }
    } else {
        failed_ = true;
        print(c, "DIED: " + describe(status), true);
        if (options_.restart) restart_later(c);
    }
    if (done()) io_.stop();
}

// Backoff as a process manager's: 1 s doubling to 30 s, back to 1 s after a minute up.
void Supervisor::restart_later(Child& c) {
    if (c.up && Clock::now() - c.up_since >= options_.healthy_after)
        c.backoff = options_.backoff_initial;
    const auto delay = c.backoff;
    c.backoff = std::min(c.backoff * 2, options_.backoff_max);
    print(c, "restarting in " + std::to_string(delay.count() / 1000.0).substr(0, 4) + " s");
    c.restart_pending = true;
    c.restart_timer->expires_after(delay);
    c.restart_timer->async_wait([this, &c](const boost::system::error_code& ec) {
        if (!c.restart_pending) return;  // cancelled by a stop
        c.restart_pending = false;
        if (ec || stopping_) return;
        c.restarts += 1;
        print(c, "restart " + std::to_string(c.restarts));
        if (!spawn(c)) restart_later(c);
    });
}

void Supervisor::stop_all(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    const auto running = std::count_if(children_.begin(), children_.end(),
                                       [](const auto& c) { return c->running && !c->exit_status; });
    std::cout << "herd up: " << why << "; stopping " << running << " running server"
              << (running == 1 ? "" : "s") << std::endl;
    for (auto& c : children_) {
        if (c->restart_pending) {
            c->restart_pending = false;
            c->restart_timer->cancel();
        }
        if (c->running && !c->exit_status) ::kill(c->pid, SIGTERM);
    }
    kill_timer_ = std::make_unique<asio::steady_timer>(io_, options_.stop_grace);
    kill_timer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        for (auto& c : children_) {
            if (c->running && !c->exit_status) ::kill(c->pid, SIGKILL);
        }
    });
    if (done()) io_.stop();
}

}  // namespace

int supervise(const std::vector<ServerCommand>& servers, const SupervisorOptions& options) {
    // A closed stdout (`herd up | head`) must not kill the supervisor and orphan its servers.
    std::signal(SIGPIPE, SIG_IGN);
    // Children stop with us even when we are killed: `herd serve` asks the kernel for SIGTERM
    // when the process named here goes away.
    ::setenv("HERD_SUPERVISOR_PID", std::to_string(::getpid()).c_str(), 1);
    return Supervisor(servers, options).run();
}

}  // namespace herd::cli
