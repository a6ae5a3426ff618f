#include "core/peer_protocol.hpp"

#include <gtest/gtest.h>

#include <set>

namespace herd {
namespace {

TEST(PeerProtocol, HelloRoundTripsWithExactBytes) {
    const Hello h{"Alford", "Hamilton", 0x1234, 0xfedcba9876543210ULL};
    EXPECT_EQ(format_hello(h), "HELLO herd/1 Alford Hamilton 0000000000001234 fedcba9876543210\n");
    auto back = parse_hello("HELLO herd/1 Alford Hamilton 0000000000001234 fedcba9876543210");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->dialer, "Alford");
    EXPECT_EQ(back->acceptor, "Hamilton");
    EXPECT_EQ(back->incarnation, 0x1234u);
    EXPECT_EQ(back->nonce, 0xfedcba9876543210ULL);
}

TEST(PeerProtocol, HelloOfAnotherVersionOrShapeIsRejected) {
    EXPECT_FALSE(parse_hello("HELLO herd/2 A B 0000000000000001 0000000000000002"));
    EXPECT_FALSE(parse_hello("HELLO herd/1 A B 1"));
    EXPECT_FALSE(parse_hello("HELLO herd/1 A B 000000000000000G 0000000000000002"));
    EXPECT_FALSE(parse_hello("HELLO herd/1 A B 00000000000000001 0000000000000002"));
}

TEST(PeerProtocol, WelcomeAndAuth) {
    EXPECT_EQ(format_welcome(Welcome{"Ball", 1, 2, "-"}),
              "WELCOME herd/1 Ball 0000000000000001 0000000000000002 -\n");
    auto w = parse_welcome("WELCOME herd/1 Ball 0000000000000001 0000000000000002 -");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->mac, "-");
    EXPECT_EQ(format_auth("abc"), "AUTH abc\n");
    EXPECT_EQ(parse_auth("AUTH abc"), "abc");
    EXPECT_FALSE(parse_auth("AUTH"));
}

TEST(PeerProtocol, MacsDependOnSecretDirectionAndEveryTranscriptField) {
    HandshakeTranscript t{"Alford", "Hamilton", 1, 2, 3, 4};
    EXPECT_EQ(welcome_mac("", t), "-");
    const std::string w = welcome_mac("secret", t);
    EXPECT_EQ(w.size(), 64u);
    EXPECT_NE(w, auth_mac("secret", t));
    EXPECT_NE(w, welcome_mac("other", t));
    HandshakeTranscript t2 = t;
    t2.acceptor_nonce = 5;
    EXPECT_NE(w, welcome_mac("secret", t2));
    EXPECT_EQ(w, welcome_mac("secret", t));
    EXPECT_TRUE(mac_equal(w, welcome_mac("secret", t)));
    EXPECT_FALSE(mac_equal(w, w.substr(1)));
}

TEST(PeerProtocol, HmacMatchesRfc4231TestCase2) {
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(PeerProtocol, DigestListsOnlyNonEmptyChildren) {
    std::array<BucketDigest, bucket_fanout> children{};
    children[0] = BucketDigest{0xabc, 3};
    children[15] = BucketDigest{0x1, 1};
    const std::string line = format_digest(BucketId{1, 5}, children);
    EXPECT_EQ(line, "DIGEST 1 0000000000000005 0=0000000000000abc/3 15=0000000000000001/1\n");
    auto m = parse_digest(line.substr(0, line.size() - 1));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->bucket, (BucketId{1, 5}));
    ASSERT_EQ(m->entries.size(), 2u);
    EXPECT_EQ(m->entries[1].child, 15);
    EXPECT_EQ(m->entries[1].digest, (BucketDigest{1, 1}));
}

TEST(PeerProtocol, MalformedDigestsAreRejected) {
    for (const char* bad :
         {"DIGEST", "DIGEST 0 0000000000000001", "DIGEST 1 0000000000000010",
          "DIGEST 15 0000000000000000", "DIGEST 0 0000000000000000 16=01/1",
          "DIGEST 0 0000000000000000 3=01/0", "DIGEST 0 0000000000000000 3=01/1 2=01/1",
          "DIGEST 0 0000000000000000 3=zz/1", "DIGEST 0 0000000000000000 3:01/1"}) {
        EXPECT_FALSE(parse_digest(bad)) << bad;
    }
}

TEST(BucketDigests, ChildDigestsAtEveryDepthAddUpToTheParent) {
    RecordStore store;
    for (int i = 0; i < 3000; ++i) {
        store.apply(*Record::parse_at_line("AT A +0.0 client" + std::to_string(i) + " +1.0+1.0 5"));
    }
    // Follow the biggest child down three levels: the sums of children equal the parent.
    BucketId bucket{0, 0};
    BucketDigest parent{0, 0};
    for (const Record* r : store.sorted()) {
        parent.sum += record_hash(*r);
        parent.count += 1;
    }
    for (int depth = 0; depth < 4; ++depth) {
        const auto children = store.child_digests(bucket);
        BucketDigest total{0, 0};
        int biggest = 0;
        for (int c = 0; c < bucket_fanout; ++c) {
            total.sum += children[static_cast<std::size_t>(c)].sum;
            total.count += children[static_cast<std::size_t>(c)].count;
            if (children[static_cast<std::size_t>(c)].count >
                children[static_cast<std::size_t>(biggest)].count)
                biggest = c;
        }
        EXPECT_EQ(total, parent) << "depth " << depth;
        parent = children[static_cast<std::size_t>(biggest)];
        bucket = BucketId{
            depth + 1, (bucket.prefix << bucket_fanout_bits) | static_cast<std::uint64_t>(biggest)};
        // The records of that bucket are exactly `parent.count` records.
        RecordStore::Cursor cursor;
        bool done = false;
        EXPECT_EQ(store.bucket_records(bucket, cursor, 100000, &done).size(), parent.count);
        EXPECT_TRUE(done);
    }
}

TEST(BucketDigests, BucketRecordsResumeAfterACursor) {
    RecordStore store;
    for (int i = 0; i < 100; ++i)
        store.apply(*Record::parse_at_line("AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5"));
    RecordStore::Cursor cursor;
    bool done = false;
    const auto first = store.bucket_records(BucketId{0, 0}, cursor, 30, &done);
    ASSERT_EQ(first.size(), 30u);
    EXPECT_FALSE(done);
    const auto rest = store.bucket_records(BucketId{0, 0}, cursor, 1000, &done);
    EXPECT_EQ(rest.size(), 70u);
    EXPECT_TRUE(done);
    std::set<const Record*> all(first.begin(), first.end());
    all.insert(rest.begin(), rest.end());
    EXPECT_EQ(all.size(), 100u);  // each record once
}

TEST(BucketDigests, AWalkGoesOnWhenTheTreeGrewInBetween) {
    RecordStore store;
    for (int i = 0; i < 100; ++i)
        store.apply(*Record::parse_at_line("AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5"));
    RecordStore::Cursor cursor;
    bool done = false;
    auto seen = store.bucket_records(BucketId{0, 0}, cursor, 30, &done);
    // 2 000 more records split the leaves under the cursor; the walk still reaches every one of
    // the first 100.
    for (int i = 100; i < 2100; ++i)
        store.apply(*Record::parse_at_line("AT A +0.0 c" + std::to_string(i) + " +1.0+1.0 5"));
    while (!done) {
        const auto more = store.bucket_records(BucketId{0, 0}, cursor, 64, &done);
        seen.insert(seen.end(), more.begin(), more.end());
    }
    std::set<std::string_view> clients;
    for (const Record* r : seen)
        clients.insert(r->client());
    EXPECT_EQ(clients.size(), seen.size());  // each record once
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(clients.count("c" + std::to_string(i)), 1u) << i;
}

TEST(BucketDigests, ReplacingARecordUpdatesTheDigest) {
    RecordStore a, b;
    a.apply(*Record::parse_at_line("AT A +0.0 k +1.0+1.0 5"));
    b.apply(*Record::parse_at_line("AT A +0.0 k +1.0+1.0 5"));
    EXPECT_EQ(a.child_digests(BucketId{0, 0}), b.child_digests(BucketId{0, 0}));
    a.apply(*Record::parse_at_line("AT A +0.0 k +2.0+2.0 6"));
    EXPECT_NE(a.child_digests(BucketId{0, 0}), b.child_digests(BucketId{0, 0}));
    b.apply(*Record::parse_at_line("AT A +0.0 k +2.0+2.0 6"));
    EXPECT_EQ(a.child_digests(BucketId{1, 0}), b.child_digests(BucketId{1, 0}));
    EXPECT_EQ(a.child_digests(BucketId{0, 0}), b.child_digests(BucketId{0, 0}));
}

}  // namespace
}  // namespace herd
