// One link's anti-entropy decisions and paced walk (sync_session.hpp).
#include "core/sync_session.hpp"

#include <algorithm>

#include "core/assert.hpp"
#include "core/defects.hpp"

namespace herd {

std::vector<BucketId> SyncSession::compare(BucketId bucket,
                                           const std::array<BucketDigest, bucket_fanout>& mine,
                                           const std::array<BucketDigest, bucket_fanout>& theirs,
                                           std::size_t leaf_records_max) {
    std::vector<BucketId> deeper;
    for (int child = 0; child < bucket_fanout; ++child) {
        const BucketDigest& m = mine[static_cast<std::size_t>(child)];
        const BucketDigest& t = theirs[static_cast<std::size_t>(child)];
        if (m == t || (defect(Defect::digest_compares_counts_only) && m.count == t.count)) continue;
        const BucketId sub{bucket.depth + 1, (bucket.prefix << bucket_fanout_bits) |
                                                 static_cast<std::uint64_t>(child)};
        // A bucket one side lacks entirely is sent whole (a restarted, empty server is refilled
        // without digests).
        if (std::min(m.count, t.count) == 0 || std::max(m.count, t.count) <= leaf_records_max ||
            sub.depth == bucket_depth_max) {
            if (m.count > 0) buckets_.push_back(sub);
        } else {
            deeper.push_back(sub);
        }
    }
    return deeper;
}

std::vector<const Record*> SyncSession::next_records(const RecordStore& store,
                                                     std::size_t records_max) {
    HERD_ASSERT(pending());
    bool done = false;
    auto records = store.bucket_records(buckets_.front(), cursor_, records_max, &done);
    if (done) {
        buckets_.pop_front();
        cursor_ = RecordStore::Cursor{};
    }
    return records;
}

}  // namespace herd
