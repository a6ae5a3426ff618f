#include "core/record_store.hpp"

#include <algorithm>

#include "core/assert.hpp"

namespace herd {

bool wins(const Record& incoming, const Record& current, TieBreak rule) {
    if (incoming.time() != current.time()) return incoming.time() > current.time();
    if (rule == TieBreak::first) return false;
    if (incoming.latlon_text() != current.latlon_text()) {
        return incoming.latlon_text() > current.latlon_text();
    }
    if (incoming.origin() != current.origin()) return incoming.origin() > current.origin();
    return incoming.at_line() > current.at_line();
}

ApplyOutcome RecordStore::apply(Record incoming) {
    auto it = records_.find(incoming.client());
    if (it == records_.end()) {
        std::string key(incoming.client());
        records_.emplace(std::move(key), std::move(incoming));
        return ApplyOutcome::inserted;
    }
    Record& current = it->second;
    if (incoming == current) return ApplyOutcome::duplicate;
    if (!wins(incoming, current, rule_)) return ApplyOutcome::kept_current;
    HERD_ASSERT(incoming.time() >= current.time());  // a store never takes an older record
    current = std::move(incoming);
    return ApplyOutcome::replaced;
}

const Record* RecordStore::find(std::string_view client) const {
    auto it = records_.find(client);
    return it == records_.end() ? nullptr : &it->second;
}

std::vector<const Record*> RecordStore::sorted() const {
    std::vector<const Record*> out;
    out.reserve(records_.size());
    for (const auto& [client, record] : records_) out.push_back(&record);
    std::sort(out.begin(), out.end(),
              [](const Record* a, const Record* b) { return a->client() < b->client(); });
    return out;
}

}  // namespace herd
