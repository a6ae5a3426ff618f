// herd sweep's summary files (cli/sweep_summary.hpp): the one writer and the one reader of
// DIR/summary-I-N.txt, and `herd sweep --merge`, which adds up the shards of one sweep.
#include "cli/sweep_summary.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "core/text.hpp"
#include "netmode/files.hpp"

namespace herd::cli {

std::string summary_text(const SweepSummary& s) {
    std::string text = "herd-sweep-summary 1\nbase " + s.base + "\nseeds " + s.seeds + "\nshard " +
                       s.shard + "\nruns " + std::to_string(s.runs) + "\ncomplete " +
                       (s.complete ? "yes" : "no") + "\n";
    for (const auto& [seed, what] : s.fails)
        text += "fail " + std::to_string(seed) + " " + what + "\n";
    return text;
}

Result<SweepSummary> read_summary(const std::string& path) {
    const auto text = net::read_text_file(path);
    std::istringstream in(error_of(text) ? std::string() : std::get<std::string>(text));
    SweepSummary s{path, {}, {}, {}, 0, false, {}};
    std::string line;
    if (!std::getline(in, line) || line != "herd-sweep-summary 1")
        return Error{path + ": not a herd sweep summary"};
    std::optional<std::uint64_t> runs;
    while (std::getline(in, line)) {
        const std::size_t sp = line.find(' ');
        const std::string key = line.substr(0, sp);
        const std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (key == "base") s.base = value;
        if (key == "seeds") s.seeds = value;
        if (key == "shard") s.shard = value;
        if (key == "runs") runs = parse_whole(value, UINT64_MAX);
        if (key == "complete") s.complete = value == "yes";
        if (key == "fail") {
            const auto seed = parse_whole(value.substr(0, value.find(' ')), UINT64_MAX);
            if (!seed) return Error{path + ": a fail line without a seed"};
            s.fails.emplace_back(*seed, value.substr(value.find(' ') + 1));
        }
    }
    if (!runs || s.base.empty() || s.seeds.empty() || s.shard.find('/') == std::string::npos)
        return Error{path + ": incomplete summary (base, seeds, shard and runs are needed)"};
    s.runs = *runs;
    return s;
}

namespace {

Result<std::vector<SweepSummary>> read_summaries(const std::vector<std::string>& dirs) {
    std::vector<SweepSummary> out;
    std::set<std::string> seen;
    for (const std::string& dir : dirs) {
        std::error_code ec;
        std::filesystem::directory_iterator it(dir, ec);
        if (ec) return Error{"cannot read " + dir + ": " + ec.message()};
        for (const auto& entry : it) {
            const std::string name = entry.path().filename().string();
            if (!entry.is_regular_file() || name.rfind("summary-", 0) != 0 ||
                !name.ends_with(".txt"))
                continue;
            const std::string path = std::filesystem::canonical(entry.path(), ec).string();
            if (!seen.insert(path).second) continue;  // one folder named twice
            auto s = read_summary(path);
            if (const Error* e = error_of(s)) return *e;
            out.push_back(std::get<SweepSummary>(std::move(s)));
        }
    }
    if (out.empty()) return Error{"no summary-*.txt in the folders given"};
    return out;
}

// Every shard of one sweep, each once and complete; the reason if not.
std::optional<Error> check_shards(const std::vector<SweepSummary>& all) {
    std::set<std::string> shards;
    std::uint64_t count = 0;
    for (const SweepSummary& s : all) {
        if (s.base != all.front().base || s.seeds != all.front().seeds)
            return Error{s.file + " is of another sweep (" + s.base + " seeds " + s.seeds + ")"};
        if (!shards.insert(s.shard).second) return Error{"shard " + s.shard + " twice"};
        if (!s.complete) return Error{s.file + ": that shard was interrupted"};
        const auto n = parse_whole(s.shard.substr(s.shard.find('/') + 1), 1'000'000);
        if (!n || (count != 0 && *n != count)) return Error{s.file + ": shards of different sizes"};
        count = *n;
    }
    std::string missing;
    for (std::uint64_t i = 0; i < count; ++i) {
        if (!shards.count(std::to_string(i) + "/" + std::to_string(count)))
            missing += " " + std::to_string(i) + "/" + std::to_string(count);
    }
    if (!missing.empty()) return Error{"shards missing:" + missing};
    return std::nullopt;
}

}  // namespace

Result<int> merge_sweeps(const std::vector<std::string>& dirs) {
    auto read = read_summaries(dirs);
    if (const Error* e = error_of(read)) return with_status(*e, 2);
    const auto& all = std::get<std::vector<SweepSummary>>(read);
    const auto problem = check_shards(all);
    std::uint64_t runs = 0;
    std::vector<std::pair<std::uint64_t, std::string>> fails;
    for (const SweepSummary& s : all) {
        runs += s.runs;
        fails.insert(fails.end(), s.fails.begin(), s.fails.end());
    }
    std::sort(fails.begin(), fails.end());
    std::cout << "herd sweep --merge: " << all.front().base << " seeds " << all.front().seeds
              << ": " << all.size() << " shards, " << runs << " runs, " << fails.size()
              << " failed\n";
    for (const auto& [seed, what] : fails)
        std::cout << "FAIL seed " << seed << ": " << what << "\n";
    if (problem) return Error{"incomplete: " + problem->message, 2};
    return fails.empty() ? 0 : 1;
}

}  // namespace herd::cli
