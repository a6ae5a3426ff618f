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
};
ConflictKey conflict_key(const Record& r);
ConflictKey conflict_key(const AtLineView& v);

// True when `incoming` should replace `current` under `rule`. The fields past the time are
// looked at only on a tie.
bool wins(const ConflictKey& incoming, const ConflictKey& current, TieBreak rule);

// The position of a client in the store: SipHash-2-4 of its ID under the herd's key (every server
// of a herd must use the same key: anti-entropy compares buckets of this hash), then the ID
// itself. Client IDs are chosen by clients: with a key they cannot know, they cannot make their
// IDs share a bucket or a run of the table (hash flooding). The zero key stands for FNV-1a 64,
// mixed: unkeyed, for tests and tools that need no defence.
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
// The digests of depths 1..bucket_depths_kept are updated on every change once the store is big
// enough for them (below, and deeper, they are computed by scanning the small range of records
// of their parent): depth d is kept from bucket_fanout^d * kept_bucket_records_min records on
// (64, 1 024 and 16 384), so a small store holds no digest table it would fill with zeros (a
// herd of 300 simulated servers held 21 MB of them, touched on every change).
inline constexpr int bucket_depths_kept = 3;
inline constexpr std::size_t kept_bucket_records_min = 4;

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
    // The same, when the caller has just looked the client up: `current` is what find() gave
    // for incoming.client (saves a second lookup on the hot path).
    ApplyOutcome apply_found(const AtLineView& incoming, const Record* current,
                             const Record** stored);
    const Record* find(std::string_view client) const;
    std::size_t size() const { return records_.size(); }
    // The bytes of every stored AT line.
    std::size_t line_bytes() const { return line_bytes_; }
    // What the store occupies: its records (Record::bytes_of each), its index and its digest
    // tables. What the store's size limit counts.
    std::size_t memory_bytes() const;
    // What one more record with a line of `line_size` bytes adds, its share of the index (two
    // slots, the index's least room per record) included.
    static std::size_t record_cost(std::size_t line_size);
    TieBreak tie_break() const { return rule_; }
    HashKey key() const { return key_; }
    // Table slots looked at by every lookup and insertion so far (what hash flooding inflates).
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

    // Where a paced walk through one bucket stands. A walk restarts (sending some records
    // again, which is harmless) if the table grew in the meantime.
    struct Cursor {
        bool started = false;
        std::uint64_t generation = 0;
        std::size_t position = 0;
    };
    // The next records of `bucket` (at most `records_max`) from `cursor`, which moves on;
    // `done` once the bucket is exhausted.
    std::vector<const Record*> bucket_records(BucketId bucket, Cursor& cursor,
                                              std::size_t records_max, bool* done) const;

  private:
    // The one apply path: `make()` builds the Record to store, called only when it is stored.
    template <typename Make>
    ApplyOutcome apply_key(std::uint64_t key_hash, Record* current, const ConflictKey& incoming,
                           Make&& make, const Record** stored);
    void account(std::uint64_t key_hash, std::uint64_t record_hash, bool add);
    Record* lookup(std::uint64_t key_hash, std::string_view client) const;
    void insert(std::uint64_t key_hash, Record record);
    void place(std::uint64_t key_hash, Record* record);
    void keep_next_level();
    std::array<BucketDigest, bucket_fanout> scan_child_digests(BucketId bucket) const;
    std::size_t home(std::uint64_t key_hash) const {
        return static_cast<std::size_t>(key_hash >> (64 - table_bits_));
    }

    TieBreak rule_;
    HashKey key_;
    mutable std::uint64_t probes_ = 0;
    // Records live in a deque (stable addresses, no node per record) and are never removed.
    std::deque<Record> records_;
    // An open-addressing table whose home slot is the top bits of the key hash: slots come in
    // hash order, so the records of a bucket lie in one run of slots, and a lookup touches one
    // slot pair and one record. Linear probing forward, no wrap-around (the table grows at the
    // end instead); records are never removed, so no tombstones. Load factor at most 1/2.
    // A slot holds the key hash and the record side by side: one cache line per probe.
    struct Slot {
        std::uint64_t hash = 0;
        Record* record = nullptr;  // null: empty
    };
    std::vector<Slot> slots_;
    int table_bits_ = 4;
    std::uint64_t generation_ = 0;  // bumped when the table is rebuilt
    std::size_t line_bytes_ = 0;
    std::size_t record_bytes_ = 0;  // Record::bytes_of over every record
    // kept_[d - 1] holds the bucket_fanout^d digests of depth d, for d <= levels_kept_.
    std::array<std::vector<BucketDigest>, bucket_depths_kept> kept_;
    int levels_kept_ = 0;
};

// The hash of a record's content, as summed in digests.
std::uint64_t record_hash(const Record& r);

}  // namespace herd
