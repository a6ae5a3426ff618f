// RecordStore: the latest known record for every client, and the one home of the conflict rule.
//
// Conflict rule (design §3): a later client time replaces an earlier one; with equal times,
// - TieBreak::first (the seed's rule, default): the record received first is kept;
// - TieBreak::convergent: the greater record under a fixed total order wins (coordinate text,
//   then origin name, then the whole AT line), so every server ends with the same record.
// Times compare exactly (seconds, then nanoseconds).
//
// Records are found through the tree of anti-entropy buckets over a keyed hash of their client ID:
// the records of one hash-prefix bucket are one subtree, whose digest is kept up to date on every
// change. Its cost does not depend on how the IDs hash (see RecordStore's members).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
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

// What the conflict rule compares, taken from either form of a record (a stored Record, or a
// peer's line not yet stored), so that the rule is written once.
struct ConflictKey {
    Timestamp time;
    std::string_view latlon;
    std::string_view origin;
    std::string_view line;  // the whole AT line, the last tie-break
    // A stored record's key leaves latlon and origin empty and points here instead: they are
    // split out of its line only when the rule looks at them (a tie of times).
    const Record* record = nullptr;
    std::string_view latlon_field() const { return record ? record->latlon_text() : latlon; }
    std::string_view origin_field() const { return record ? record->origin() : origin; }
};
ConflictKey conflict_key(const Record& r);
ConflictKey conflict_key(const AtLineView& v);

// True when `incoming` should replace `current` under `rule`. The fields past the time are
// looked at only on a tie.
bool wins(const ConflictKey& incoming, const ConflictKey& current, TieBreak rule);

// The position of a client in the store: SipHash-2-4 of its ID under the herd's key (every server
// of a herd must use the same key: anti-entropy compares buckets of this hash), then the ID
// itself. Client IDs are chosen by clients, and a herd with neither secret nor certificates has a
// key anyone with its herd file can compute: the store's cost must not depend on the key being
// secret (IDs aimed at one bucket only make the tree deeper there). The zero key stands for
// FNV-1a 64, mixed: unkeyed, for tests and tools.
std::uint64_t client_key_hash(std::string_view client, HashKey key = {});

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
// A leaf of the bucket tree splits into bucket_fanout children when it passes this many records
// (unless it is at bucket_depth_max): a lookup's binary search looks at most at 6 of them.
inline constexpr std::size_t leaf_entries_max = 48;

struct BucketId {
    int depth = 0;
    std::uint64_t prefix = 0;
    friend auto operator<=>(const BucketId&, const BucketId&) = default;
};

class RecordStore {
  public:
    explicit RecordStore(TieBreak rule = TieBreak::first, HashKey key = {});
    // The table points into records_: a copy would point into the original. Moves keep the
    // deque's elements where they are.
    RecordStore(const RecordStore&) = delete;
    RecordStore& operator=(const RecordStore&) = delete;
    RecordStore(RecordStore&&) = default;
    RecordStore& operator=(RecordStore&&) = default;

    // When the store changed, *stored (if given) points at the stored record.
    ApplyOutcome apply(Record incoming, const Record** stored = nullptr);
    // The same for a peer's line: a Record is made only when the line is stored. When the store
    // changed, *stored (if given) points at the stored record.
    ApplyOutcome apply(const AtLineView& incoming, const Record** stored = nullptr);
    // Where a client stands: its record (null if none) and the hash that placed it.
    struct Found {
        const Record* record = nullptr;
        std::uint64_t key_hash = 0;
    };
    Found locate(std::string_view client) const;
    // The same as apply(), when the caller has just located incoming.client (saves a second
    // lookup and hash on the hot path).
    ApplyOutcome apply_found(const AtLineView& incoming, Found found, const Record** stored);
    const Record* find(std::string_view client) const { return locate(client).record; }
    std::size_t size() const { return records_.size(); }
    // The bytes of every stored AT line.
    std::size_t line_bytes() const { return line_bytes_; }
    // What the store occupies: its records (Record::bytes_of each), its index and its digest
    // tables. What the store's size limit counts.
    std::size_t memory_bytes() const;
    // What one more record with a line of `line_size` bytes adds, its share of the bucket tree
    // (its entry, the room its leaf keeps for growth, its share of a tree node) included.
    static std::size_t record_cost(std::size_t line_size);
    TieBreak tie_break() const { return rule_; }
    HashKey key() const { return key_; }
    // Tree nodes and leaf entries looked at by every lookup and insertion so far (what client IDs
    // aimed at one bucket would inflate).
    std::uint64_t probes() const { return probes_; }

    // Every record, in the order first stored (for snapshots; O(n), no copies).
    template <typename Visit>
    void for_each(Visit&& visit) const {
        for (const Record& r : records_)
            visit(r);
    }
    // The i-th record in the order first stored (i < size()): a walk that may pause between
    // records (a record is never removed, so positions stay).
    const Record& at(std::size_t i) const { return records_[i]; }
    // Every record, ordered by client ID bytes (for dumps and checks; O(n log n)).
    std::vector<const Record*> sorted() const;

    // The digests of the bucket_fanout children of `bucket` (depth < bucket_depth_max).
    std::array<BucketDigest, bucket_fanout> child_digests(BucketId bucket) const;

    // Where a paced walk through one bucket stands: the walk goes on from the records whose hash
    // is at least `next` (records stored behind it meanwhile wait for the next walk).
    struct Cursor {
        bool started = false;
        std::uint64_t next = 0;
    };
    // The next records of `bucket` (at most `records_max`) from `cursor`, which moves on;
    // `done` once the bucket is exhausted.
    std::vector<const Record*> bucket_records(BucketId bucket, Cursor& cursor,
                                              std::size_t records_max, bool* done) const;

  private:
    // The bucket tree: the anti-entropy tree of buckets itself, grown where records are. A node
    // at depth d is the bucket of its prefix (the top 4*d bits of the key hash). An inner node
    // has bucket_fanout children, stored side by side; a leaf holds its records' (hash, record)
    // entries in hash order (ties in the order stored). Every node keeps the digest of its
    // bucket, updated along one path on every change. A leaf splits when it passes
    // leaf_entries_max, unless it is at bucket_depth_max. Finding a client is one descent and one
    // binary search in a leaf: however client IDs are chosen, the path is at most
    // bucket_depth_max deep and a leaf above that depth holds at most leaf_entries_max entries
    // (a full leaf at the deepest depth needs IDs whose hashes share 60 bits).
    struct Entry {
        std::uint64_t hash = 0;
        Record* record = nullptr;
    };
    struct TreeNode {
        BucketDigest digest;
        std::uint32_t children = 0;  // index of the first child in nodes_; 0: a leaf
        std::vector<Entry> entries;  // a leaf's entries, in hash order
    };
    // The one apply path: `make()` builds the Record to store, called only when it is stored.
    template <typename Make>
    ApplyOutcome apply_key(std::uint64_t key_hash, Record* current, const ConflictKey& incoming,
                           Make&& make, const Record** stored);
    // Adds the deltas to the digest of every node on the path to the leaf of `key_hash`; gives
    // that leaf (and its depth, if asked).
    std::uint32_t account(std::uint64_t key_hash, std::uint64_t sum_delta, std::int64_t count_delta,
                          int* depth = nullptr);
    std::uint32_t leaf_of(std::uint64_t key_hash, int* depth) const;
    Record* lookup(std::uint64_t key_hash, std::string_view client) const;
    void insert(std::uint64_t key_hash, Record record);
    void split(std::uint32_t leaf, int depth);
    void reserve_entries(std::vector<Entry>& entries, std::size_t more);
    // Calls visit(entry) for the entries of hashes in [from, last], in hash order, until it
    // returns false; false if it did.
    template <typename Visit>
    bool walk(std::uint32_t node, BucketId bucket, std::uint64_t from, std::uint64_t last,
              Visit& visit) const;

    TieBreak rule_;
    HashKey key_;
    mutable std::uint64_t probes_ = 0;
    // Records live in a deque (stable addresses, no node per record) and are never removed.
    std::deque<Record> records_;
    std::vector<TreeNode> nodes_;  // nodes_[0] is the root, the bucket of depth 0
    std::size_t entry_bytes_ = 0;  // what every leaf's entries occupy (capacity, heap header)
    std::size_t line_bytes_ = 0;
    std::size_t record_bytes_ = 0;  // Record::bytes_of over every record
};

// The hash of a record's content, as summed in digests.
std::uint64_t record_hash(const Record& r);

}  // namespace herd
