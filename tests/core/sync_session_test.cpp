// One link's anti-entropy exchange, alone (core/sync_session.hpp): two stores reconciled by two
// sessions passing digests and records as the Nodes do. The Node's use of it is tested in
// node_test (anti-entropy repairs after overflow, restarts refilled).
#include "core/sync_session.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>

namespace herd {
namespace {

struct Side {
    RecordStore store;
    SyncSession session;
    std::size_t records_sent = 0;
};

struct DigestSent {
    int from;
    BucketId bucket;
};

// Runs the exchange between `a` and `b` to its end: every digest answered, every queued record
// applied at the other side.
void reconcile(Side& a, Side& b, std::size_t leaf_records_max) {
    Side* sides[2] = {&a, &b};
    std::deque<DigestSent> digests;
    for (int s = 0; s < 2; ++s) {
        if (sides[s]->session.first_digest(BucketId{0, 0})) digests.push_back({s, BucketId{0, 0}});
    }
    while (!digests.empty()) {
        const DigestSent d = digests.front();
        digests.pop_front();
        Side& to = *sides[1 - d.from];
        Side& from = *sides[d.from];
        if (to.session.first_digest(d.bucket)) digests.push_back({1 - d.from, d.bucket});
        for (BucketId sub :
             to.session.compare(d.bucket, to.store.child_digests(d.bucket),
                                from.store.child_digests(d.bucket), leaf_records_max)) {
            if (to.session.first_digest(sub)) digests.push_back({1 - d.from, sub});
        }
        while (to.session.pending()) {
            for (const Record* r : to.session.next_records(to.store, 7)) {
                from.store.apply(*r);
                to.records_sent += 1;
            }
        }
    }
}

Record at(const std::string& line) {
    return *Record::parse_at_line(line);
}

std::vector<std::string> lines_of(const RecordStore& s) {
    std::vector<std::string> out;
    for (const Record* r : s.sorted())
        out.emplace_back(r->at_line());
    return out;
}

TEST(SyncSession, TwoStoresThatMostlyAgreeExchangeLittleAndEndEqual) {
    Side a, b;
    for (int i = 0; i < 5000; ++i) {
        const std::string line = "AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5";
        a.store.apply(at(line));
        if (i % 500 != 0) b.store.apply(at(line));  // b lacks 10
    }
    for (int i = 0; i < 10; ++i)  // b has 10 newer ones
        b.store.apply(at("AT B +0.0 c" + std::to_string(i * 7) + " +2.0+2.0 9"));
    reconcile(a, b, 16);
    EXPECT_EQ(lines_of(a.store), lines_of(b.store));
    EXPECT_EQ(a.store.size(), 5000u);
    // Only the differing buckets went across, not the stores.
    EXPECT_LT(a.records_sent + b.records_sent, 1000u);
    EXPECT_GE(a.records_sent, 10u);
    EXPECT_GE(b.records_sent, 10u);
}

TEST(SyncSession, AnEmptySideIsRefilledWholeAndEqualStoresSendNothing) {
    Side full, empty;
    for (int i = 0; i < 300; ++i)
        full.store.apply(at("AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5"));
    reconcile(full, empty, 16);
    EXPECT_EQ(lines_of(full.store), lines_of(empty.store));
    EXPECT_EQ(full.records_sent, 300u);  // each record once
    EXPECT_EQ(empty.records_sent, 0u);

    Side again_a, again_b;
    for (int i = 0; i < 300; ++i) {
        again_a.store.apply(at("AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5"));
        again_b.store.apply(at("AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5"));
    }
    reconcile(again_a, again_b, 16);
    EXPECT_EQ(again_a.records_sent + again_b.records_sent, 0u);
}

TEST(SyncSession, EachBucketsDigestGoesOutOncePerLink) {
    SyncSession s;
    EXPECT_TRUE(s.first_digest(BucketId{0, 0}));
    EXPECT_FALSE(s.first_digest(BucketId{0, 0}));
    EXPECT_TRUE(s.first_digest(BucketId{1, 3}));
    EXPECT_FALSE(s.pending());
}

}  // namespace
}  // namespace herd
