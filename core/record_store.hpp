// RecordStore: the latest known record for every client, and the one home of the conflict rule.
//
// Conflict rule (design §3): a later client time replaces an earlier one; with equal times,
// - TieBreak::first (the seed's rule, default): the record received first is kept;
// - TieBreak::convergent: the greater record under a fixed total order wins (coordinate text,
//   then origin name, then the whole AT line), so every server ends with the same record.
// Times compare exactly (seconds, then nanoseconds).
//
// Records are kept in the order of a fixed hash of their client ID (then the ID's bytes), which
// is what anti-entropy needs: the records of one hash-prefix bucket are one contiguous range, and
// the digests of the two top levels of buckets are kept up to date on every change.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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

// What the conflict rule looks at.
struct RecordOrder {
    Timestamp time;
    std::string_view latlon;
    std::string_view origin;
    std::string_view line;
};
inline RecordOrder order_of(const Record& r) { return {r.time(), r.latlon_text(), r.origin(), r.at_line()}; }
inline RecordOrder order_of(const AtLineView& v) { return {v.time, v.latlon, v.origin, v.line}; }

// True when `incoming` should replace `current` under `rule`.
bool wins(const RecordOrder& incoming, const RecordOrder& current, TieBreak rule);
inline bool wins(const Record& incoming, const Record& current, TieBreak rule) {
    return wins(order_of(incoming), order_of(current), rule);
}

// The position of a client in the store: FNV-1a 64 of its ID, mixed, then the ID itself.
std::uint64_t client_key_hash(std::string_view client);

// A digest of a set of records: how many, and the sum (mod 2^64) of their record hashes.
// Sums make the digest order-independent and cheap to update.
struct BucketDigest {
    std::uint64_t sum = 0;
    std::uint64_t count = 0;
    friend bool operator==(const BucketDigest&, const BucketDigest&) = default;
};

// Buckets form a 16-ary tree over the key hash: a bucket at depth d is named by the top 4*d
// bits of the hash (its prefix). Depth 0 is the whole store; depth 15 is the deepest. (A
// fanout of 16 costs about half what 64 does per isolated difference: each level descended
// costs one digest of `fanout` entries each way.)
inline constexpr int bucket_fanout_bits = 4;
inline constexpr int bucket_fanout = 1 << bucket_fanout_bits;
inline constexpr int bucket_depth_max = 15;
// The digests of depths 1..bucket_depths_kept are updated on every change; deeper ones are
// computed by scanning the (small) range of records of their parent.
inline constexpr int bucket_depths_kept = 3;

struct BucketId {
    int depth = 0;
    std::uint64_t prefix = 0;
    friend auto operator<=>(const BucketId&, const BucketId&) = default;
};

class RecordStore {
public:
    struct Key {
        std::uint64_t hash;
        std::string client;
    };
    struct KeyView {
        std::uint64_t hash;
        std::string_view client;
    };
    struct KeyLess {
        using is_transparent = void;
        bool operator()(const Key& a, const Key& b) const { return less(a.hash, a.client, b.hash, b.client); }
        bool operator()(const Key& a, const KeyView& b) const { return less(a.hash, a.client, b.hash, b.client); }
        bool operator()(const KeyView& a, const Key& b) const { return less(a.hash, a.client, b.hash, b.client); }
        bool operator()(const Key& a, std::uint64_t h) const { return a.hash < h; }
        bool operator()(std::uint64_t h, const Key& b) const { return h < b.hash; }
        static bool less(std::uint64_t ha, std::string_view ca, std::uint64_t hb, std::string_view cb) {
            return ha != hb ? ha < hb : ca < cb;
        }
    };
    using Map = std::map<Key, Record, KeyLess>;

    explicit RecordStore(TieBreak rule = TieBreak::first);

    ApplyOutcome apply(Record incoming);
    // The same for a peer's line: a Record is made only when the line is stored. When the store
    // changed, *stored (if given) points at the stored record.
    ApplyOutcome apply(const AtLineView& incoming, const Record** stored = nullptr);
    const Record* find(std::string_view client) const;
    std::size_t size() const { return records_.size(); }
    TieBreak tie_break() const { return rule_; }

    // Every record, ordered by client ID bytes (for dumps and checks; O(n log n)).
    std::vector<const Record*> sorted() const;

    // The digests of the 64 children of `bucket` (depth < bucket_depth_max).
    std::array<BucketDigest, bucket_fanout> child_digests(BucketId bucket) const;

    // The records of `bucket` whose key comes after `after` (all when `after` is null), in key
    // order; at most `records_max`. Used to stream a bucket in paced steps.
    std::vector<const Record*> bucket_records(BucketId bucket, const Key* after,
                                              std::size_t records_max) const;

    static Key key_of(const Record& r) { return Key{client_key_hash(r.client()), std::string(r.client())}; }

private:
    void account(std::uint64_t key_hash, std::uint64_t record_hash, bool add);
    Record* lookup(std::uint64_t key_hash, std::string_view client) const;
    void index_insert(std::uint64_t key_hash, Record* record);

    TieBreak rule_;
    Map records_;
    // kept_[d - 1] holds the bucket_fanout^d digests of depth d.
    std::array<std::vector<BucketDigest>, bucket_depths_kept> kept_;
    // A flat open-addressing index from key hash to record, for lookups: the ordered map is
    // for ranges, and walking it costs a cache miss per level. Records are never removed, so
    // linear probing needs no tombstones. Load factor at most 1/2.
    struct IndexSlot {
        std::uint64_t hash = 0;
        Record* record = nullptr;
    };
    std::vector<IndexSlot> index_;
};

// The hash of a record's content, as summed in digests.
std::uint64_t record_hash(const Record& r);

}  // namespace herd
