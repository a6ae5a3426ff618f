// `herd data check DIR` and `herd data repair DIR`: the salvage tools beside a data folder whose
// start refused (data_format.hpp has the format and the rule of a start).
//
// check: reads every file of the folder, changes nothing, and says for each what a start would
// make of it: intact entries, damaged stretches (offset, bytes, what), a torn tail a start would
// cut, a snapshot's structure, the identity, and torn tails cut by earlier starts.
//
// repair: takes the folder's lock (never beside a running server), and for each file with
// damage writes a new one of every entry whose checksum holds (a snapshot again with its header
// and `#end`), after setting the original aside as FILE.damaged-<unix seconds>; files without
// damage are left alone. A server in a herd then gets what was lost back from its neighbours by
// anti-entropy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "netmode/data_format.hpp"
#include "netmode/data_fs.hpp"

namespace herd::net {

struct DataFileReport {
    std::string name;  // records.log, records.old, snapshot
    bool present = false;
    std::uint64_t size = 0;
    std::uint64_t entries = 0;         // intact record entries
    std::vector<data::Damage> damage;  // stretches that are no intact entry, or no record
    std::uint64_t torn_at = 0;         // a log: where a start would cut (size: nothing)
    // What a start would refuse on (file: offset: what), or nothing when it would load the file.
    std::optional<std::string> refusal;
    bool damaged() const { return !damage.empty() || refusal.has_value(); }
};

struct DataCheck {
    std::string dir;
    std::vector<DataFileReport> files;  // snapshot, records.old, records.log
    std::string identity;               // `server NAME`, or what is wrong with the identity file
    bool identity_ok = true;
    bool snapshot_expected = false;       // the identity says a compaction wrote one
    std::vector<std::string> torn_saved;  // files an earlier start saved torn tails in
    std::vector<std::string> set_aside;   // FILE.damaged-* left by an earlier repair
    bool clean() const;                   // every file intact, nothing to cut
    bool start_refuses() const;
};

// The folder's state; an error when it is missing or a file cannot be read.
Result<DataCheck> check_data_folder(const std::string& dir, DataFs& fs);
std::string format_data_check(const DataCheck& check);

struct DataRepair {
    std::vector<std::string> lines;  // what was done, file by file
    std::uint64_t kept = 0;          // record entries written back
    std::uint64_t lost_bytes = 0;    // bytes of damaged stretches left behind in *.damaged-*
    bool changed = false;
};
Result<DataRepair> repair_data_folder(const std::string& dir, DataFs& fs);

}  // namespace herd::net
