// herd sweep's summary file, DIR/summary-I-N.txt: a shard's base, seeds, shard, runs, whether it
// completed, and a line per failure. What `herd sweep --merge DIR...` adds up.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace herd::cli {

struct SweepSummary {
    std::string file;  // where it was read from
    std::string base, seeds, shard;
    std::uint64_t runs = 0;
    bool complete = false;
    std::vector<std::pair<std::uint64_t, std::string>> fails;  // seed, "FILE SIGNATURE"
};

std::string summary_text(const SweepSummary& s);
// One summary file; the reason if it is not one.
Result<SweepSummary> read_summary(const std::string& path);
// `--merge DIR...`: prints the summaries of every shard of one sweep, added up. Returns the exit
// status (0 none failed, 1 some did), or the Error (exit 2) when they cannot be read or are not
// every shard of one complete sweep (then after printing what they add up to).
Result<int> merge_sweeps(const std::vector<std::string>& dirs);

}  // namespace herd::cli
