#include "core/record_store.hpp"

#include <algorithm>

#include "core/assert.hpp"
#include "core/hash.hpp"

namespace herd {

namespace {

struct HashRange {
    std::uint64_t first;
    std::uint64_t last;  // inclusive
};

HashRange range_of(BucketId b) {
    HERD_ASSERT(b.depth >= 0 && b.depth <= bucket_depth_max);
    if (b.depth == 0) return HashRange{0, UINT64_MAX};
    const int shift = 64 - bucket_fanout_bits * b.depth;
    return HashRange{b.prefix << shift, (b.prefix << shift) | ((std::uint64_t{1} << shift) - 1)};
}

}  // namespace

std::uint64_t client_key_hash(std::string_view client) { return mix64(fnv1a64(client)); }

std::uint64_t record_hash(const Record& r) { return r.content_hash(); }

bool wins(const RecordOrder& incoming, const RecordOrder& current, TieBreak rule) {
    if (incoming.time != current.time) return incoming.time > current.time;
    if (rule == TieBreak::first) return false;
    if (incoming.latlon != current.latlon) return incoming.latlon > current.latlon;
    if (incoming.origin != current.origin) return incoming.origin > current.origin;
    return incoming.line > current.line;
}

RecordStore::RecordStore(TieBreak rule) : rule_(rule), index_(16) {
    for (int d = 1; d <= bucket_depths_kept; ++d) {
        kept_[static_cast<std::size_t>(d - 1)].resize(std::size_t{1} << (bucket_fanout_bits * d));
    }
}

Record* RecordStore::lookup(std::uint64_t key_hash, std::string_view client) const {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = key_hash & mask;; i = (i + 1) & mask) {
        const IndexSlot& slot = index_[i];
        if (slot.record == nullptr) return nullptr;
        if (slot.hash == key_hash && slot.record->client() == client) return slot.record;
    }
}

void RecordStore::index_insert(std::uint64_t key_hash, Record* record) {
    if ((records_.size() + 1) * 2 > index_.size()) {
        std::vector<IndexSlot> old(index_.size() * 2);
        old.swap(index_);
        for (const IndexSlot& slot : old) {
            if (slot.record != nullptr) index_insert(slot.hash, slot.record);
        }
    }
    const std::size_t mask = index_.size() - 1;
    std::size_t i = key_hash & mask;
    while (index_[i].record != nullptr) i = (i + 1) & mask;
    index_[i] = IndexSlot{key_hash, record};
}

void RecordStore::account(std::uint64_t key_hash, std::uint64_t rhash, bool add) {
    for (int depth = 1; depth <= bucket_depths_kept; ++depth) {
        BucketDigest* d = &kept_[static_cast<std::size_t>(depth - 1)][key_hash >> (64 - bucket_fanout_bits * depth)];
        if (add) {
            d->sum += rhash;
            d->count += 1;
        } else {
            HERD_ASSERT(d->count > 0);
            d->sum -= rhash;
            d->count -= 1;
        }
    }
}

ApplyOutcome RecordStore::apply(Record incoming) {
    const std::uint64_t h = client_key_hash(incoming.client());
    Record* found = lookup(h, incoming.client());
    if (found == nullptr) {
        account(h, record_hash(incoming), true);
        Key key{h, std::string(incoming.client())};
        auto [pos, inserted] = records_.emplace(std::move(key), std::move(incoming));
        index_insert(h, &pos->second);
        return ApplyOutcome::inserted;
    }
    Record& current = *found;
    if (incoming == current) return ApplyOutcome::duplicate;
    if (!wins(incoming, current, rule_)) return ApplyOutcome::kept_current;
    HERD_ASSERT(incoming.time() >= current.time());  // a store never takes an older record
    account(h, record_hash(current), false);
    account(h, record_hash(incoming), true);
    current = std::move(incoming);
    return ApplyOutcome::replaced;
}

ApplyOutcome RecordStore::apply(const AtLineView& incoming, const Record** stored) {
    const std::uint64_t h = client_key_hash(incoming.client);
    Record* found = lookup(h, incoming.client);
    if (found == nullptr) {
        Record record = Record::from_view(incoming);
        account(h, record_hash(record), true);
        auto [pos, inserted] = records_.emplace(Key{h, std::string(incoming.client)}, std::move(record));
        index_insert(h, &pos->second);
        if (stored != nullptr) *stored = &pos->second;
        return ApplyOutcome::inserted;
    }
    Record& current = *found;
    if (incoming.line == current.at_line()) return ApplyOutcome::duplicate;
    if (!wins(order_of(incoming), order_of(current), rule_)) return ApplyOutcome::kept_current;
    HERD_ASSERT(incoming.time >= current.time());  // a store never takes an older record
    account(h, record_hash(current), false);
    current = Record::from_view(incoming);
    account(h, record_hash(current), true);
    if (stored != nullptr) *stored = &current;
    return ApplyOutcome::replaced;
}

const Record* RecordStore::find(std::string_view client) const {
    return lookup(client_key_hash(client), client);
}

std::vector<const Record*> RecordStore::sorted() const {
    std::vector<const Record*> out;
    out.reserve(records_.size());
    for (const auto& [key, record] : records_) out.push_back(&record);
    std::sort(out.begin(), out.end(),
              [](const Record* a, const Record* b) { return a->client() < b->client(); });
    return out;
}

std::array<BucketDigest, bucket_fanout> RecordStore::child_digests(BucketId bucket) const {
    HERD_ASSERT(bucket.depth < bucket_depth_max);
    std::array<BucketDigest, bucket_fanout> out{};
    if (bucket.depth < bucket_depths_kept) {
        const auto& level = kept_[static_cast<std::size_t>(bucket.depth)];
        const auto first = level.begin() + static_cast<std::ptrdiff_t>(bucket.prefix * bucket_fanout);
        std::copy(first, first + bucket_fanout, out.begin());
        return out;
    }
    const HashRange range = range_of(bucket);
    const int child_shift = 64 - bucket_fanout_bits * (bucket.depth + 1);
    for (auto it = records_.lower_bound(range.first); it != records_.end() && it->first.hash <= range.last;
         ++it) {
        BucketDigest& d = out[(it->first.hash >> child_shift) & (bucket_fanout - 1)];
        d.sum += record_hash(it->second);
        d.count += 1;
    }
    return out;
}

std::vector<const Record*> RecordStore::bucket_records(BucketId bucket, const Key* after,
                                                       std::size_t records_max) const {
    const HashRange range = range_of(bucket);
    auto it = after != nullptr ? records_.upper_bound(*after) : records_.lower_bound(range.first);
    std::vector<const Record*> out;
    for (; it != records_.end() && it->first.hash <= range.last && out.size() < records_max; ++it) {
        if (it->first.hash < range.first) continue;
        out.push_back(&it->second);
    }
    return out;
}

}  // namespace herd
