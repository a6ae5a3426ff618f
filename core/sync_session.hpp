// SyncSession: one peer link's anti-entropy exchange. Both ends send the digest of the root
// bucket when the link comes up; each digest received is compared, child by child, with our own
// digest of the same bucket. A child that differs is either looked into further (its digest sent
// back) or, once it is small on both sides (leaf_records_max), lacking on one side, or at the
// deepest level, queued for its records to be sent whole. Both ends take the same decision from
// the same pair of counts. The queue is walked a few records at a time as the link has room, so
// floods still fit beside a transfer. Pure bookkeeping over the store: the Node sends.
#pragma once

#include <array>
#include <cstddef>
#include <set>
#include <vector>

#include "core/fifo.hpp"
#include "core/record_store.hpp"

namespace herd {

class SyncSession {
  public:
    // True the first time our digest of `bucket` is to go out on this link (noted as sent):
    // each bucket's digest is sent at most once per link.
    bool first_digest(BucketId bucket) { return digests_sent_.insert(bucket).second; }

    // The children of `bucket` whose digests differ between `mine` and `theirs`, each either
    // queued for its records (when we have any) or returned, in child order, for its digest to
    // be sent.
    std::vector<BucketId> compare(BucketId bucket,
                                  const std::array<BucketDigest, bucket_fanout>& mine,
                                  const std::array<BucketDigest, bucket_fanout>& theirs,
                                  std::size_t leaf_records_max);

    // Whether records wait to be sent.
    bool pending() const { return !buckets_.empty(); }
    // The next records of the queued buckets (at most `records_max`, possibly none when a
    // bucket just ran out); a bucket leaves the queue once walked to its end.
    std::vector<const Record*> next_records(const RecordStore& store, std::size_t records_max);

  private:
    // (The queue first: pending() is asked on every write of the link.)
    Fifo<BucketId> buckets_;      // whose records to send, in the order decided
    RecordStore::Cursor cursor_;  // within buckets_.front()
    std::set<BucketId> digests_sent_;
};

}  // namespace herd
