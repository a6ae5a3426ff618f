// The mutation score (`make mutation`): every defect of core/defects.hpp switched on in turn,
// each swept over the shipped sweep bases with the same seed budget, as `herd sweep` would. A
// defect counts as found when some seed's run fails with it and passes without it (so the find
// is the defect's doing, not the herd's); its failure is then shrunk. Prints one line per
// defect and base, then `mutation score: N %` (defects found on at least one base).
//
// Each shrunk file must pass without its defect (else the finding is the shrinker's, and the exit
// status is 1); `--shrunk DIR` writes them there.
//
// Usage: mutation_score [--seeds N] [--jobs J] [--only NAME] [--clean] [--shrunk DIR]
//                       [--print BASE SEED]
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/defects.hpp"
#include "sim/sweep.hpp"

namespace herd::sim {
namespace {

struct Mutant {
    const char* name;
    Defect defect;
};

const Mutant mutants[] = {
    {"sync_skipped_when_empty", Defect::sync_skipped_when_empty},
    {"relay_skips_first_neighbour", Defect::relay_skips_first_neighbour},
    {"skew_doubled_when_behind", Defect::skew_doubled_when_behind},
    {"tie_rule_ignored_on_some_servers", Defect::tie_rule_ignored_on_some_servers},
    {"timer_bound_forgets_flushes", Defect::timer_bound_forgets_flushes},
    {"time_text_fast_path", Defect::time_text_fast_path},
    {"convergent_tie_ignores_origin", Defect::convergent_tie_ignores_origin},
    {"relay_by_linked_position", Defect::relay_by_linked_position},
    {"paging_resumes_late", Defect::paging_resumes_late},
    {"digest_compares_counts_only", Defect::digest_compares_counts_only},
    {"sync_not_started_on_replacement_link", Defect::sync_not_started_on_replacement_link},
    {"no_redial_after_refused_handshake", Defect::no_redial_after_refused_handshake},
    {"no_redial_after_dial_failed", Defect::no_redial_after_dial_failed},
    {"backoff_never_reset", Defect::backoff_never_reset},
    {"flood_batch_timer_not_armed", Defect::flood_batch_timer_not_armed},
    {"heartbeat_late", Defect::heartbeat_late},
    {"peer_lines_capped_at_32k", Defect::peer_lines_capped_at_32k},
    {"fraction_not_scaled", Defect::fraction_not_scaled},
    {"skew_sign_lost_below_one_second", Defect::skew_sign_lost_below_one_second},
    {"leading_zero_refused", Defect::leading_zero_refused},
    {"time_compared_in_seconds", Defect::time_compared_in_seconds},
    {"sync_not_resumed_on_drain", Defect::sync_not_resumed_on_drain},
    {"whatsat_lookup_lower_bound", Defect::whatsat_lookup_lower_bound},
    {"whatsat_cache_refreshed_before_conflict_rule",
     Defect::whatsat_cache_refreshed_before_conflict_rule},
};

struct Base {
    std::string file;
    std::string text;
    Scenario scenario;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Finding {
    std::uint64_t seed = 0;  // 0: not found
    std::size_t runs = 0;
    std::size_t shrunk_statements = 0;
    std::string signature;
    std::string shrunk;        // the shrunk file
    bool shrunk_sound = true;  // it passes without the defect: the failure is the defect's
};

RunOutcome run_with(Defect d, const std::string& text) {
    active_defect() = d;
    RunOutcome o = run_scenario_text(text, "run.scn");
    active_defect() = Defect::none;
    return o;
}

// The first seed whose run fails with the defect and passes without it, shrunk.
Finding sweep(const Mutant& m, const Base& base, std::uint64_t seeds) {
    Finding f;
    SweepConfig config;
    config.vary_topology = true;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        const GeneratedRun run = generate(base.text, base.scenario, seed, config);
        f.runs += 1;
        const RunOutcome o = run_with(m.defect, run.text);
        if (!o.failed || run_with(Defect::none, run.text).failed) continue;
        f.seed = seed;
        f.signature = o.signature;
        active_defect() = m.defect;
        const std::string shrunk =
            shrink_failure(run.text, "min.scn", o, nullptr, base.text, run.units);
        f.shrunk_statements = run_scenario_text(shrunk, "min.scn").timeline;
        active_defect() = Defect::none;
        f.shrunk_sound = !run_with(Defect::none, shrunk).failed;
        f.shrunk = shrunk;
        return f;
    }
    return f;
}

struct Options {
    std::uint64_t seeds = 2000;
    unsigned jobs = 2;
    std::string only;
    bool clean = false;      // --clean: no defect; every seed must pass (no false alarm)
    std::string shrunk_dir;  // --shrunk DIR: each shrunk file written there
};

// Without any defect, every seed of every base must pass: a failure there is a false alarm
// of the generator (or a bug of the herd), and would make every "found" above doubtful.
int clean(const Options& options, const std::vector<Base>& bases) {
    SweepConfig config;
    config.vary_topology = true;
    int failures = 0;
    for (const Base& b : bases) {
        for (std::uint64_t seed = 1; seed <= options.seeds; ++seed) {
            const RunOutcome o =
                run_scenario_text(generate_run(b.text, b.scenario, seed, config), "run.scn");
            if (!o.failed) continue;
            failures += 1;
            std::cout << "FALSE ALARM " << b.file << " seed " << seed << ": "
                      << o.signature.substr(0, 200) << std::endl;
        }
        std::cout << "clean: " << b.file << ", " << options.seeds << " seeds" << std::endl;
    }
    return failures == 0 ? 0 : 1;
}

int run(const Options& options, const std::vector<Base>& bases) {
    std::vector<const Mutant*> todo;
    for (const Mutant& m : mutants) {
        if (options.only.empty() || options.only == m.name) todo.push_back(&m);
    }
    std::vector<std::vector<Finding>> found(todo.size(), std::vector<Finding>(bases.size()));
    std::atomic<std::size_t> next{0};
    std::mutex out;
    auto worker = [&] {
        for (std::size_t i; (i = next++) < todo.size() * bases.size();) {
            const std::size_t m = i / bases.size(), b = i % bases.size();
            found[m][b] = sweep(*todo[m], bases[b], options.seeds);
            const Finding& f = found[m][b];
            std::lock_guard<std::mutex> lock(out);
            std::cout << (f.seed ? "found     " : "NOT FOUND ") << todo[m]->name << " on "
                      << bases[b].file;
            if (f.seed)
                std::cout << ": seed " << f.seed << ", shrunk to " << f.shrunk_statements
                          << " statements"
                          << (f.shrunk_sound ? "" : " (UNSOUND: it fails without the defect too)")
                          << ": " << f.signature.substr(0, 160);
            else
                std::cout << ": none of " << f.runs << " seeds";
            std::cout << std::endl;
        }
    };
    std::vector<std::thread> threads;
    for (unsigned j = 0; j < std::max(1u, options.jobs); ++j)
        threads.emplace_back(worker);
    for (std::thread& t : threads)
        t.join();
    std::size_t score = 0;
    bool sound = true;
    for (std::size_t m = 0; m < found.size(); ++m) {
        for (std::size_t b = 0; b < bases.size(); ++b) {
            const Finding& f = found[m][b];
            sound = sound && f.shrunk_sound;
            if (f.seed == 0 || options.shrunk_dir.empty()) continue;
            std::ofstream(options.shrunk_dir + "/" + todo[m]->name + "." + bases[b].file)
                << f.shrunk;
        }
    }
    for (const auto& per_base : found)
        score += std::any_of(per_base.begin(), per_base.end(),
                             [](const Finding& f) { return f.seed != 0; });
    std::cout << "mutation score: " << score * 100 / todo.size() << " % (" << score << " of "
              << todo.size() << " defects found within " << options.seeds << " seeds per base)"
              << std::endl;
    // A shrunk file that fails without its defect is a shrinker's bug: the finding it shows is
    // not the defect's.
    return sound ? 0 : 1;
}

}  // namespace
}  // namespace herd::sim

int main(int argc, char** argv) {
    using namespace herd::sim;
    Options options;
    std::string print_base;
    std::uint64_t print_seed = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seeds" && i + 1 < argc) {
            options.seeds = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--jobs" && i + 1 < argc) {
            options.jobs = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        } else if (a == "--clean") {
            options.clean = true;
        } else if (a == "--shrunk" && i + 1 < argc) {
            options.shrunk_dir = argv[++i];
        } else if (a == "--only" && i + 1 < argc) {
            options.only = argv[++i];
        } else if (a == "--print" && i + 2 < argc) {
            print_base = argv[++i];
            print_seed = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::cerr << "usage: mutation_score [--seeds N] [--jobs J] [--only NAME] [--clean] "
                         "[--shrunk DIR] [--print BASE SEED]\n";
            return 2;
        }
    }
    std::vector<Base> bases;
    for (const char* name : {"sweep_fall2017.scn", "sweep_random30.scn"}) {
        Base b;
        b.file = name;
        b.text = read_file(std::string(HERD_SOURCE_DIR) + "/scenarios/" + name);
        auto parsed = parse_scenario(b.text, name);
        if (const herd::Error* e = herd::error_of(parsed)) {
            std::cerr << e->message << "\n";
            return 2;
        }
        b.scenario = std::get<Scenario>(std::move(parsed));
        if (print_base == name) {
            SweepConfig config;
            config.vary_topology = true;
            std::cout << generate_run(b.text, b.scenario, print_seed, config);
            return 0;
        }
        bases.push_back(std::move(b));
    }
    return options.clean ? clean(options, bases) : run(options, bases);
}
