#include "core/record_store.hpp"

#include <algorithm>

#include "core/assert.hpp"
#include "core/defects.hpp"
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
    return ConflictKey{r.time(), {}, {}, r.at_line(), &r};
}

ConflictKey conflict_key(const AtLineView& v) {
    return ConflictKey{v.time, v.latlon, v.origin, v.line};
}

bool wins(const ConflictKey& incoming, const ConflictKey& current, TieBreak rule) {
    if (defect(Defect::time_text_fast_path)) {
        const std::string_view a = incoming.line.substr(incoming.line.rfind(' ') + 1);
        const std::string_view b = current.line.substr(current.line.rfind(' ') + 1);
        if (a.size() == b.size() && a != b) return a > b;
    }
    if (defect(Defect::time_compared_in_seconds) && incoming.time.seconds == current.time.seconds)
        return false;
    if (incoming.time != current.time) return incoming.time > current.time;
    if (rule == TieBreak::first) return false;
    const std::string_view a_latlon = incoming.latlon_field();
    const std::string_view b_latlon = current.latlon_field();
    if (a_latlon != b_latlon) return a_latlon > b_latlon;
    if (defect(Defect::convergent_tie_ignores_origin)) return false;
    const std::string_view a_origin = incoming.origin_field();
    const std::string_view b_origin = current.origin_field();
    if (a_origin != b_origin) return a_origin > b_origin;
    return incoming.line > current.line;
}

RecordStore::RecordStore(TieBreak rule, HashKey key) : rule_(rule), key_(key), nodes_(1) {}

namespace {

int child_of(std::uint64_t key_hash, int depth) {
    return static_cast<int>((key_hash >> (64 - bucket_fanout_bits * (depth + 1))) &
                            (bucket_fanout - 1));
}

}  // namespace

std::uint32_t RecordStore::leaf_of(std::uint64_t key_hash, int* depth) const {
    std::uint32_t n = 0;
    int d = 0;
    while (nodes_[n].children != 0) {
        HERD_ASSERT(d < bucket_depth_max);
        n = nodes_[n].children + static_cast<std::uint32_t>(child_of(key_hash, d));
        d += 1;
        ++probes_;
    }
    if (depth != nullptr) *depth = d;
    return n;
}

Record* RecordStore::lookup(std::uint64_t key_hash, std::string_view client) const {
    const std::vector<Entry>& entries = nodes_[leaf_of(key_hash, nullptr)].entries;
    auto it = std::lower_bound(entries.begin(), entries.end(), key_hash,
                               [](const Entry& e, std::uint64_t h) { return e.hash < h; });
    for (; it != entries.end() && it->hash == key_hash; ++it) {
        ++probes_;
        if (it->record->client() == client) return it->record;
    }
    return nullptr;
}

// Grows a leaf's entries by doubling, counting what they occupy.
void RecordStore::reserve_entries(std::vector<Entry>& entries, std::size_t more) {
    if (entries.size() + more <= entries.capacity()) return;
    const std::size_t before = entries.capacity();
    entries.reserve(std::max(entries.size() + more, 2 * before));
    entry_bytes_ -= before == 0 ? 0 : before * sizeof(Entry) + Record::heap_header_bytes;
    entry_bytes_ += entries.capacity() * sizeof(Entry) + Record::heap_header_bytes;
}

// Turns a leaf into an inner node: its entries go to bucket_fanout new leaves (in hash order,
// so each stays sorted), which split again while one is still over the bound.
void RecordStore::split(std::uint32_t leaf, int depth) {
    HERD_ASSERT(depth < bucket_depth_max);
    HERD_ASSERT(nodes_.size() + bucket_fanout <= UINT32_MAX);
    const auto first = static_cast<std::uint32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + bucket_fanout);
    std::vector<Entry> entries;
    entries.swap(nodes_[leaf].entries);
    entry_bytes_ -= entries.capacity() * sizeof(Entry) + Record::heap_header_bytes;
    nodes_[leaf].children = first;
    for (const Entry& e : entries) {
        TreeNode& child = nodes_[first + static_cast<std::uint32_t>(child_of(e.hash, depth))];
        reserve_entries(child.entries, 1);
        child.entries.push_back(e);
        child.digest.sum += e.record->content_hash();
        child.digest.count += 1;
    }
    for (std::uint32_t c = first; c < first + bucket_fanout; ++c) {
        if (nodes_[c].entries.size() > leaf_entries_max && depth + 1 < bucket_depth_max)
            split(c, depth + 1);
    }
}

void RecordStore::insert(std::uint64_t key_hash, Record record) {
    HERD_ASSERT(records_.size() < UINT32_MAX);
    const std::uint64_t rhash = record_hash(record);
    records_.push_back(std::move(record));
    int depth = 0;
    const std::uint32_t leaf = account(key_hash, rhash, 1, &depth);
    std::vector<Entry>& entries = nodes_[leaf].entries;
    reserve_entries(entries, 1);
    const auto at = std::upper_bound(entries.begin(), entries.end(), key_hash,
                                     [](std::uint64_t h, const Entry& e) { return h < e.hash; });
    probes_ += static_cast<std::uint64_t>(entries.end() - at);  // entries moved up
    entries.insert(at, Entry{key_hash, &records_.back()});
    if (entries.size() > leaf_entries_max && depth < bucket_depth_max) split(leaf, depth);
}

std::size_t RecordStore::memory_bytes() const {
    return record_bytes_ + nodes_.capacity() * sizeof(TreeNode) + entry_bytes_;
}

std::size_t RecordStore::record_cost(std::size_t line_size) {
    // An entry, as much again of room its leaf keeps for growth, and a node for every 8 records
    // (a leaf splits into bucket_fanout leaves of about leaf_entries_max / bucket_fanout each,
    // which fill as they grow; the node vector doubles too).
    return Record::bytes_of(line_size) + 2 * sizeof(Entry) + 2 * sizeof(TreeNode) / 8;
}

std::uint32_t RecordStore::account(std::uint64_t key_hash, std::uint64_t sum_delta,
                                   std::int64_t count_delta, int* depth) {
    std::uint32_t n = 0;
    int d = 0;
    while (true) {
        BucketDigest& digest = nodes_[n].digest;
        HERD_ASSERT(count_delta >= 0 || digest.count > 0);
        digest.sum += sum_delta;  // mod 2^64: a difference adds as well as a sum
        digest.count += static_cast<std::uint64_t>(count_delta);
        if (nodes_[n].children == 0) {
            if (depth != nullptr) *depth = d;
            return n;
        }
        n = nodes_[n].children + static_cast<std::uint32_t>(child_of(key_hash, d));
        d += 1;
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
        insert(key_hash, std::move(record));  // accounted on the way down
        if (stored != nullptr) *stored = &records_.back();
        return ApplyOutcome::inserted;
    }
    const ConflictKey existing = conflict_key(*current);
    if (incoming.line == existing.line) return ApplyOutcome::duplicate;
    if (!wins(incoming, existing, rule_)) return ApplyOutcome::kept_current;
    HERD_ASSERT(incoming.time >= existing.time);  // a store never takes an older record
    const std::uint64_t before = record_hash(*current);
    line_bytes_ -= current->at_line().size();
    record_bytes_ -= Record::bytes_of(current->at_line().size());
    *current = make();
    line_bytes_ += current->at_line().size();
    record_bytes_ += Record::bytes_of(current->at_line().size());
    account(key_hash, record_hash(*current) - before, 0);
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
    return apply_found(incoming, locate(incoming.client), stored);
}

ApplyOutcome RecordStore::apply_found(const AtLineView& incoming, Found found,
                                      const Record** stored) {
    HERD_ASSERT(found.record == nullptr || found.record->client() == incoming.client);
    return apply_key(
        found.key_hash, const_cast<Record*>(found.record), conflict_key(incoming),
        [&incoming] { return Record::from_view(incoming); }, stored);
}

RecordStore::Found RecordStore::locate(std::string_view client) const {
    const std::uint64_t h = client_key_hash(client, key_);
    return Found{lookup(h, client), h};
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
    std::array<BucketDigest, bucket_fanout> out{};
    // Down to the bucket's node, or to the leaf that holds the bucket's records.
    std::uint32_t n = 0;
    int d = 0;
    for (; d < bucket.depth && nodes_[n].children != 0; ++d) {
        const int shift = bucket_fanout_bits * (bucket.depth - 1 - d);
        n = nodes_[n].children +
            static_cast<std::uint32_t>((bucket.prefix >> shift) & (bucket_fanout - 1));
    }
    if (nodes_[n].children != 0) {
        for (std::size_t c = 0; c < bucket_fanout; ++c)
            out[c] = nodes_[nodes_[n].children + c].digest;
        return out;
    }
    const HashRange range = range_of(bucket);
    for (const Entry& e : nodes_[n].entries) {
        if (e.hash < range.first || e.hash > range.last) continue;
        BucketDigest& digest = out[static_cast<std::size_t>(child_of(e.hash, bucket.depth))];
        digest.sum += e.record->content_hash();
        digest.count += 1;
    }
    return out;
}

template <typename Visit>
bool RecordStore::walk(std::uint32_t node, BucketId bucket, std::uint64_t from, std::uint64_t last,
                       Visit& visit) const {
    const HashRange range = range_of(bucket);
    if (range.last < from || range.first > last) return true;
    const TreeNode& n = nodes_[node];
    if (n.children == 0) {
        auto it = std::lower_bound(n.entries.begin(), n.entries.end(), from,
                                   [](const Entry& e, std::uint64_t h) { return e.hash < h; });
        for (; it != n.entries.end() && it->hash <= last; ++it) {
            if (!visit(*it)) return false;
        }
        return true;
    }
    HERD_ASSERT(bucket.depth < bucket_depth_max);
    for (std::uint32_t c = 0; c < bucket_fanout; ++c) {
        const BucketId child{bucket.depth + 1, (bucket.prefix << bucket_fanout_bits) | c};
        if (!walk(n.children + c, child, from, last, visit)) return false;
    }
    return true;
}

std::vector<const Record*> RecordStore::bucket_records(BucketId bucket, Cursor& cursor,
                                                       std::size_t records_max, bool* done) const {
    HERD_ASSERT(records_max > 0);
    const HashRange range = range_of(bucket);
    if (!cursor.started) cursor = Cursor{true, range.first};
    std::vector<const Record*> out;
    // Records of one hash are taken together, so that a cursor never stops between them.
    bool more = false;
    std::uint64_t last_hash = 0;
    auto visit = [&](const Entry& e) {
        if (out.size() >= records_max && e.hash != last_hash) {
            more = true;
            return false;
        }
        out.push_back(e.record);
        last_hash = e.hash;
        return true;
    };
    if (cursor.next >= range.first && cursor.next <= range.last)
        walk(0, BucketId{0, 0}, cursor.next, range.last, visit);
    *done = !more;
    if (more) cursor.next = last_hash + 1;  // last_hash < range.last: a record lies past it
    if (more && defect(Defect::paging_resumes_late)) {
        // Resumes past the first record it has not sent.
        std::uint64_t skip = cursor.next;
        bool seen = false;
        auto next_one = [&](const Entry& e) {
            if (seen && e.hash != skip) {
                cursor.next = e.hash;
                return false;
            }
            seen = true;
            skip = e.hash;
            cursor.next = e.hash + 1;
            return true;
        };
        walk(0, BucketId{0, 0}, cursor.next, range.last, next_one);
    }
    return out;
}

}  // namespace herd
