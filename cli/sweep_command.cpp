// `herd sweep BASE.scn --seeds A..B [--jobs N] [--shard I/N] [--out DIR] [--faults LIST]
// [--duration D] [--no-shrink] [--quiet]` and `herd sweep --merge DIR...`: fault schedules
// generated over a base scenario, run in the simulator on threads, every failure written and
// shrunk (sim/sweep.hpp).
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "sim/report.hpp"
#include "sim/sweep.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd sweep BASE.scn --seeds A..B [--jobs N] [--shard I/N] [--out DIR]\n"
    "                  [--faults LIST] [--duration D] [--no-shrink] [--quiet]\n"
    "       herd sweep --merge DIR...\n";

struct Failure {
    std::uint64_t seed;
    std::string signature;
    std::string what;
    std::size_t statements;  // timeline statements of the shrunk scenario
    std::string file;        // the shrunk scenario
};

struct Plan {
    std::string base_file;
    std::string base_text;
    sim::Scenario base;
    std::vector<std::uint64_t> seeds;
    std::string shard = "0/1";
    std::string out;
    sim::SweepConfig config;
    std::size_t jobs = 1;
    bool shrink = true;
    bool quiet = false;
};

std::string read_file(const std::string& path, bool* ok) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    *ok = static_cast<bool>(in) || in.eof();
    return text.str();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    return static_cast<bool>(out);
}

// Seeds first..last (inclusive) from first + index, every `count`-th.
void shard_seeds(std::uint64_t first, std::uint64_t last, std::uint64_t index,
                 std::uint64_t count, std::vector<std::uint64_t>& out) {
    if (last - first < index) return;
    for (std::uint64_t s = first + index;; s += count) {
        out.push_back(s);
        if (last - s < count) return;
    }
}

// "A..B" (inclusive) and "I/N": the seeds of this shard.
bool read_seeds(const po::variables_map& vm, Plan& plan) {
    const std::string range = vm["seeds"].as<std::string>();
    const std::size_t dots = range.find("..");
    const auto a = parse_whole(range.substr(0, dots), UINT64_MAX);
    const auto b = dots == std::string::npos ? a : parse_whole(range.substr(dots + 2), UINT64_MAX);
    plan.shard = vm["shard"].as<std::string>();
    const std::size_t slash = plan.shard.find('/');
    const auto i = parse_whole(plan.shard.substr(0, slash), 1'000'000);
    std::uint64_t n = 0;  // 0: not given or not a number
    if (slash != std::string::npos)
        n = parse_whole(plan.shard.substr(slash + 1), 1'000'000).value_or(0);
    if (!a || !b || *b < *a || *b - *a >= 100'000'000) {
        std::cerr << "herd sweep: --seeds takes A..B with A <= B (at most 10^8 seeds), not '"
                  << range << "'\n" << usage;
        return false;
    }
    if (!i || n == 0 || *i >= n) {
        std::cerr << "herd sweep: --shard takes I/N with 0 <= I < N, not '" << plan.shard << "'\n"
                  << usage;
        return false;
    }
    shard_seeds(*a, *b, *i, n, plan.seeds);
    return true;
}

bool read_plan(const po::variables_map& vm, Plan& plan) {
    plan.base_file = vm["base"].as<std::string>();
    bool ok = false;
    plan.base_text = read_file(plan.base_file, &ok);
    if (!ok) {
        std::cerr << "herd sweep: cannot read " << plan.base_file << "\n";
        return false;
    }
    auto parsed = sim::parse_scenario(plan.base_text, plan.base_file);
    if (const Error* e = error_of(parsed)) {
        std::cerr << e->message << "\n";
        return false;
    }
    plan.base = std::get<sim::Scenario>(std::move(parsed));
    if (!vm.count("seeds")) {
        std::cerr << "herd sweep: --seeds A..B is required\n" << usage;
        return false;
    }
    if (!read_seeds(vm, plan)) return false;
    const auto faults = sim::parse_fault_kinds(vm["faults"].as<std::string>());
    const auto duration = parse_duration(vm["duration"].as<std::string>());
    if (!faults || !duration || duration->ns <= 0 || duration->ns > 3'600'000'000'000) {
        std::cerr << "herd sweep: --faults takes a list of partition, cut, crash, clock, latency, "
                     "places (or all); --duration a positive duration up to 3600s\n"
                  << usage;
        return false;
    }
    plan.config.faults = *faults;
    plan.config.phase = *duration;
    plan.jobs = std::max<std::size_t>(1, vm["jobs"].as<unsigned>());
    plan.out = vm["out"].as<std::string>();
    plan.shrink = !vm.count("no-shrink");
    plan.quiet = vm.count("quiet") > 0;
    std::error_code ec;
    std::filesystem::create_directories(plan.out, ec);
    if (ec || !std::filesystem::is_directory(plan.out)) {
        std::cerr << "herd sweep: --out: cannot make the folder " << plan.out << "\n";
        return false;
    }
    return true;
}

// One seed: generated, run, and when it fails written out and shrunk.
std::optional<Failure> run_seed(const Plan& plan, std::uint64_t seed) {
    const std::string name = "seed-" + std::to_string(seed);
    const std::string text = sim::generate_run(plan.base_text, plan.base, seed, plan.config);
    const sim::RunOutcome outcome = sim::run_scenario_text(text, name + ".scn");
    if (!outcome.failed) return std::nullopt;
    const auto dir = std::filesystem::path(plan.out);
    write_file((dir / (name + ".scn")).string(), text);
    Failure f{seed, outcome.signature, outcome.what, outcome.timeline,
              (dir / (name + ".scn")).string()};
    if (!plan.shrink) return f;
    std::size_t runs = 0;
    const std::string small = sim::shrink_failure(text, name + ".min.scn", outcome, &runs);
    const sim::RunOutcome check = sim::run_scenario_text(small, name + ".min.scn");
    f.statements = check.timeline;
    f.file = (dir / (name + ".min.scn")).string();
    write_file(f.file, "# herd sweep: seed " + std::to_string(seed) + " of " + plan.base_file +
                           ", shrunk from " + std::to_string(outcome.timeline) + " to " +
                           std::to_string(check.timeline) + " timeline statements in " +
                           std::to_string(runs) + " runs\n# fails: " + outcome.signature +
                           "\n# replay: herd sim " + f.file + "\n" + small);
    return f;
}

class Sweep {
  public:
    explicit Sweep(const Plan& plan) : plan_(plan) {}

    void run() {
        const auto started = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        for (std::size_t j = 0; j < std::min(plan_.jobs, plan_.seeds.size()); ++j)
            workers.emplace_back([this] { work(); });
        while (done_ < plan_.seeds.size()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            if (!plan_.quiet) progress(started);
        }
        for (std::thread& t : workers)
            t.join();
        seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (!plan_.quiet) std::cerr << "\n";
        std::sort(failures_.begin(), failures_.end(),
                  [](const Failure& a, const Failure& b) { return a.seed < b.seed; });
    }
    void report(std::ostream& out) const;
    bool write_summary() const;
    bool failed() const { return !failures_.empty(); }

  private:
    void work() {
        for (std::size_t i = next_++; i < plan_.seeds.size(); i = next_++) {
            auto f = run_seed(plan_, plan_.seeds[i]);
            if (f) {
                std::lock_guard<std::mutex> lock(mutex_);
                failures_.push_back(std::move(*f));
            }
            done_ += 1;
        }
    }
    void progress(std::chrono::steady_clock::time_point started) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const std::size_t done = done_;
        const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
        std::lock_guard<std::mutex> lock(mutex_);
        std::cerr << "\rherd sweep: " << done << "/" << plan_.seeds.size() << " runs, "
                  << failures_.size() << " failed, " << static_cast<long>(rate) << " runs/s, "
                  << (rate > 0 ? static_cast<long>(
                                     static_cast<double>(plan_.seeds.size() - done) / rate)
                               : 0)
                  << " s left   " << std::flush;
    }

    const Plan& plan_;
    std::atomic<std::size_t> next_{0};
    std::atomic<std::size_t> done_{0};
    std::mutex mutex_;
    std::vector<Failure> failures_;
    double seconds_ = 0;
};

void Sweep::report(std::ostream& out) const {
    out << "herd sweep " << plan_.base_file << ": " << plan_.seeds.size() << " runs (shard "
        << plan_.shard << "), " << failures_.size() << " failed, in " << seconds_ << " s ("
        << (seconds_ > 0 ? static_cast<double>(plan_.seeds.size()) / seconds_ : 0)
        << " runs/s, " << plan_.jobs << " jobs)\n";
    for (const Failure& f : failures_) {
        out << "FAIL seed " << f.seed << ": " << f.what << "\n     " << f.statements
            << " timeline statements; replay: herd sim " << f.file << "\n";
    }
}

// DIR/summary-I-of-N.txt: what `herd sweep --merge` reads.
bool Sweep::write_summary() const {
    std::string text = "herd-sweep-summary 1\nbase " + plan_.base_file + "\nshard " +
                       plan_.shard + "\nruns " + std::to_string(plan_.seeds.size()) +
                       "\nseconds " + std::to_string(seconds_) + "\n";
    for (const Failure& f : failures_)
        text += "fail " + std::to_string(f.seed) + " " + f.file + " " + f.signature + "\n";
    std::string shard = plan_.shard;
    std::replace(shard.begin(), shard.end(), '/', '-');
    return write_file((std::filesystem::path(plan_.out) / ("summary-" + shard + ".txt")).string(),
                      text);
}

// `--merge DIR...`: every summary file in the folders, added up.
int merge(const std::vector<std::string>& dirs) {
    std::size_t runs = 0, files = 0;
    std::vector<std::string> fails;
    for (const std::string& dir : dirs) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.rfind("summary-", 0) != 0) continue;
            bool ok = false;
            std::istringstream in(read_file(entry.path().string(), &ok));
            files += 1;
            for (std::string line; std::getline(in, line);) {
                if (line.rfind("runs ", 0) == 0) runs += std::stoull(line.substr(5));
                if (line.rfind("fail ", 0) == 0) fails.push_back(line.substr(5));
            }
        }
        if (ec) {
            std::cerr << "herd sweep --merge: cannot read " << dir << ": " << ec.message() << "\n";
            return 2;
        }
    }
    std::cout << "herd sweep --merge: " << files << " summaries, " << runs << " runs, "
              << fails.size() << " failed\n";
    for (const std::string& f : fails)
        std::cout << "FAIL seed " << f << "\n";
    return fails.empty() ? 0 : 1;
}

}  // namespace

int run_sweep(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "seeds", po::value<std::string>(), "the seeds to run: A..B")(
        "jobs", po::value<unsigned>()->default_value(std::max(1u, std::thread::hardware_concurrency())),
        "runs at once (threads)")("shard", po::value<std::string>()->default_value("0/1"),
                                  "take every N-th seed from the I-th (0-based): I/N")(
        "out", po::value<std::string>()->default_value("sweep-out"),
        "folder for failing scenarios, their shrunk forms and the summary")(
        "faults", po::value<std::string>()->default_value("all"),
        "partition,cut,crash,clock,latency,places (or all)")(
        "duration", po::value<std::string>()->default_value("5s"), "length of the fault phase")(
        "no-shrink", "write failures as found, unshrunk")("quiet,q", "no progress on stderr")(
        "merge", po::value<std::vector<std::string>>()->multitoken(),
        "add up the summaries in these folders (one per shard)");
    po::options_description hidden;
    hidden.add_options()("base", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("base", 1);
    po::variables_map vm;
    const CommandLine line{
        "herd sweep", usage,
        "Runs generated fault schedules over a base scenario in the simulator, and shrinks every\n"
        "failure to a minimal scenario. Exit status: 0 none failed, 1 some failed, 2 bad arguments.",
        visible, &hidden, &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    if (vm.count("merge")) return merge(vm["merge"].as<std::vector<std::string>>());
    if (!vm.count("base")) {
        std::cerr << "herd sweep: a base scenario file is required\n" << usage << visible;
        return 2;
    }
    Plan plan;
    if (!read_plan(vm, plan)) return 2;
    Sweep sweep(plan);
    sweep.run();
    sweep.report(std::cout);
    if (!sweep.write_summary()) {
        std::cerr << "herd sweep: cannot write the summary in " << plan.out << "\n";
        return 2;
    }
    return sweep.failed() ? 1 : 0;
}

}  // namespace herd::cli
