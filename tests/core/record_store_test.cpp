#include "core/record_store.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <vector>

namespace herd {
namespace {

Record at(std::string_view line) {
    auto r = Record::parse_at_line(line);
    EXPECT_TRUE(r) << line;
    return *r;
}

TEST(RecordParse, FieldsAreIndexedFromTheLine) {
    Record r =
        at("AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450");
    EXPECT_EQ(r.origin(), "Alford");
    EXPECT_EQ(r.skew_text(), "+0.263873386");
    EXPECT_EQ(r.client(), "kiwi.cs.ucla.edu");
    EXPECT_EQ(r.latlon_text(), "+34.068930-118.445127");
    EXPECT_EQ(r.time_text(), "1479413884.392014450");
    EXPECT_EQ(r.time(), (Timestamp{1479413884, 392014450}));
}

TEST(RecordParse, MalformedAtLinesAreRejected) {
    for (const char* bad : {"AT Alford +0.1 c +1.0+1.0", "AT Alford +0.1 c +1.0+1.0 5 6",
                            "AT Alford 0.1 c +1.0+1.0 5", "AT Alford +0.1 c +91.0+1.0 5",
                            "AT Alford +0.1 c +1.0+1.0 -5", "at Alford +0.1 c +1.0+1.0 5",
                            "IAMAT c +1.0+1.0 5", "AT Alford +. c +1.0+1.0 5", ""}) {
        EXPECT_FALSE(Record::parse_at_line(bad)) << bad;
    }
}

// Tree nodes and leaf entries looked at to store and then find every one of `ids`.
std::uint64_t probes_for(const std::vector<std::string>& ids, HashKey key) {
    RecordStore store(TieBreak::first, key);
    for (const std::string& id : ids)
        store.apply(at("AT A +0.0 " + id + " +1.0+1.0 5"));
    for (const std::string& id : ids)
        EXPECT_NE(store.find(id), nullptr);
    return store.probes();
}

TEST(RecordStore, ClientIdsAimedAtOneBucketCostAboutWhatOrdinaryOnesDo) {
    // A herd with neither secret nor certificates has a key anyone with its herd file can
    // compute: 2 000 IDs whose hash under that very key shares its top 12 bits (one try in
    // 4 096), against 2 000 ordinary IDs. Aimed IDs only make the bucket tree deeper where they
    // are; every leaf above the deepest depth stays under leaf_entries_max.
    const HashKey key{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL};
    std::vector<std::string> aimed;
    for (std::uint64_t n = 0; aimed.size() < 2000; ++n) {
        const std::string id = "x" + std::to_string(n);
        if (client_key_hash(id, key) >> 52 == 0) aimed.push_back(id);
    }
    std::vector<std::string> ordinary;
    for (int i = 0; i < 2000; ++i)
        ordinary.push_back("kiwi" + std::to_string(i) + ".cs.ucla.edu");
    const std::uint64_t aimed_probes = probes_for(aimed, key);
    const std::uint64_t ordinary_probes = probes_for(ordinary, key);
    std::cout << "probes for 2 000 IDs aimed at one bucket: " << aimed_probes
              << "; for 2 000 ordinary IDs: " << ordinary_probes << "\n";
    EXPECT_LT(aimed_probes, 2 * ordinary_probes);
    // The bucket's digest holds them all, and its records are all found by a walk.
    RecordStore store(TieBreak::first, key);
    for (const std::string& id : aimed)
        store.apply(at("AT A +0.0 " + id + " +1.0+1.0 5"));
    EXPECT_EQ(store.child_digests(BucketId{2, 0})[0].count, 2000u);
    RecordStore::Cursor cursor;
    bool done = false;
    EXPECT_EQ(store.bucket_records(BucketId{3, 0}, cursor, 5000, &done).size(), 2000u);
    EXPECT_TRUE(done);
}

TEST(SipHash, ReferenceVectors) {
    // SipHash-2-4's reference vector (key 00..0f, empty and 15-byte messages).
    const HashKey reference{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    EXPECT_EQ(siphash24(reference, ""), 0x726fdb47dd0e0e31ULL);
    std::string fifteen;
    for (char c = 0; c < 15; ++c)
        fifteen += c;
    EXPECT_EQ(siphash24(reference, fifteen), 0xa129ca6149be45e5ULL);
}

TEST(RecordStore, LaterTimeReplaces) {
    RecordStore store;
    EXPECT_EQ(store.apply(at("AT A +0.0 c +1.0+1.0 5")), ApplyOutcome::inserted);
    EXPECT_EQ(store.apply(at("AT B +0.0 c +2.0+2.0 5.000000001")), ApplyOutcome::replaced);
    EXPECT_EQ(store.find("c")->origin(), "B");
}

TEST(RecordStore, OlderTimeIsKept) {
    RecordStore store;
    store.apply(at("AT A +0.0 c +1.0+1.0 6"));
    EXPECT_EQ(store.apply(at("AT B +0.0 c +2.0+2.0 5.999999999")), ApplyOutcome::kept_current);
    EXPECT_EQ(store.find("c")->origin(), "A");
}

TEST(RecordStore, TimesCompareExactlyNotAsDecimalText) {
    RecordStore store;
    store.apply(at("AT A +0.0 c +1.0+1.0 5.1"));
    // 5.10 is the same instant as 5.1, written differently: a tie, first kept.
    EXPECT_EQ(store.apply(at("AT B +0.0 c +2.0+2.0 5.10")), ApplyOutcome::kept_current);
    // 10 is later than 9.999 even though "10" < "9.999" as text.
    store.apply(at("AT A +0.0 d +1.0+1.0 9.999"));
    EXPECT_EQ(store.apply(at("AT A +0.0 d +1.0+1.0 10")), ApplyOutcome::replaced);
}

TEST(RecordStore, EqualTimeFirstRuleKeepsWhicheverArrivedFirst) {
    RecordStore one(TieBreak::first), two(TieBreak::first);
    Record x = at("AT A +0.0 c +1.0+1.0 5");
    Record y = at("AT B +0.0 c +2.0+2.0 5");
    one.apply(x);
    one.apply(y);
    two.apply(y);
    two.apply(x);
    EXPECT_EQ(one.find("c")->origin(), "A");
    EXPECT_EQ(two.find("c")->origin(), "B");  // the two servers disagree forever
}

TEST(RecordStore, EqualTimeConvergentRuleAgreesWhateverTheOrder) {
    RecordStore one(TieBreak::convergent), two(TieBreak::convergent);
    Record x = at("AT A +0.0 c +1.0+1.0 5");
    Record y = at("AT B +0.0 c +2.0+2.0 5");
    one.apply(x);
    EXPECT_EQ(one.apply(y), ApplyOutcome::replaced);
    two.apply(y);
    EXPECT_EQ(two.apply(x), ApplyOutcome::kept_current);
    EXPECT_EQ(*one.find("c"), *two.find("c"));
    EXPECT_EQ(one.find("c")->latlon_text(), "+2.0+2.0");
}

TEST(RecordStore, ConvergentRuleUsesOriginThenWholeLineWhenCoordinatesTie) {
    RecordStore store(TieBreak::convergent);
    store.apply(at("AT Ball +0.0 c +1.0+1.0 5"));
    EXPECT_EQ(store.apply(at("AT Alford +0.0 c +1.0+1.0 5")), ApplyOutcome::kept_current);
    EXPECT_EQ(store.apply(at("AT Welsh +0.0 c +1.0+1.0 5")), ApplyOutcome::replaced);
    EXPECT_EQ(store.apply(at("AT Welsh +0.5 c +1.0+1.0 5")), ApplyOutcome::replaced);
    EXPECT_EQ(store.find("c")->skew_text(), "+0.5");
}

TEST(RecordStore, IdenticalRecordIsADuplicate) {
    RecordStore store;
    store.apply(at("AT A +0.0 c +1.0+1.0 5"));
    EXPECT_EQ(store.apply(at("AT A +0.0 c +1.0+1.0 5")), ApplyOutcome::duplicate);
    EXPECT_FALSE(changed_store(ApplyOutcome::duplicate));
}

TEST(RecordStore, SortedIsByClientBytes) {
    RecordStore store;
    for (const char* c : {"zeta", "Alpha", "\xF0\x9F\xA5\x9D", "beta", "alpha"}) {
        store.apply(at(std::string("AT A +0.0 ") + c + " +1.0+1.0 5"));
    }
    std::vector<std::string> order;
    for (const Record* r : store.sorted())
        order.emplace_back(r->client());
    EXPECT_EQ(order,
              (std::vector<std::string>{"Alpha", "alpha", "beta", "zeta", "\xF0\x9F\xA5\x9D"}));
}

TEST(RecordStore, ClientIdsAreComparedByteForByte) {
    RecordStore store;
    store.apply(at("AT A +0.0 caf\xC3\xA9 +1.0+1.0 5"));
    store.apply(at("AT A +0.0 cafe\xCC\x81 +1.0+1.0 5"));  // same glyph, other bytes
    EXPECT_EQ(store.size(), 2u);
}

// The digests of every bucket of depths 1-3, from scratch: what child_digests must give whether
// the store keeps a level's digests or scans for them.
std::map<std::pair<int, std::uint64_t>, BucketDigest> digests_from_scratch(
    const RecordStore& store) {
    std::map<std::pair<int, std::uint64_t>, BucketDigest> out;
    store.for_each([&](const Record& r) {
        const std::uint64_t h = client_key_hash(r.client());
        for (int depth = 1; depth <= 3; ++depth) {
            BucketDigest& d = out[{depth, h >> (64 - bucket_fanout_bits * depth)}];
            d.sum += record_hash(r);
            d.count += 1;
        }
    });
    return out;
}

// Compares every child digest of depths 0-2 with the digests from scratch.
void expect_digests_match(const RecordStore& store) {
    const auto want = digests_from_scratch(store);
    for (int depth = 0; depth < 3; ++depth) {
        for (std::uint64_t prefix = 0; prefix < (std::uint64_t{1} << (bucket_fanout_bits * depth));
             ++prefix) {
            const auto got = store.child_digests(BucketId{depth, prefix});
            for (std::uint64_t c = 0; c < bucket_fanout; ++c) {
                const auto it = want.find({depth + 1, (prefix << bucket_fanout_bits) | c});
                const BucketDigest expected = it == want.end() ? BucketDigest{} : it->second;
                ASSERT_EQ(got[c], expected)
                    << store.size() << " records, depth " << depth << " prefix " << prefix;
            }
        }
    }
}

TEST(RecordStore, DigestsAreTheSameBeforeAndAfterLeavesSplit) {
    // The root leaf splits past leaf_entries_max records, the second level's leaves at about
    // 16 times that, the third's at 256 times: check on both sides of each, and after replacing
    // records once the tree is three levels deep.
    RecordStore store;
    std::size_t next = 0;
    const std::size_t m = leaf_entries_max;
    for (std::size_t size : {std::size_t{1}, m, m + 1, 16 * m, 20 * m, 256 * m, 300 * m}) {
        for (; next < size; ++next) {
            store.apply(at("AT A +0.0 c" + std::to_string(next) + " +1.0+1.0 5"));
        }
        expect_digests_match(store);
    }
    for (int i = 0; i < 5000; i += 7)
        store.apply(at("AT B +0.1 c" + std::to_string(i) + " +2.0+2.0 6"));
    expect_digests_match(store);
}

}  // namespace
}  // namespace herd
