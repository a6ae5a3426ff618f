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

std::uint64_t client_key_hash(std::string_view client, HashKey key) {
    return key.zero() ? mix64(fnv1a64(client)) : siphash24(key, client);
}

std::uint64_t record_hash(const Record& r) {
    return r.content_hash();
}

ConflictKey conflict_key(const Record& r) {
    return ConflictKey{r.time(), r.latlon_text(), r.origin(), r.at_line()};
}

ConflictKey conflict_key(const AtLineView& v) {
    return ConflictKey{v.time, v.latlon, v.origin, v.line};
}

bool wins(const ConflictKey& incoming, const ConflictKey& current, TieBreak rule) {
    if (incoming.time != current.time) return incoming.time > current.time;
    if (rule == TieBreak::first) return false;
    if (incoming.latlon != current.latlon) return incoming.latlon > current.latlon;
    if (incoming.origin != current.origin) return incoming.origin > current.origin;
    return incoming.line > current.line;
}

RecordStore::RecordStore(TieBreak rule, HashKey key)
    : rule_(rule), key_(key), slots_(std::size_t{1} << 4) {}

// Starts keeping the next depth's digests when the store has grown enough for it: filled once
// from the table, then updated by account() on every change.
void RecordStore::keep_next_level() {
    if (levels_kept_ == bucket_depths_kept) return;
    const int depth = levels_kept_ + 1;
    const std::size_t buckets = std::size_t{1} << (bucket_fanout_bits * depth);
    if (records_.size() < buckets * kept_bucket_records_min) return;
    auto& level = kept_[static_cast<std::size_t>(depth - 1)];
    level.assign(buckets, BucketDigest{});
    for (const Slot& slot : slots_) {
        if (slot.record == nullptr) continue;
        BucketDigest& d = level[slot.hash >> (64 - bucket_fanout_bits * depth)];
        d.sum += slot.record->content_hash();
        d.count += 1;
    }
    levels_kept_ = depth;
}

Record* RecordStore::lookup(std::uint64_t key_hash, std::string_view client) const {
    for (std::size_t i = home(key_hash); i < slots_.size() && slots_[i].record != nullptr; ++i) {
        ++probes_;
        if (slots_[i].hash == key_hash && slots_[i].record->client() == client)
            return slots_[i].record;
    }
    return nullptr;
}

void RecordStore::place(std::uint64_t key_hash, Record* record) {
    std::size_t i = home(key_hash);
    while (i < slots_.size() && slots_[i].record != nullptr) {
        ++i;
        ++probes_;
    }
    if (i == slots_.size()) slots_.emplace_back();
    slots_[i] = Slot{key_hash, record};
}

void RecordStore::insert(std::uint64_t key_hash, Record record) {
    records_.push_back(std::move(record));
    if (records_.size() * 2 > (std::size_t{1} << table_bits_)) {
        // Rebuild at twice the size; old slots are walked in order, so the new table is built in
        // hash order too.
        std::vector<Slot> old;
        old.swap(slots_);
        table_bits_ += 1;
        slots_.assign(std::size_t{1} << table_bits_, Slot{});
        for (const Slot& slot : old) {
            if (slot.record != nullptr) place(slot.hash, slot.record);
        }
        generation_ += 1;
    }
    place(key_hash, &records_.back());
    keep_next_level();
}

std::size_t RecordStore::memory_bytes() const {
    std::size_t digests = 0;
    for (const auto& level : kept_)
        digests += level.capacity() * sizeof(BucketDigest);
    return record_bytes_ + slots_.capacity() * sizeof(Slot) + digests;
}

std::size_t RecordStore::record_cost(std::size_t line_size) {
    return Record::bytes_of(line_size) + 2 * sizeof(Slot);
}

void RecordStore::account(std::uint64_t key_hash, std::uint64_t rhash, bool add) {
    for (int depth = 1; depth <= levels_kept_; ++depth) {
        BucketDigest* d = &kept_[static_cast<std::size_t>(depth - 1)]
                                [key_hash >> (64 - bucket_fanout_bits * depth)];
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

template <typename Make>
ApplyOutcome RecordStore::apply_key(std::uint64_t key_hash, Record* current,
                                    const ConflictKey& incoming, Make&& make,
                                    const Record** stored) {
    if (current == nullptr) {
        Record record = make();
        line_bytes_ += record.at_line().size();
        record_bytes_ += Record::bytes_of(record.at_line().size());
        account(key_hash, record_hash(record), true);
        insert(key_hash, std::move(record));
        if (stored != nullptr) *stored = &records_.back();
        return ApplyOutcome::inserted;
    }
    const ConflictKey existing = conflict_key(*current);
    if (incoming.line == existing.line) return ApplyOutcome::duplicate;
    if (!wins(incoming, existing, rule_)) return ApplyOutcome::kept_current;
    HERD_ASSERT(incoming.time >= existing.time);  // a store never takes an older record
    account(key_hash, record_hash(*current), false);
    line_bytes_ -= current->at_line().size();
    record_bytes_ -= Record::bytes_of(current->at_line().size());
    *current = make();
    line_bytes_ += current->at_line().size();
    record_bytes_ += Record::bytes_of(current->at_line().size());
    account(key_hash, record_hash(*current), true);
    if (stored != nullptr) *stored = current;
    return ApplyOutcome::replaced;
}

ApplyOutcome RecordStore::apply(Record incoming, const Record** stored) {
    const std::uint64_t h = client_key_hash(incoming.client(), key_);
    const ConflictKey key = conflict_key(incoming);
    return apply_key(
        h, lookup(h, incoming.client()), key, [&incoming] { return std::move(incoming); }, stored);
}

ApplyOutcome RecordStore::apply(const AtLineView& incoming, const Record** stored) {
    return apply_found(incoming, find(incoming.client), stored);
}

ApplyOutcome RecordStore::apply_found(const AtLineView& incoming, const Record* found,
                                      const Record** stored) {
    HERD_ASSERT(found == nullptr || found->client() == incoming.client);
    return apply_key(
        client_key_hash(incoming.client, key_), const_cast<Record*>(found), conflict_key(incoming),
        [&incoming] { return Record::from_view(incoming); }, stored);
}

const Record* RecordStore::find(std::string_view client) const {
    return lookup(client_key_hash(client, key_), client);
}

std::vector<const Record*> RecordStore::sorted() const {
    std::vector<const Record*> out;
    out.reserve(records_.size());
    for (const Record& r : records_)
        out.push_back(&r);
    std::sort(out.begin(), out.end(),
              [](const Record* a, const Record* b) { return a->client() < b->client(); });
    return out;
}

std::array<BucketDigest, bucket_fanout> RecordStore::child_digests(BucketId bucket) const {
    HERD_ASSERT(bucket.depth < bucket_depth_max);
    if (bucket.depth >= levels_kept_) return scan_child_digests(bucket);
    std::array<BucketDigest, bucket_fanout> out{};
    const auto& level = kept_[static_cast<std::size_t>(bucket.depth)];
    const auto first = level.begin() + static_cast<std::ptrdiff_t>(bucket.prefix * bucket_fanout);
    std::copy(first, first + bucket_fanout, out.begin());
    return out;
}

std::array<BucketDigest, bucket_fanout> RecordStore::scan_child_digests(BucketId bucket) const {
    std::array<BucketDigest, bucket_fanout> out{};
    const HashRange range = range_of(bucket);
    const int child_shift = 64 - bucket_fanout_bits * (bucket.depth + 1);
    const std::size_t last_home = home(range.last);
    for (std::size_t i = home(range.first); i < slots_.size(); ++i) {
        if (slots_[i].record == nullptr) {
            if (i > last_home) break;
            continue;
        }
        const std::uint64_t h = slots_[i].hash;
        if (h < range.first || h > range.last) continue;
        BucketDigest& d = out[(h >> child_shift) & (bucket_fanout - 1)];
        d.sum += slots_[i].record->content_hash();
        d.count += 1;
    }
    return out;
}

std::vector<const Record*> RecordStore::bucket_records(BucketId bucket, Cursor& cursor,
                                                       std::size_t records_max, bool* done) const {
    const HashRange range = range_of(bucket);
    if (!cursor.started || cursor.generation != generation_) {
        cursor = Cursor{true, generation_, home(range.first)};
    }
    const std::size_t last_home = home(range.last);
    std::vector<const Record*> out;
    std::size_t i = cursor.position;
    *done = false;
    for (; i < slots_.size() && out.size() < records_max; ++i) {
        if (slots_[i].record == nullptr) {
            if (i > last_home) break;
            continue;
        }
        const std::uint64_t h = slots_[i].hash;
        if (h >= range.first && h <= range.last) out.push_back(slots_[i].record);
    }
    // Done at the first empty slot past the bucket's last home slot, or at the table's end.
    while (i < slots_.size() && i <= last_home && slots_[i].record == nullptr)
        ++i;
    if (i >= slots_.size() || (i > last_home && slots_[i].record == nullptr)) *done = true;
    cursor.position = i;
    return out;
}

}  // namespace herd
