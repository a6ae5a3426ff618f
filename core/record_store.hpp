// RecordStore: the latest known record for every client, and the one home of the conflict rule.
//
// Conflict rule (design §3): a later client time replaces an earlier one; with equal times,
// - TieBreak::first (the seed's rule, default): the record received first is kept;
// - TieBreak::convergent: the greater record under a fixed total order wins (coordinate text,
//   then origin name, then the whole AT line), so every server ends with the same record.
// Times compare exactly (seconds, then nanoseconds).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/hash.hpp"
#include "core/record.hpp"

namespace herd {

enum class TieBreak { first, convergent };

enum class ApplyOutcome {
    inserted,      // first record for this client
    replaced,      // a later time, or a tie won under the convergent rule
    kept_current,  // the stored record wins (older or tied incoming record)
    duplicate,     // the incoming record is byte-identical to the stored one
};

constexpr bool changed_store(ApplyOutcome o) {
    return o == ApplyOutcome::inserted || o == ApplyOutcome::replaced;
}

// True when `incoming` should replace `current` under `rule`.
bool wins(const Record& incoming, const Record& current, TieBreak rule);

class RecordStore {
public:
    explicit RecordStore(TieBreak rule = TieBreak::first) : rule_(rule) {}

    ApplyOutcome apply(Record incoming);
    const Record* find(std::string_view client) const;
    std::size_t size() const { return records_.size(); }
    TieBreak tie_break() const { return rule_; }

    // Every record, ordered by client ID bytes: the only way to iterate, so no hash order can
    // reach output.
    std::vector<const Record*> sorted() const;

private:
    TieBreak rule_;
    std::unordered_map<std::string, Record, StringHash, std::equal_to<>> records_;
};

}  // namespace herd
