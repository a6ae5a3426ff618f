// `herd sweep BASE.scn --seeds A..B [--jobs N] [--shard I/N] [--out DIR] [--faults LIST]
// [--duration D] [--no-shrink] [--quiet]` and `herd sweep --merge DIR...`: fault schedules
// generated over a base scenario, run in the simulator on threads, every failure written and
// shrunk (sim/sweep.hpp).
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "cli/sim_command.hpp"
#include "cli/sweep_summary.hpp"
#include "core/assert.hpp"
#include "netmode/files.hpp"
#include "sim/report.hpp"
#include "sim/sweep.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd sweep BASE.scn --seeds A..B [--jobs N] [--shard I/N] [--out DIR]\n"
    "                  [--faults LIST] [--duration D] [--topology same|vary] [--no-shrink]\n"
    "                  [--unshrunk-max N] [--html] [--quiet]\n"
    "       herd sweep --merge DIR...\n";

// Bounds: threads, seeds of one sweep, failures of one kind shrunk (the rest are written as
// found: they fail the same way).
constexpr unsigned jobs_max = 256;
constexpr std::uint64_t seeds_max = 100'000'000;
constexpr std::size_t shrunk_per_signature = 3;
// What a FAIL line quotes of a failure's words (a 60 000-byte client ID would fill a screen).
constexpr std::size_t fail_line_bytes_max = 300;

// SIGINT or SIGTERM: no new seed starts; the summary says how far the sweep got.
std::atomic<bool> stop_requested{false};

struct Failure {
    std::uint64_t seed;
    std::string signature;
    std::string what;
    std::size_t statements;  // timeline statements of the file written
    std::string file;        // the shrunk scenario, or the run as found
};

struct Plan {
    std::string base_file;
    std::string base_text;
    sim::Scenario base;
    std::uint64_t first = 0, last = 0, shard = 0, shards = 1;  // seeds first+shard, +shards, ...
    std::string out;
    sim::SweepConfig config;
    std::size_t jobs = 1;
    bool shrink = true;
    bool quiet = false;
    bool html = false;  // each shrunk failure also as DIR/seed-S.min.html
    // Unshrunk runs written per kind of failure (`--unshrunk-max`); the others are listed but
    // not written (2 000 failing runs with 60 000-byte IDs took 866 MB).
    std::size_t unshrunk_max = 10;

    std::uint64_t count() const {
        return last - first < shard ? 0 : (last - first - shard) / shards + 1;
    }
    std::uint64_t seed(std::uint64_t i) const { return first + shard + i * shards; }
    std::string shard_text() const { return std::to_string(shard) + "/" + std::to_string(shards); }
};

// --seeds "A..B" (inclusive) and --shard "I/N" (0 <= I < N) into `plan`; the Error (exit 2) of
// one that is not that.
std::optional<Error> read_seeds(const CommandLine& line, const po::variables_map& vm, Plan& plan) {
    const std::string range = vm["seeds"].as<std::string>();
    const std::size_t dots = range.find("..");
    const auto a = parse_whole(range.substr(0, dots), UINT64_MAX);
    const auto b = dots == std::string::npos ? a : parse_whole(range.substr(dots + 2), UINT64_MAX);
    if (!a || !b || *b < *a || *b - *a >= seeds_max) {
        return usage_error(
            line, "--seeds takes A..B with A <= B (at most 10^8 seeds), not '" + range + "'");
    }
    const std::string shard = vm["shard"].as<std::string>();
    const std::size_t slash = shard.find('/');
    const auto i = parse_whole(shard.substr(0, slash), 1'000'000);
    std::uint64_t n = 0;  // 0: not given or not a number
    if (slash != std::string::npos) n = parse_whole(shard.substr(slash + 1), 1'000'000).value_or(0);
    if (!i || n == 0 || *i >= n)
        return usage_error(line, "--shard takes I/N with 0 <= I < N <= 10^6, not '" + shard + "'");
    plan.first = *a;
    plan.last = *b;
    plan.shard = *i;
    plan.shards = n;
    return std::nullopt;
}

// The base scenario, its text and its file into `plan` (its warnings printed on stderr); the
// Error (exit 2) when it cannot be read or is malformed (the parser's `file:line: what`).
std::optional<Error> read_base(const po::variables_map& vm, Plan& plan) {
    plan.base_file = vm["base"].as<std::string>();
    std::error_code ec;
    auto text = std::filesystem::is_directory(plan.base_file, ec)
                    ? Result<std::string>(Error{plan.base_file + " is a folder"})
                    : net::read_text_file(plan.base_file, sim::scenario_bytes_max + 1);
    if (const Error* e = error_of(text))
        return Error{"cannot read the scenario file: " + e->message, 2};
    plan.base_text = std::get<std::string>(std::move(text));
    auto parsed = sim::parse_scenario(plan.base_text, plan.base_file);
    if (const Error* e = error_of(parsed)) return with_status(*e, 2);
    plan.base = std::get<sim::Scenario>(std::move(parsed));
    for (const std::string& w : plan.base.warnings)
        std::cerr << w << "\n";
    return std::nullopt;
}

// The base's sends and expectations in the fault phase: generated faults may refuse or fail
// them (a failure then is a finding about the base's own timing); said once, on stderr.
void warn_in_phase(const Plan& plan) {
    const std::int64_t from = plan.config.phase_start.ns;
    const std::int64_t to = from + plan.config.phase.ns;
    int first = 0;
    std::size_t count = 0;
    for (const sim::Step& step : plan.base.steps) {
        const bool exposed =
            std::holds_alternative<sim::SendStep>(step.action) || sim::is_expectation(step.action);
        if (!exposed || step.at.ns < from || step.at.ns > to) continue;
        count += 1;
        if (first == 0) first = step.line;
    }
    if (count > 0)
        std::cerr << plan.base_file << ":" << first << ": warning: " << count
                  << " of the base's sends and expectations fall in the fault phase ("
                  << sim::format_duration(Duration{from}) << " to "
                  << sim::format_duration(Duration{to})
                  << "): generated faults may refuse or fail them\n";
}

// --faults, --duration, --jobs and the switches into `plan`; the Error (exit 2) of the first
// that is wrong.
std::optional<Error> read_run_options(const CommandLine& line, const po::variables_map& vm,
                                      Plan& plan) {
    const auto faults = sim::parse_fault_kinds(vm["faults"].as<std::string>());
    if (!faults) {
        return usage_error(line,
                           "--faults takes a comma-separated list of partition, cut, crash, "
                           "silence, pause, clock, latency, places, clients (or all)");
    }
    const auto duration = parse_duration(vm["duration"].as<std::string>());
    if (!duration || duration->ns <= 0 || duration->ns % 1'000'000 != 0 ||
        duration->ns > 3'600'000'000'000)
        return usage_error(line, "--duration takes whole milliseconds from 1ms to 3600s");
    const auto jobs = whole_flag(line, vm, "jobs", 1, jobs_max);
    if (const Error* e = error_of(jobs)) return *e;
    plan.config.faults = *faults;
    plan.config.phase = *duration;
    plan.jobs = static_cast<std::size_t>(std::get<std::uint64_t>(jobs));
    const std::string topology = vm["topology"].as<std::string>();
    if (topology != "same" && topology != "vary")
        return usage_error(line, "--topology takes same or vary");
    const auto unshrunk = whole_flag(line, vm, "unshrunk-max", 0, seeds_max);
    if (const Error* e = error_of(unshrunk)) return *e;
    plan.config.vary_topology = topology == "vary";
    plan.unshrunk_max = static_cast<std::size_t>(std::get<std::uint64_t>(unshrunk));
    plan.shrink = !vm.count("no-shrink");
    plan.html = vm.count("html") > 0;
    plan.quiet = vm.count("quiet") > 0;
    return std::nullopt;
}

// The summary of a shard: DIR/summary-I-N.txt.
std::string summary_path(const Plan& plan) {
    return plan.out + "/summary-" + std::to_string(plan.shard) + "-" + std::to_string(plan.shards) +
           ".txt";
}

// The output folder, writable, without what an earlier run of these seeds left there (it would
// be mistaken for this run's); other shards' files in a shared folder stay. The Error (exit 2)
// when it cannot be written in.
std::optional<Error> prepare_out(const po::variables_map& vm, Plan& plan) {
    plan.out = std::filesystem::absolute(vm["out"].as<std::string>()).lexically_normal().string();
    std::error_code ec;
    std::filesystem::create_directories(plan.out, ec);
    const std::string probe = plan.out + "/.herd-sweep-probe";
    if (ec || !std::filesystem::is_directory(plan.out) ||
        net::write_text_file(probe, "").has_value())
        return Error{"--out: cannot write in the folder " + plan.out, 2};
    std::filesystem::remove(probe, ec);
    std::filesystem::remove(summary_path(plan), ec);
    for (const auto& entry : std::filesystem::directory_iterator(plan.out, ec)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || name.rfind("seed-", 0) != 0 ||
            !(name.ends_with(".scn") || name.ends_with(".html")))
            continue;
        const std::string digits = name.substr(5, name.find('.') - 5);
        const auto seed = parse_whole(digits, UINT64_MAX);
        if (seed && *seed >= plan.first + plan.shard && *seed <= plan.last &&
            (*seed - plan.first - plan.shard) % plan.shards == 0)
            std::filesystem::remove(entry.path(), ec);
    }
    return std::nullopt;
}

// The HTML report of a written scenario file, or why there is none (the file unreadable or not
// a scenario, the run stopped by a broken assertion, the trace or page not written).
std::optional<Error> render_html(const std::string& file, const std::string& html) {
    auto text = net::read_text_file(file, sim::scenario_bytes_max + 1);
    if (const Error* e = error_of(text)) return *e;
    auto parsed = sim::parse_scenario(std::get<std::string>(text), file);
    if (const Error* e = error_of(parsed)) return Error{"no report of " + file + ": " + e->message};
    const sim::Scenario& sc = std::get<sim::Scenario>(parsed);
    const TempFile temporary("herd-sweep");
    const std::string& trace_path = temporary.path();
    if (trace_path.empty())
        return Error{"no report of " + file + ": no temporary file for its trace"};
    std::ofstream trace(trace_path, std::ios::binary | std::ios::trunc);
    sim::SimOptions options;
    options.trace = &trace;
    sim::SimResult r;
    try {
        const ThrowingAssertions scope;
        r = sim::Simulator(sc, options).run();
    } catch (const AssertionFailure& e) {
        return Error{"no report of " + file + ": the run stopped: " + e.what()};
    }
    trace.close();
    if (!trace) return Error{"no report of " + file + ": cannot write its trace to " + trace_path};
    if (auto e = write_html(html, file, sc, r, trace_path, "herd sim"))
        return Error{"no report of " + file + ": " + e->message};
    return std::nullopt;
}

class Sweep {
  public:
    explicit Sweep(const Plan& plan) : plan_(plan) {}

    void run();
    void report(std::ostream& out) const;
    // Writes DIR/summary-I-N.txt; the Error (exit 2) when it cannot.
    std::optional<Error> write_summary() const;
    bool failed() const { return !failures_.empty(); }
    // What the first failed write of a failure's files said (exit 2), or nothing.
    std::optional<Error> write_error() const {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!write_failed_) return std::nullopt;
        return Error{write_error_, 2};
    }
    bool interrupted() const { return done_ < plan_.count(); }

  private:
    void work();
    std::optional<Failure> run_seed(std::uint64_t seed);
    bool shrink_this(const std::string& signature);
    // Whether this failing run is written as found (the first unshrunk_max of its kind).
    bool write_this(const std::string& signature);
    void progress(std::chrono::steady_clock::time_point started);
    // Records a failed write (the first one's error is kept); false when there was one.
    bool ok(std::optional<Error> e);

    const Plan& plan_;
    std::atomic<std::uint64_t> next_{0};
    std::atomic<std::uint64_t> done_{0};
    std::atomic<bool> write_failed_{false};
    mutable std::mutex mutex_;
    std::string write_error_;  // the first failed write's error
    std::vector<Failure> failures_;
    std::map<std::string, std::size_t> shrunk_;   // per signature, failures shrunk so far
    std::map<std::string, std::size_t> written_;  // per signature, unshrunk runs written
    double seconds_ = 0;
};

void Sweep::run() {
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (std::uint64_t j = 0; j < std::min<std::uint64_t>(plan_.jobs, plan_.count()); ++j)
        workers.emplace_back([this] { work(); });
    for (std::size_t alive = workers.size(); alive > 0;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (!plan_.quiet) progress(started);
        alive = next_ < plan_.count() && !stop_requested && !write_failed_ ? 1 : 0;
    }
    for (std::thread& t : workers)
        t.join();
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!plan_.quiet) std::cerr << "\n";
    std::sort(failures_.begin(), failures_.end(),
              [](const Failure& a, const Failure& b) { return a.seed < b.seed; });
}

void Sweep::work() {
    while (!stop_requested && !write_failed_) {
        const std::uint64_t i = next_++;
        if (i >= plan_.count()) return;
        auto f = run_seed(plan_.seed(i));
        if (f) {
            std::lock_guard<std::mutex> lock(mutex_);
            failures_.push_back(std::move(*f));
        }
        done_ += 1;
    }
}

bool Sweep::shrink_this(const std::string& signature) {
    std::lock_guard<std::mutex> lock(mutex_);
    return plan_.shrink && shrunk_[signature]++ < shrunk_per_signature;
}

bool Sweep::write_this(const std::string& signature) {
    std::lock_guard<std::mutex> lock(mutex_);
    return written_[signature]++ < plan_.unshrunk_max;
}

// One seed: generated, run, and when it fails written out and (the first few of each kind of
// failure) shrunk.
std::optional<Failure> Sweep::run_seed(std::uint64_t seed) {
    const std::string name = "seed-" + std::to_string(seed);
    const sim::GeneratedRun run = sim::generate(plan_.base_text, plan_.base, seed, plan_.config);
    const std::string& text = run.text;
    const sim::RunOutcome outcome = sim::run_scenario_text(text, name + ".scn");
    if (!outcome.failed) return std::nullopt;
    Failure f{seed, outcome.signature, outcome.what, outcome.timeline,
              plan_.out + "/" + name + ".scn"};
    if (write_this(outcome.signature)) {
        ok(net::write_text_file(f.file, text));
    } else {
        f.file.clear();  // listed, not written
    }
    if (!outcome.parsed || !shrink_this(outcome.signature)) return f;
    std::size_t runs = 0;
    const std::string small =
        sim::shrink_failure(text, name + ".min.scn", outcome, &runs, plan_.base_text, run.units);
    const sim::RunOutcome check = sim::run_scenario_text(small, name + ".min.scn");
    f.statements = check.timeline;
    f.file = plan_.out + "/" + name + ".min.scn";
    const std::string header =
        "# herd sweep: seed " + std::to_string(seed) + " of " + plan_.base_file + ", shrunk from " +
        std::to_string(outcome.timeline) + " to " + std::to_string(check.timeline) +
        " timeline statements in " + std::to_string(runs) + " runs\n# fails: " + outcome.signature +
        "\n# replay: herd sim " + f.file +
        (outcome.broken_invariant ? " (it stops there, as a server would)\n" : "\n");
    ok(net::write_text_file(f.file, header + small));
    // The FAIL line cites the file it names: the shrunk one's line (after its header) and time.
    f.what = sim::run_scenario_text(header + small, name + ".min.scn").what;
    // No report of a run cut short by a broken invariant: the file says what failed.
    if (plan_.html && !write_failed_ && !outcome.broken_invariant)
        ok(render_html(f.file, plan_.out + "/" + name + ".min.html"));
    return f;
}

bool Sweep::ok(std::optional<Error> e) {
    if (!e) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!write_failed_) write_error_ = e->message;
    write_failed_ = true;
    return false;
}

void Sweep::progress(std::chrono::steady_clock::time_point started) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::uint64_t done = done_;
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    std::lock_guard<std::mutex> lock(mutex_);
    std::cerr << "\rherd sweep: " << done << "/" << plan_.count() << " runs, " << failures_.size()
              << " failed, " << static_cast<long>(rate) << " runs/s, "
              << (rate > 0 ? static_cast<long>(static_cast<double>(plan_.count() - done) / rate)
                           : 0)
              << " s left   " << std::flush;
}

void Sweep::report(std::ostream& out) const {
    out << "herd sweep " << plan_.base_file << ": " << done_ << " runs (shard "
        << plan_.shard_text() << (interrupted() ? ", INTERRUPTED before the last seeds" : "")
        << "), " << failures_.size() << " failed, in " << seconds_ << " s ("
        << (seconds_ > 0 ? static_cast<double>(done_) / seconds_ : 0) << " runs/s, " << plan_.jobs
        << " jobs)\n";
    for (const Failure& f : failures_) {
        out << "FAIL seed " << f.seed << ": " << f.what.substr(0, fail_line_bytes_max);
        if (f.what.size() > fail_line_bytes_max)
            out << "... (" << f.what.size() << " bytes in all)";
        out << "\n     " << f.statements << " timeline statements; ";
        if (f.file.empty())
            out << "not written (more than " << plan_.unshrunk_max << " of this kind)\n";
        else
            out << "replay: herd sim " << f.file << "\n";
    }
}

// DIR/summary-I-N.txt: what `herd sweep --merge` reads (cli/sweep_summary.hpp).
std::optional<Error> Sweep::write_summary() const {
    SweepSummary s;
    s.base = plan_.base_file;
    s.seeds = std::to_string(plan_.first) + ".." + std::to_string(plan_.last);
    s.shard = plan_.shard_text();
    s.runs = done_;
    s.complete = !interrupted();
    for (const Failure& f : failures_)
        s.fails.emplace_back(f.seed, (f.file.empty() ? "-" : f.file) + " " + f.signature);
    if (auto e = net::write_text_file(summary_path(plan_), summary_text(s)))
        return Error{"cannot write its summary in " + plan_.out + ": " + e->message, 2};
    return std::nullopt;
}

void describe(po::options_description& visible) {
    visible.add_options()("help,h", "show this help")("seeds", po::value<std::string>(),
                                                      "the seeds to run: A..B")(
        "jobs",
        po::value<std::string>()->default_value(
            std::to_string(std::max(1u, std::thread::hardware_concurrency()))),
        "runs at once (threads, 1 to 256)")("shard", po::value<std::string>()->default_value("0/1"),
                                            "take every N-th seed from the I-th (0-based): I/N")(
        "out", po::value<std::string>()->default_value("sweep-out"),
        "folder for failing scenarios, their shrunk forms and the summary")(
        "faults", po::value<std::string>()->default_value("all"),
        "partition,cut,crash,silence,pause,clock,latency,places,clients (or all)")(
        "duration", po::value<std::string>()->default_value("5s"), "length of the fault phase")(
        "topology", po::value<std::string>()->default_value("same"),
        "same, or vary: half the seeds add one to three links and up to two servers to the "
        "base's herd (keeping all of its own)")("no-shrink", "write failures as found, unshrunk")(
        "unshrunk-max", po::value<std::string>()->default_value("10"),
        "failing runs written as found, per kind of failure; the rest are listed, not written")(
        "html", "also write each shrunk failure's HTML report, DIR/seed-S.min.html")(
        "quiet,q", "no progress on stderr")(
        "merge", po::value<std::vector<std::string>>()->multitoken(),
        "add up the summaries in these folders (one per shard)");
}

}  // namespace

int run_sweep(int argc, char** argv) {
    po::options_description visible("options");
    describe(visible);
    po::options_description hidden;
    hidden.add_options()("base", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("base", 1);
    po::variables_map vm;
    const CommandLine line{
        "herd sweep",
        usage,
        "Runs generated fault schedules over a base scenario in the simulator, and shrinks every\n"
        "failure to a minimal scenario. Exit status: 0 none failed, 1 some failed, 2 bad "
        "arguments\n"
        "(or an unwritable output folder), 130 interrupted.",
        visible,
        &hidden,
        &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (vm.count("merge")) {
        if (vm.count("base") || vm.count("seeds"))
            return report(line, usage_error(line, "--merge takes only folders"));
        const auto merged = merge_sweeps(vm["merge"].as<std::vector<std::string>>());
        if (const Error* e = error_of(merged)) return report("herd sweep --merge", *e);
        return std::get<int>(merged);
    }
    if (!vm.count("base") || !vm.count("seeds")) {
        return report(line,
                      usage_error(line, "a base scenario file and --seeds A..B are required"));
    }
    Plan plan;
    std::optional<Error> e = read_base(vm, plan);
    if (!e) e = read_seeds(line, vm, plan);
    if (!e) e = read_run_options(line, vm, plan);
    if (!e) e = prepare_out(vm, plan);
    if (e) return report(line, *e);
    warn_in_phase(plan);
    std::signal(SIGINT, [](int) { stop_requested = true; });
    std::signal(SIGTERM, [](int) { stop_requested = true; });
    Sweep sweep(plan);
    sweep.run();
    sweep.report(std::cout);
    e = sweep.write_error();
    if (!e) e = sweep.write_summary();
    if (e) return report(line, *e);
    if (stop_requested) return 130;
    if (plan.html && !sweep.failed()) std::cout << "--html: no failure, so no report was written\n";
    return sweep.failed() ? 1 : 0;
}

}  // namespace herd::cli
