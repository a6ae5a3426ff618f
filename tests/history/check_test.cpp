// `herd check`'s checker (history/check.hpp) on hand-made histories: each anomaly kind found in
// one that has it, with its witnesses, and none in one that does not; stale reads measured;
// malformed histories refused with file:line.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "history/check.hpp"

namespace herd::history {
namespace {

constexpr std::int64_t ms = 1'000'000;

std::string at_line(const std::string& server, const std::string& client, const std::string& time,
                    const std::string& where = "+34.068930-118.445127") {
    return "AT " + server + " +0.000000000 " + client + " " + where + " " + time;
}

// An IAMAT of `client` at client time `time`, acknowledged by `server` unless told otherwise.
std::string iamat(std::uint64_t process, const std::string& server, const std::string& client,
                  const std::string& time, std::int64_t invoke, std::int64_t complete,
                  bool acknowledged = true) {
    Operation op{process,
                 server,
                 Op::iamat,
                 client,
                 "IAMAT " + client + " +34.068930-118.445127 " + time,
                 std::nullopt,
                 invoke,
                 complete};
    if (acknowledged) op.reply = at_line(server, client, time);
    return format_operation(op);
}

// A WHATSAT of `client` at `server` that read the record of client time `time` ("" for `?`).
std::string whatsat(std::uint64_t process, const std::string& server, const std::string& client,
                    const std::string& time, std::int64_t invoke, std::int64_t complete,
                    const std::string& origin = "Alford") {
    Operation op{process,
                 server,
                 Op::whatsat,
                 client,
                 "WHATSAT " + client + " 10 3",
                 time.empty() ? std::optional<std::string>("? WHATSAT " + client + " 10 3")
                              : std::optional<std::string>(at_line(origin, client, time)),
                 invoke,
                 complete};
    return format_operation(op);
}

Result<CheckResult> check(const std::vector<std::string>& lines, CheckOptions o = {}) {
    std::string text;
    for (const std::string& l : lines)
        text += l + "\n";
    std::istringstream in(text);
    return check_history(in, "h.jsonl", o);
}

std::size_t count_of(const CheckResult& r, AnomalyKind k) {
    auto it = r.counts.find(k);
    return it == r.counts.end() ? 0 : it->second;
}

TEST(HistoryCheck, AHistoryWithoutAnomaliesIsClean) {
    const auto r = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                          whatsat(2, "Hamilton", "kiwi", "10.0", 2 * ms, 3 * ms),
                          iamat(1, "Alford", "kiwi", "20.0", 4 * ms, 5 * ms),
                          whatsat(2, "Ball", "kiwi", "20.0", 6 * ms, 7 * ms),
                          whatsat(1, "Ball", "kiwi", "20.0", 8 * ms, 9 * ms),
                          whatsat(3, "Welsh", "kiwi", "20.0", 2000 * ms, 2001 * ms)});
    ASSERT_TRUE(std::holds_alternative<CheckResult>(r)) << std::get<Error>(r).message;
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(c.anomaly_total(), 0u) << format_check(c, "h.jsonl");
    EXPECT_EQ(c.operations, 6u);
    EXPECT_EQ(c.processes, 3u);
    EXPECT_EQ(c.servers, 4u);
    EXPECT_TRUE(c.stale_ns.empty());
}

TEST(HistoryCheck, AReadGoingBackInTimeIsAMonotonicReadsAnomalyWithBothReads) {
    const auto r = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                          iamat(1, "Alford", "kiwi", "20.0", 2 * ms, 3 * ms),
                          whatsat(2, "Hamilton", "kiwi", "20.0", 4 * ms, 5 * ms),
                          whatsat(2, "Ball", "kiwi", "10.0", 6 * ms, 7 * ms)});
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(count_of(c, AnomalyKind::monotonic_reads), 1u);
    ASSERT_EQ(c.anomalies.size(), 1u) << format_check(c, "h.jsonl");
    const Anomaly& a = c.anomalies.front();
    ASSERT_EQ(a.witnesses.size(), 2u);
    EXPECT_EQ(a.witnesses[0].line_number, 3u);
    EXPECT_EQ(a.witnesses[0].op->server, "Hamilton");
    EXPECT_EQ(a.witnesses[1].line_number, 4u);
    EXPECT_EQ(a.witnesses[1].op->server, "Ball");
    const std::string text = format_check(c, "h.jsonl");
    EXPECT_NE(text.find("monotonic-reads: process 2 read kiwi's record going back in time"),
              std::string::npos)
        << text;
    EXPECT_NE(
        text.find("  h.jsonl:4  process 2 at Ball, 0.006000000s..0.007000000s: WHATSAT kiwi 10 3"),
        std::string::npos)
        << text;
    // Another session reading the older record after the newer one is no anomaly of sessions.
    const auto other = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                              iamat(1, "Alford", "kiwi", "20.0", 2 * ms, 3 * ms),
                              whatsat(2, "Hamilton", "kiwi", "20.0", 4 * ms, 5 * ms),
                              whatsat(3, "Ball", "kiwi", "10.0", 6 * ms, 7 * ms)});
    EXPECT_EQ(count_of(std::get<CheckResult>(other), AnomalyKind::monotonic_reads), 0u);
}

TEST(HistoryCheck, ASessionReadingOlderThanItsOwnWriteIsReadYourWrites) {
    const auto r = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                          iamat(1, "Alford", "kiwi", "20.0", 2 * ms, 3 * ms),
                          whatsat(1, "Ball", "kiwi", "10.0", 4 * ms, 5 * ms),
                          iamat(4, "Welsh", "fig", "5.0", 6 * ms, 7 * ms),
                          whatsat(4, "Holiday", "fig", "", 8 * ms, 9 * ms)});  // `?`: none yet
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(count_of(c, AnomalyKind::read_your_writes), 2u) << format_check(c, "h.jsonl");
    EXPECT_EQ(count_of(c, AnomalyKind::monotonic_reads), 0u);
    ASSERT_EQ(c.anomalies.size(), 2u);
    EXPECT_EQ(c.anomalies[0].witnesses[0].line_number, 2u);  // the write it did not see
    EXPECT_EQ(c.anomalies[0].witnesses[1].line_number, 3u);
    // An unacknowledged IAMAT promises nothing.
    const auto unacked = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms, false),
                                whatsat(1, "Ball", "kiwi", "", 4 * ms, 5 * ms)});
    EXPECT_EQ(std::get<CheckResult>(unacked).anomaly_total(), 0u);
}

TEST(HistoryCheck, ARecordMissingFromAServersReadPastTheSettleTimeIsALostWrite) {
    const std::vector<std::string> base = {iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                                           iamat(1, "Alford", "kiwi", "20.0", 2 * ms, 3 * ms)};
    auto with = [&](std::vector<std::string> more) {
        std::vector<std::string> all = base;
        all.insert(all.end(), more.begin(), more.end());
        return std::get<CheckResult>(check(all));
    };
    // Ball still shows the older record 2 s later: lost there.
    const CheckResult lost = with({whatsat(2, "Ball", "kiwi", "10.0", 2000 * ms, 2001 * ms)});
    EXPECT_EQ(count_of(lost, AnomalyKind::lost_write), 1u) << format_check(lost, "h.jsonl");
    ASSERT_EQ(lost.anomalies.size(), 1u);
    EXPECT_EQ(lost.anomalies[0].witnesses[0].line_number, 2u);
    EXPECT_EQ(lost.anomalies[0].witnesses[1].op->server, "Ball");
    // Within the settle time it is only stale; a read that shows it later does not undo the
    // window past the settle time, and the record is reported once for Ball, not per read.
    EXPECT_EQ(with({whatsat(2, "Ball", "kiwi", "10.0", 500 * ms, 501 * ms),
                    whatsat(2, "Ball", "kiwi", "20.0", 900 * ms, 901 * ms)})
                  .anomaly_total(),
              0u);
    EXPECT_EQ(with({whatsat(2, "Ball", "kiwi", "10.0", 2000 * ms, 2001 * ms),
                    whatsat(3, "Ball", "kiwi", "10.0", 2500 * ms, 2501 * ms),
                    whatsat(3, "Ball", "kiwi", "20.0", 3000 * ms, 3001 * ms)})
                  .counts.at(AnomalyKind::lost_write),
              1u);
}

TEST(HistoryCheck, AReadOfARecordNoClientSentIsImpossible) {
    const auto r = check({whatsat(2, "Ball", "kiwi", "10.0", 1 * ms, 2 * ms),  // sent later: fine
                          iamat(1, "Alford", "kiwi", "10.0", 0, 3 * ms),
                          whatsat(2, "Ball", "kiwi", "99.0", 4 * ms, 5 * ms)});  // never sent
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(count_of(c, AnomalyKind::impossible_read), 1u) << format_check(c, "h.jsonl");
    ASSERT_FALSE(c.anomalies.empty());
    EXPECT_EQ(c.anomalies.back().witnesses[0].line_number, 3u);
    // Another client's record in a read of kiwi is impossible too.
    const auto swapped =
        check({iamat(1, "Alford", "fig", "10.0", 0, 1 * ms),
               format_operation(Operation{2, "Ball", Op::whatsat, "kiwi", "WHATSAT kiwi 10 3",
                                          at_line("Alford", "fig", "10.0"), 2 * ms, 3 * ms})});
    EXPECT_EQ(count_of(std::get<CheckResult>(swapped), AnomalyKind::impossible_read), 1u);
}

TEST(HistoryCheck, AReadThatObservedNothingIsNoRead) {
    // An invalid WHATSAT's `?` and a WHATSAT that got no reply (a server down) read nothing.
    auto op = [](std::uint64_t p, const std::string& server, const std::string& line,
                 std::optional<std::string> reply, std::int64_t t) {
        return format_operation(
            Operation{p, server, Op::whatsat, "kiwi", line, std::move(reply), t, t + ms});
    };
    const auto r = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                          op(1, "Alford", "WHATSAT kiwi 60 3", "? WHATSAT kiwi 60 3", 2 * ms),
                          op(2, "Ball", "WHATSAT kiwi 10 21", "? WHATSAT kiwi 10 21", 5000 * ms),
                          op(2, "Ball", "WHATSAT kiwi 10 3", std::nullopt, 6000 * ms)});
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(c.anomaly_total(), 0u) << format_check(c, "h.jsonl");
    EXPECT_EQ(c.reads, 0u);
    EXPECT_EQ(c.whatsats, 3u);
}

TEST(HistoryCheck, ARecordMissingPastTheSettleTimeIsLostEvenIfANewerOneCameLater) {
    const auto r = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                          iamat(1, "Alford", "kiwi", "20.0", 2 * ms, 3 * ms),
                          whatsat(2, "Ball", "kiwi", "10.0", 5000 * ms, 5001 * ms),
                          whatsat(2, "Ball", "kiwi", "10.0", 9000 * ms, 9001 * ms),
                          iamat(1, "Alford", "kiwi", "30.0", 10000 * ms, 10001 * ms),
                          whatsat(3, "Ball", "kiwi", "10.0", 10100 * ms, 10101 * ms)});
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(count_of(c, AnomalyKind::lost_write), 1u) << format_check(c, "h.jsonl");
    ASSERT_FALSE(c.anomalies.empty());
    EXPECT_EQ(c.anomalies.front().witnesses[0].line_number, 2u);  // 20.0, once for Ball
    EXPECT_EQ(c.anomalies.front().witnesses[1].line_number, 3u);
}

TEST(HistoryCheck, ImpossibleAnswersAreReportedAndReadNothing) {
    auto read = [](std::uint64_t p, const std::string& server, std::optional<std::string> reply,
                   std::int64_t t) {
        return format_operation(Operation{p, server, Op::whatsat, "kiwi", "WHATSAT kiwi 10 3",
                                          std::move(reply), t, t + ms});
    };
    const std::string forged = "AT Mallory -99.000000000 kiwi +34.068930-118.445127 10.0";
    const auto r =
        check({read(2, "Ball", at_line("Alford", "kiwi", "10.0"), 0),  // before it was sent
               iamat(1, "Alford", "kiwi", "10.0", 2 * ms, 3 * ms),
               read(3, "Ball", forged, 4 * ms),                      // not its origin's line
               read(4, "Ball", std::string("{ results }"), 6 * ms),  // not an answer
               read(3, "Ball", at_line("Alford", "kiwi", "10.0"), 8 * ms)});
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(count_of(c, AnomalyKind::impossible_read), 3u) << format_check(c, "h.jsonl");
    EXPECT_EQ(count_of(c, AnomalyKind::monotonic_reads), 0u) << "an impossible read reads nothing";
    // An IAMAT acknowledged with another record than its own.
    const auto echo = check({format_operation(
        Operation{1, "Alford", Op::iamat, "kiwi", "IAMAT kiwi +34.068930-118.445127 10.0",
                  at_line("Alford", "kiwi", "99.0"), 0, ms})});
    EXPECT_EQ(count_of(std::get<CheckResult>(echo), AnomalyKind::impossible_read), 1u);
}

TEST(HistoryCheck, StaleReadsAreCountedByHowLongSinceTheNewerRecordWasAcknowledged) {
    const auto r = check({iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms),
                          iamat(1, "Alford", "kiwi", "20.0", 2 * ms, 3 * ms),
                          whatsat(2, "Ball", "kiwi", "10.0", 7 * ms, 8 * ms),  // 4 ms stale
                          whatsat(3, "Welsh", "kiwi", "", 11 * ms, 12 * ms),   // 10 ms stale
                          whatsat(4, "Hamilton", "kiwi", "20.0", 13 * ms, 14 * ms)});
    const CheckResult& c = std::get<CheckResult>(r);
    EXPECT_EQ(c.stale_ns, (std::vector<std::int64_t>{4 * ms, 10 * ms}));
    EXPECT_NE(format_check(c, "h.jsonl")
                  .find("stale reads: 2 of 3, stale by p50 0.004000000s, p99 0.010000000s"),
              std::string::npos)
        << format_check(c, "h.jsonl");
}

TEST(HistoryCheck, AMalformedHistoryIsRefusedWithItsFileAndLine) {
    auto error = [](const std::vector<std::string>& lines) {
        const auto r = check(lines);
        return std::holds_alternative<Error>(r) ? std::get<Error>(r).message : "(accepted)";
    };
    const std::string ok = iamat(1, "Alford", "kiwi", "10.0", 0, 1 * ms);
    EXPECT_EQ(error({ok, "not json"}), "h.jsonl:2: expected a JSON object (in UTF-8)");
    EXPECT_EQ(error({ok,
                     "{\"process\":1,\"server\":\"B\",\"op\":\"whatsat\",\"client\":\"kiwi\","
                     "\"line\":\"IAMAT kiwi +1.0+1.0 5\",\"reply\":null,\"invoke_ns\":9000000,"
                     "\"complete_ns\":9000000}"}),
              "h.jsonl:2: expected \"line\" to be a WHATSAT (the \"op\")");
    EXPECT_EQ(error({"{\"process\":1,\"server\":\"B\",\"op\":\"whatsat\",\"client\":\"fig\","
                     "\"line\":\"WHATSAT kiwi 1 1\",\"reply\":null,\"invoke_ns\":0,"
                     "\"complete_ns\":0}"}),
              "h.jsonl:1: expected \"line\" to be about \"client\" (its second field)");
    EXPECT_EQ(error({iamat(1, "Alford", "kiwi", "10.0", 0, std::int64_t{1} << 62),
                     iamat(1, "Alford", "kiwi", "11.0", 0, (std::int64_t{1} << 62) + 1)}),
              "h.jsonl:2: expected times within 2^62 ns (146 years) of the clock's zero");
    EXPECT_EQ(error({"{\"process\":1}"}).rfind("h.jsonl:1: expected \"server\"", 0), 0u);
    EXPECT_EQ(error({iamat(1, "Alford", "kiwi", "10.0", 5 * ms, 6 * ms), ok}),
              "h.jsonl:2: expected lines in order of completion");
    EXPECT_EQ(error({iamat(1, "Alford", "kiwi", "10.0", 0, 6 * ms),
                     iamat(1, "Alford", "kiwi", "11.0", 5 * ms, 7 * ms)}),
              "h.jsonl:2: process 1's operations overlap (one session waits for each reply)");
    EXPECT_EQ(error({iamat(1, "Alford", "kiwi", "10.0", 6 * ms, 5 * ms)}),
              "h.jsonl:1: expected complete_ns >= invoke_ns");
}

TEST(HistoryCheck, AMillionOperationsAreCheckedInOnePass) {
    std::string text;
    for (int i = 0; i < 200'000; ++i) {
        const std::string client = "c" + std::to_string(i % 1000);
        const std::int64_t t = static_cast<std::int64_t>(i) * 10'000;
        const std::string time = std::to_string(i) + ".0";
        text +=
            iamat(static_cast<std::uint64_t>(i % 50), "Alford", client, time, t, t + 1000) + "\n";
        text += whatsat(static_cast<std::uint64_t>(50 + i % 50), "Ball", client, time, t + 2000,
                        t + 3000) +
                "\n";
    }
    std::istringstream in(text);
    const auto r = check_history(in, "big.jsonl");
    ASSERT_TRUE(std::holds_alternative<CheckResult>(r));
    EXPECT_EQ(std::get<CheckResult>(r).operations, 400'000u);
    EXPECT_EQ(std::get<CheckResult>(r).anomaly_total(), 0u);
}

TEST(HistoryCheck, ManyStaleReadsOfOneBusyClientAreCheckedInLinearishTime) {
    // One client updated 200 000 times, every read one update behind: each read is stale, and
    // each is placed by a binary search, not a scan of every earlier update.
    std::string text;
    for (int i = 0; i < 200'000; ++i) {
        const std::int64_t t = static_cast<std::int64_t>(i) * 10'000;
        text += iamat(1, "Alford", "busy", std::to_string(i + 1) + ".0", t, t + 1000) + "\n";
        if (i > 0)
            text += whatsat(2, "Ball", "busy", std::to_string(i) + ".0", t + 2000, t + 3000) + "\n";
    }
    std::istringstream in(text);
    const auto r = check_history(in, "busy.jsonl");
    ASSERT_TRUE(std::holds_alternative<CheckResult>(r));
    EXPECT_EQ(std::get<CheckResult>(r).operations, 399'999u);
    EXPECT_EQ(std::get<CheckResult>(r).stale_ns.size(), 199'999u);
    EXPECT_EQ(std::get<CheckResult>(r).anomaly_total(), 0u);
}

}  // namespace
}  // namespace herd::history
