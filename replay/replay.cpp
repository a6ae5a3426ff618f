#include "replay/replay.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "netmode/server.hpp"
#include "replay/clients.hpp"
#include "replay/real_herd.hpp"
#include "sim/checker.hpp"
#include "sim/link_faults.hpp"
#include "sim/report.hpp"
#include "sim/trace.hpp"

namespace herd::replay {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t steady_ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// One line of a server's record trace, or a restart, in the order they happened.
struct TraceEvent {
    std::int64_t steady_ns;
    int server;
    bool restart;
    RecordApplied applied;
};

std::optional<TraceEvent> parse_trace_line(const std::string& line, int server) {
    auto r = net::parse_trace_record(line);
    if (!r) return std::nullopt;
    const std::uint64_t line_hash = content_hash_of(r->record);
    return TraceEvent{r->steady_ns, server, false,
                      RecordApplied{std::move(r->record), std::move(r->via), std::move(r->origin),
                                    std::move(r->client), r->client_time, line_hash}};
}

class Run {
  public:
    Run(const sim::Scenario& sc, const ReplayOptions& options)
        : sc_(sc),
          options_(options),
          herd_(sc,
                RealHerdOptions{options.executable, options.folder, options.base_port, sc.seed}),
          faults_(sc.herd.servers.size()),
          trace_(options.trace, false),
          checker_(sc, result_, trace_, options.skew_tolerance) {}

    Result<sim::SimResult> go();

  private:
    void note(const std::string& what) {
        if (options_.note) options_.note(what);
    }
    bool interrupted() const { return options_.interrupted && *options_.interrupted; }
    // False when interrupted meanwhile.
    bool sleep_until(Clock::time_point t) const {
        while (!interrupted()) {
            const auto now = Clock::now();
            if (now >= t) return true;
            std::this_thread::sleep_for(
                std::min<Clock::duration>(t - now, std::chrono::milliseconds(50)));
        }
        return false;
    }
    std::optional<Error> run_timeline(Clients& clients);
    std::optional<Error> run_step(const sim::Step& step, Clients& clients);
    std::optional<Error> run_process_step(const sim::StepAction& a, Clients& clients);
    // What one look at the herd for an expectation reads, fixed at the expectation's time.
    struct Look {
        std::vector<bool> need;  // the stores it looks at
        std::vector<bool> up;    // the servers running then
        std::vector<int> latest_send;
    };
    struct LookAgain {
        std::size_t index;  // in result_.expectations
        std::future<sim::ExpectationResult> result;
    };
    void expect(const sim::Step& step, const Clients& clients);
    sim::ExpectationResult look(const sim::Step& step, const Look& what,
                                const Clients& clients) const;
    struct Window {
        Clock::time_point due, deadline;
        std::size_t next_statement;  // index in the scenario's steps (size: none)
    };
    sim::ExpectationResult look_again(const sim::Step& step, const Look& what,
                                      const Clients& clients, const Window& window,
                                      sim::ExpectationResult first) const;
    void collect_looks_again();
    void replay_traces();

    const sim::Scenario& sc_;
    const ReplayOptions& options_;
    RealHerd herd_;
    sim::LinkFaults faults_;
    sim::SimResult result_;
    sim::Trace trace_;
    sim::Checker checker_;
    Clock::time_point t0_;
    std::vector<std::pair<std::int64_t, int>> restarts_;  // (steady ns, server)
    // `expect visibility` statements, checked when the record traces are read (at the end, in
    // time with their changes): their places among the expectations, and the statements.
    std::vector<std::pair<std::size_t, const sim::Step*>> visibility_checks_;
    std::int64_t late_max_ns_ = 0;
    int late_line_ = 0;
    std::vector<LookAgain> looks_again_;
    std::atomic<std::size_t> started_{0};  // steps whose run has begun
};

Result<sim::SimResult> Run::go() {
    // The start instant leaves time to start the herd and link it; every clock is set for it.
    const auto budget = std::chrono::milliseconds(3000 + 150 * sc_.herd.servers.size());
    t0_ = Clock::now() + budget;
    if (auto e = herd_.start(std::chrono::system_clock::now() + budget)) return *e;
    if (auto e = herd_.wait_linked(t0_)) return Error{"the herd did not start: " + e->message};
    note("herd of " + std::to_string(sc_.herd.servers.size()) + " linked; replaying from t=0");
    std::optional<Error> failed;
    std::optional<sim::HistoryRecorder> history;
    if (options_.history != nullptr) history.emplace(options_.history, nullptr);
    {
        Clients clients(herd_, sc_, t0_, history ? &*history : nullptr);
        // Whatever happens, the second looks end before the clients they read go.
        struct JoinLooks {
            std::vector<LookAgain>& looks;
            ~JoinLooks() {
                for (LookAgain& l : looks)
                    if (l.result.valid()) l.result.wait();
            }
        } join{looks_again_};
        failed = run_timeline(clients);
        collect_looks_again();
        result_.stats.workload_iamats = clients.workload_iamats();
        result_.stats.workload_refused = clients.workload_refused();
    }
    if (history) history->finish(sc_.end());  // what never got a reply: null
    herd_.stop();
    if (interrupted()) return Error{"interrupted; the herd was stopped"};
    // A server that stopped on a failed assertion broke an invariant of its own: said as such.
    for (int s = 0; s < static_cast<int>(sc_.herd.servers.size()); ++s) {
        for (const std::string& a : herd_.assertion_failures(s))
            result_.violations.push_back(
                {sc_.end(),
                 sc_.herd.servers[static_cast<std::size_t>(s)].name.str() + " stopped on " + a,
                 sim::Broken::server_stopped});
    }
    if (failed) return *failed;
    if (late_max_ns_ > 5'000'000)
        note("statements ran up to " + sim::format_latency(late_max_ns_) + " late (line " +
             std::to_string(late_line_) + ")");
    replay_traces();
    const PeerCounters& c = herd_.counters();
    result_.stats.peer_lines = c.peer_lines_sent;
    result_.stats.peer_at_lines = c.peer_records_sent;
    result_.stats.peer_bytes = c.peer_bytes_sent;
    result_.stats.peer_messages = c.peer_writes;
    result_.stats.links_up = c.links_up;
    result_.stats.links_down = c.links_down;
    result_.stats.places_queries = c.places_queries;
    result_.stats.places_failures = herd_.places_failures();
    result_.stats.places_hung = herd_.places_hung();
    result_.end = sc_.end();
    checker_.finish(result_.end);
    return std::move(result_);
}

// Every statement at its time. Workload lines due at an instant wait until its statements ran
// (the simulator's order: statements first), so an expectation never races a workload.
std::optional<Error> Run::run_timeline(Clients& clients) {
    const std::vector<sim::Step>& steps = sc_.steps;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const sim::Step& step = steps[i];
        if (!sleep_until(t0_ + std::chrono::nanoseconds(step.at.ns))) return std::nullopt;
        const std::int64_t late = steady_ns(Clock::now()) - steady_ns(t0_) - step.at.ns;
        if (late > late_max_ns_) {
            late_max_ns_ = late;
            late_line_ = step.line;
        }
        started_ = i + 1;
        if (auto e = run_step(step, clients)) return e;
        const bool last_of_instant = i + 1 == steps.size() || steps[i + 1].at != step.at;
        if (last_of_instant)
            clients.release_before(i + 1 == steps.size() ? Instant{INT64_MAX} : steps[i + 1].at);
    }
    sleep_until(t0_ + std::chrono::nanoseconds(sc_.end().ns));  // `until`
    return std::nullopt;
}

std::optional<Error> Run::run_step(const sim::Step& step, Clients& clients) {
    const sim::StepAction& a = step.action;
    if (sim::is_expectation(a)) {
        expect(step, clients);
    } else if (const auto* send = std::get_if<sim::SendStep>(&a)) {
        result_.stats.sends += 1;
        if (herd_.up(send->server)) {
            clients.send(send->server, send->line, step.at);
        } else {
            result_.stats.sends_refused += 1;
            clients.refuse(send->server);
        }
    } else if (const auto* w = std::get_if<sim::WorkloadStep>(&a)) {
        clients.start_workload(*w, step.at);
    } else if (faults_.apply(a)) {
        herd_.apply(faults_);
    } else {
        return run_process_step(a, clients);
    }
    return std::nullopt;
}

std::optional<Error> Run::run_process_step(const sim::StepAction& a, Clients& clients) {
    if (const auto* pause = std::get_if<sim::PauseStep>(&a)) {
        herd_.pause(pause->server, pause->length);
        return std::nullopt;
    }
    if (const auto* crash = std::get_if<sim::CrashStep>(&a)) {
        clients.set_live(crash->server, false);
        herd_.crash(crash->server);
        return std::nullopt;
    }
    const auto* restart = std::get_if<sim::RestartStep>(&a);
    HERD_ASSERT(restart != nullptr);
    clients.set_live(restart->server, false);
    herd_.crash(restart->server);
    restarts_.emplace_back(steady_ns(Clock::now()), restart->server);
    if (auto e = herd_.restart(restart->server)) return Error{"a restart failed: " + e->message};
    clients.set_live(restart->server, true);
    return std::nullopt;
}

// The servers whose stores an expectation looks at: one, all (converged), or none (a reply).
std::vector<bool> stores_needed(const sim::StepAction& a, std::size_t servers) {
    std::vector<bool> need(servers, std::holds_alternative<sim::ExpectConverged>(a));
    if (const auto* e = std::get_if<sim::ExpectHasAt>(&a))
        need[static_cast<std::size_t>(e->server)] = true;
    if (const auto* e = std::get_if<sim::ExpectHasTime>(&a))
        need[static_cast<std::size_t>(e->server)] = true;
    if (const auto* e = std::get_if<sim::ExpectLacks>(&a))
        need[static_cast<std::size_t>(e->server)] = true;
    return need;
}

// Only the stores it needs, all read at once (a store read late would see a later world), and
// the expectation checked against them. `up`: the servers running at the expectation's time.
sim::ExpectationResult Run::look(const sim::Step& step, const Look& what,
                                 const Clients& clients) const {
    const std::size_t n = sc_.herd.servers.size();
    std::vector<std::future<Result<RecordStore>>> reads(n);
    for (std::size_t s = 0; s < n; ++s) {
        if (what.need[s] && what.up[s])
            reads[s] = std::async(std::launch::async,
                                  [this, s] { return herd_.store(static_cast<int>(s)); });
    }
    std::vector<RecordStore> stores;
    for (std::size_t s = 0; s < n; ++s)
        stores.emplace_back(sc_.tie_break);
    std::vector<const RecordStore*> view(n, nullptr);
    std::string trouble;
    for (std::size_t s = 0; s < n; ++s) {
        if (!reads[s].valid()) {
            if (what.up[s]) view[s] = &stores[s];  // not looked at
            continue;
        }
        auto store = reads[s].get();
        if (const Error* e = error_of(store))
            trouble = e->message;
        else
            stores[s] = std::get<RecordStore>(std::move(store));
        view[s] = &stores[s];
    }
    const std::vector<sim::SimClient> sent = clients.clients();
    sim::ExpectationResult r =
        checker_.check(step.at, step, sim::Observed{view, sent, what.latest_send});
    if (!trouble.empty()) {
        r.pass = false;
        r.found = "could not read a store: " + trouble;
        r.found_kind = sim::Found::store_unreadable;
    }
    return r;
}

// What real delays can only postpone: a record arriving, a herd converging, a reply coming.
// (A `lacks` that fails cannot come to hold by waiting.)
bool may_hold_later(const sim::StepAction& a) {
    return !std::holds_alternative<sim::ExpectLacks>(a);
}

void Run::expect(const sim::Step& step, const Clients& clients) {
    if (std::holds_alternative<sim::ExpectVisibility>(step.action)) {
        visibility_checks_.emplace_back(result_.expectations.size(), &step);
        sim::ExpectationResult r;  // its place, filled in replay_traces
        r.line = step.line;
        r.at = step.at;
        r.text = step.text;
        r.found = "not checked: the servers' record traces were not read";
        r.found_kind = sim::Found::no_updates;
        result_.expectations.push_back(std::move(r));
        return;
    }
    const std::size_t n = sc_.herd.servers.size();
    Look what{stores_needed(step.action, n), std::vector<bool>(n), clients.latest_send()};
    for (std::size_t s = 0; s < n; ++s)
        what.up[s] = herd_.up(static_cast<int>(s));
    sim::ExpectationResult r = look(step, what, clients);
    const Duration tolerance = options_.late_tolerance;
    if (!r.pass && tolerance.ns > 0 && may_hold_later(step.action)) {
        // Only until the next statement that can change the stores starts: a later send must
        // not answer an earlier expectation.
        std::size_t next = static_cast<std::size_t>(&step - sc_.steps.data()) + 1;
        while (next < sc_.steps.size() && sim::is_expectation(sc_.steps[next].action))
            ++next;
        const auto due = t0_ + std::chrono::nanoseconds(step.at.ns);
        const Window window{due, due + std::chrono::nanoseconds(tolerance.ns), next};
        looks_again_.push_back(
            LookAgain{result_.expectations.size(),
                      std::async(std::launch::async, [this, &step, &clients, what, window, r] {
                          try {
                              return look_again(step, what, clients, window, r);
                          } catch (const std::exception& e) {
                              // No second look (no thread, no memory): the first one stands, and
                              // says so.
                              sim::ExpectationResult first = r;
                              first.found += std::string(" (no second look: ") + e.what() + ")";
                              return first;
                          }
                      })});
    }
    result_.expectations.push_back(std::move(r));
}

// Looks again, every few ms, until the expectation holds, the late tolerance is spent or the
// next statement that can change the stores starts; at least once unless that statement already
// started. A pass says how late (at most) it came to hold; otherwise the first look stands.
sim::ExpectationResult Run::look_again(const sim::Step& step, const Look& what,
                                       const Clients& clients, const Window& window,
                                       sim::ExpectationResult first) const {
    auto pause = std::chrono::microseconds(1000);
    bool once = false;
    while (!interrupted() && started_ <= window.next_statement) {
        const auto now = Clock::now();
        if (once && now >= window.deadline) break;
        once = true;
        std::this_thread::sleep_for(
            std::clamp<Clock::duration>(window.deadline - now, Clock::duration{0}, pause));
        pause = std::min(pause * 3 / 2, std::chrono::microseconds(50'000));
        const auto at = Clock::now();
        sim::ExpectationResult r = look(step, what, clients);
        if (r.pass && started_ <= window.next_statement) {
            r.late = Duration{steady_ns(at) - steady_ns(window.due)};
            return r;
        }
    }
    return first;
}

// The second looks, in the expectations' places; before the clients and the herd go.
void Run::collect_looks_again() {
    for (LookAgain& l : looks_again_) {
        sim::ExpectationResult r = l.result.get();
        if (r.pass)
            note("line " + std::to_string(r.line) + " held " + sim::format_latency(r.late.ns) +
                 " after its time (within --late-tolerance)");
        result_.expectations[l.index] = std::move(r);
    }
    looks_again_.clear();
}

// The servers' record traces, merged in time with the restarts, through the Checker: the
// invariants, the updates and the propagation figures, as the simulator computes them.
void Run::replay_traces() {
    std::vector<TraceEvent> events;
    for (const auto& [ns, s] : restarts_)
        events.push_back(TraceEvent{ns, s, true, {}});
    for (int s = 0; s < static_cast<int>(sc_.herd.servers.size()); ++s) {
        for (const std::string& file : herd_.traces(s)) {
            std::ifstream in(file);
            for (std::string line; std::getline(in, line);) {
                if (auto e = parse_trace_line(line, s)) events.push_back(std::move(*e));
            }
            if (!options_.trace_dir.empty()) {
                std::error_code ec;
                std::filesystem::copy_file(file,
                                           std::filesystem::path(options_.trace_dir) /
                                               std::filesystem::path(file).filename(),
                                           std::filesystem::copy_options::overwrite_existing, ec);
            }
        }
    }
    std::stable_sort(events.begin(), events.end(), [](const TraceEvent& a, const TraceEvent& b) {
        return a.steady_ns < b.steady_ns || (a.steady_ns == b.steady_ns && a.restart && !b.restart);
    });
    const std::int64_t t0 = steady_ns(t0_);
    // `expect visibility` at its time: after the changes before it, as in the simulator.
    std::size_t next_check = 0;
    auto check_until = [&](Instant t) {
        for (; next_check < visibility_checks_.size(); ++next_check) {
            const auto [index, step] = visibility_checks_[next_check];
            if (step->at >= t) return;
            static const std::vector<const RecordStore*> stores;
            static const std::vector<sim::SimClient> clients;
            static const std::vector<int> latest;
            result_.expectations[index] =
                checker_.check(step->at, *step, sim::Observed{stores, clients, latest});
        }
    };
    for (const TraceEvent& e : events) {
        check_until(Instant{e.steady_ns - t0});
        if (e.restart)
            checker_.restarted(Instant{e.steady_ns - t0}, e.server);
        else
            checker_.applied(Instant{e.steady_ns - t0}, e.server, e.applied);
    }
    check_until(Instant{INT64_MAX});
}

}  // namespace

std::optional<Error> replay_refusal(const sim::Scenario& sc) {
    const std::size_t n = sc.herd.servers.size();
    if (n > replay_servers_max)
        return Error{sc.file + ": a herd of " + std::to_string(n) +
                     " servers; herd replay runs at most " + std::to_string(replay_servers_max) +
                     " on one machine (herd sim runs any size)"};
    // The highest rate of the workloads running at once (a rate changes only where one starts).
    std::uint64_t rate = 0;
    std::uint64_t clients = 0;
    for (const sim::Step& start : sc.steps) {
        if (!std::holds_alternative<sim::WorkloadStep>(start.action)) continue;
        std::uint64_t at_once = 0;
        for (const sim::Step& step : sc.steps) {
            const auto* w = std::get_if<sim::WorkloadStep>(&step.action);
            if (w && step.at <= start.at && start.at < step.at + w->length)
                at_once += w->rate_per_s;
        }
        rate = std::max(rate, at_once);
        clients = std::max(clients, std::get<sim::WorkloadStep>(start.action).clients);
    }
    if (rate > replay_workload_rate_max)
        return Error{sc.file + ": workloads of " + std::to_string(rate) +
                     " IAMATs/s at once; herd replay drives at most " +
                     std::to_string(replay_workload_rate_max) + "/s on one machine"};
    if (clients > replay_workload_clients_max)
        return Error{sc.file + ": a workload of " + std::to_string(clients) +
                     " clients; herd replay takes at most " +
                     std::to_string(replay_workload_clients_max)};
    const auto jump = std::find_if(sc.steps.begin(), sc.steps.end(), [](const sim::Step& s) {
        return std::holds_alternative<sim::ClockJumpStep>(s.action);
    });
    const bool drift = std::any_of(sc.clock_drift_ppm.begin(), sc.clock_drift_ppm.end(),
                                   [](const auto& d) { return d.second != 0; });
    if (jump != sc.steps.end() || drift)
        return Error{(jump != sc.steps.end()
                          ? sc.file + ":" + std::to_string(jump->line) + ": clock jumps run"
                          : sc.file + ": clock drift runs") +
                     " only in herd sim: a real server's clock is set once, at its start "
                     "(herd serve --clock-offset)"};
    // The clients' history (issue 29) is the simulator's alone so far: a replay would send no
    // reads and could check no session expectation.
    const auto clients_view =
        std::find_if(sc.steps.begin(), sc.steps.end(), [](const sim::Step& s) {
            const auto* w = std::get_if<sim::WorkloadStep>(&s.action);
            return (w && (w->reads_per_s > 0 || w->sessions)) ||
                   std::holds_alternative<sim::ExpectSessions>(s.action);
        });
    if (clients_view != sc.steps.end())
        return Error{sc.file + ":" + std::to_string(clients_view->line) +
                     ": workload reads and sessions, and `expect sessions`, run only in herd sim "
                     "for now: herd replay's workloads send IAMATs only, and it checks no client "
                     "history as it goes (--history records one for herd check)"};
    if (sc.end().ns > replay_length_max_ns)
        return Error{sc.file + ": runs " + sim::format_duration(Duration{sc.end().ns}) +
                     "; herd replay runs at most 10 minutes of scenario time"};
    return std::nullopt;
}

namespace {

std::string calibration_scenario(int servers, int updates) {
    std::string text = "# herd replay --calibrate\nherd line " + std::to_string(servers) +
                       "\nseed 1\nlatency 1ms\n";
    for (int i = 0; i < updates; ++i) {
        text += "at " + std::to_string(200 + 20 * i) + "ms send s1 IAMAT calibrate" +
                std::to_string(i) + " +1.0+1.0 {now}\n";
    }
    return text + "at " + std::to_string(200 + 20 * updates + 500) + "ms expect converged\n";
}

}  // namespace

Result<Calibration> calibrate(const ReplayOptions& options, int servers, int updates) {
    auto parsed = sim::parse_scenario(calibration_scenario(servers, updates), "calibration");
    if (const Error* e = error_of(parsed)) return *e;
    Calibration c{std::get<sim::Scenario>(std::move(parsed)), {}, {}, {}, {}};
    auto run = replay(c.scenario, options);
    if (const Error* e = error_of(run)) return *e;
    c.result = std::get<sim::SimResult>(std::move(run));
    // p50(h) = h x (1 ms + cost): fit the cost through zero over every hop distance.
    double weighted = 0, squares = 0;
    for (const auto& [h, samples] : c.result.propagation_by_hops) {
        if (h <= 0 || samples.empty()) continue;
        const double extra = static_cast<double>(sim::percentiles(samples).p50 - h * 1'000'000);
        weighted += h * extra;
        squares += h * h;
    }
    if (squares == 0) return Error{"calibration: no update reached another server"};
    c.per_hop_p50 =
        Duration{std::max<std::int64_t>(static_cast<std::int64_t>(weighted / squares), 0)};
    const auto one = c.result.propagation_by_hops.find(1);
    if (one != c.result.propagation_by_hops.end() && !one->second.empty()) {
        const sim::Percentiles p = sim::percentiles(one->second);
        c.spread = Duration{static_cast<std::int64_t>(static_cast<double>(p.p90 - p.p50) / 1.2816)};
    }
    // Whole microseconds: what a scenario line would say.
    const auto us = [](Duration d) { return std::to_string((d.ns + 500) / 1000) + "us"; };
    c.processing_line = "processing normal(" + us(c.per_hop_p50) + "," + us(c.spread) + ")";
    return c;
}

Result<sim::SimResult> replay(const sim::Scenario& scenario, const ReplayOptions& options) {
    if (auto e = replay_refusal(scenario)) return *e;
    ReplayOptions o = options;
    if (o.folder.empty())
        o.folder =
            (std::filesystem::temp_directory_path() / ("herd-replay-" + std::to_string(::getpid())))
                .string();
    std::error_code ec;
    std::filesystem::create_directories(o.folder, ec);
    if (ec) return Error{"cannot make " + o.folder + ": " + ec.message()};
    if (!o.trace_dir.empty()) std::filesystem::create_directories(o.trace_dir, ec);
    Result<sim::SimResult> result = Error{""};
    {
        Run run(scenario, o);
        result = run.go();
    }
    if (const Error* e = error_of(result); e && !o.keep && !(o.interrupted && *o.interrupted))
        return Error{e->message + " (the run's files are kept in " + o.folder + ")"};
    if (!o.keep) std::filesystem::remove_all(o.folder, ec);
    return result;
}

}  // namespace herd::replay
