// `herd sim --history`: the real Simulator records every IAMAT and WHATSAT its clients made,
// with scenario times, and the history reads back through `herd check`'s checker.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "history/check.hpp"
#include "sim/scenario.hpp"
#include "sim/scenario_doc.hpp"
#include "sim/simulator.hpp"

namespace herd::sim {
namespace {

std::vector<history::Operation> run_with_history(const std::string& text,
                                                 std::string* raw = nullptr) {
    auto parsed = parse_scenario(text, "history.scn");
    EXPECT_TRUE(std::holds_alternative<Scenario>(parsed)) << std::get<Error>(parsed).message;
    std::ostringstream out;
    SimOptions options;
    options.history = &out;
    Simulator(std::get<Scenario>(parsed), options).run();
    if (raw) *raw = out.str();
    std::vector<history::Operation> ops;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
        auto op = history::parse_operation(line);
        EXPECT_TRUE(std::holds_alternative<history::Operation>(op)) << line;
        if (auto* o = std::get_if<history::Operation>(&op)) ops.push_back(*o);
    }
    return ops;
}

constexpr const char* two = "server A\nserver B\nlink A B\nlatency 2ms\nclient latency 1ms\n";

TEST(SimHistory, SendsAreOperationsWithTheirRepliesAndScenarioTimes) {
    const auto ops = run_with_history(std::string(two) +
                                      "at 100ms send A IAMAT kiwi +1.0+1.0 {now}\n"
                                      "at 200ms send B WHATSAT kiwi 10 1\n"
                                      "at 300ms crash B\n"
                                      "at 400ms send B WHATSAT kiwi 10 1\n"
                                      "at 500ms send A hello\n");
    ASSERT_EQ(ops.size(), 3u);  // `hello` is no operation of the protocol
    EXPECT_EQ(ops[0].op, history::Op::iamat);
    EXPECT_EQ(ops[0].server, "A");
    EXPECT_EQ(ops[0].client, "kiwi");
    EXPECT_EQ(ops[0].invoke_ns, 100'000'000);
    EXPECT_GT(ops[0].complete_ns, ops[0].invoke_ns);  // the reply crossed the client's link
    ASSERT_TRUE(ops[0].reply.has_value());
    EXPECT_EQ(ops[0].reply->rfind("AT A ", 0), 0u);
    EXPECT_EQ(ops[1].op, history::Op::whatsat);
    EXPECT_EQ(ops[1].server, "B");
    ASSERT_TRUE(ops[1].reply.has_value());
    EXPECT_EQ(*ops[1].reply, *ops[0].reply) << "the WHATSAT's first line is the record";
    EXPECT_EQ(ops[2].invoke_ns, 400'000'000);
    EXPECT_FALSE(ops[2].reply.has_value()) << "B is down: no reply";
    EXPECT_NE(ops[0].process, ops[1].process);
}

TEST(SimHistory, AWorkloadsIamatsAreInTheHistoryAndItChecksClean) {
    std::string raw;
    const auto ops = run_with_history(std::string(two) +
                                          "at 100ms workload clients=50 rate=1000/s for=200ms\n"
                                          "at 400ms send B WHATSAT w7 10 1\n",
                                      &raw);
    EXPECT_EQ(ops.size(), 201u);
    std::istringstream in(raw);
    const auto checked = history::check_history(in, "sim.jsonl");
    ASSERT_TRUE(std::holds_alternative<history::CheckResult>(checked))
        << std::get<Error>(checked).message;
    const auto& r = std::get<history::CheckResult>(checked);
    EXPECT_EQ(r.anomaly_total(), 0u) << history::format_check(r, "sim.jsonl");
    EXPECT_EQ(r.iamats, 200u);
}

TEST(SimHistory, ATraceIsTheSameWithAHistoryAsWithout) {
    const std::string text = std::string(two) +
                             "at 100ms workload clients=50 rate=1000/s for=200ms\n"
                             "at 400ms send B WHATSAT w7 10 1\n";
    auto parsed = parse_scenario(text, "history.scn");
    const Scenario& sc = std::get<Scenario>(parsed);
    SimOptions plain;
    plain.hash_trace = true;
    SimOptions recorded = plain;
    std::ostringstream out;
    recorded.history = &out;
    EXPECT_EQ(Simulator(sc, plain).run().trace_hash, Simulator(sc, recorded).run().trace_hash);
}

}  // namespace
}  // namespace herd::sim

namespace herd::sim {
namespace {

constexpr const char* sessions =
    "herd fall2017\nseed 3\nlatency uniform(1ms,5ms)\nclient latency 1ms\n"
    "at 100ms workload clients=20 rate=200/s for=2s reads=400/s sessions=on\n"
    "at 3s expect converged\n";

TEST(SimHistory, WorkloadSessionsReadAndMoveBetweenServersOneOperationAtATime) {
    std::string raw;
    const auto ops = run_with_history(sessions, &raw);
    std::map<std::uint64_t, std::set<std::string>> servers_of;
    std::map<std::uint64_t, std::int64_t> busy_until;
    std::size_t reads = 0, own = 0;
    for (const history::Operation& op : ops) {
        servers_of[op.process].insert(op.server);
        // A session waits for each reply (the history is in completion order).
        EXPECT_GE(op.invoke_ns, busy_until[op.process]) << op.line;
        busy_until[op.process] = op.complete_ns;
        if (op.op == history::Op::whatsat) {
            reads += 1;
            if ("w" + std::to_string(op.process % 1'000'000'000 - 1) == op.client) own += 1;
        }
    }
    EXPECT_EQ(servers_of.size(), 20u) << "one session per client";
    for (const auto& [process, servers] : servers_of)
        EXPECT_GT(servers.size(), 1u) << process << " moved between servers";
    EXPECT_GT(reads, 600u);
    EXPECT_GT(own, reads / 4) << "sessions read their own records";
    EXPECT_GT(own, 0u);
    std::istringstream in(raw);
    const auto checked = history::check_history(in, "sessions.jsonl");
    ASSERT_TRUE(std::holds_alternative<history::CheckResult>(checked));
    const auto& r = std::get<history::CheckResult>(checked);
    // The herd does not promise read-your-writes across servers: a session that moves finds
    // windows where it reads its older record. Nothing is lost or made up.
    EXPECT_GT(r.counts.count(history::AnomalyKind::read_your_writes), 0u)
        << history::format_check(r, "sessions.jsonl");
    EXPECT_EQ(r.counts.count(history::AnomalyKind::lost_write), 0u);
    EXPECT_EQ(r.counts.count(history::AnomalyKind::impossible_read), 0u);
    // The same file and seed: the same history.
    std::string again;
    run_with_history(sessions, &again);
    EXPECT_EQ(raw, again);
}

TEST(SimHistory, AWorkloadWithoutReadsSendsWhatItAlwaysDid) {
    const std::string base =
        "herd fall2017\nseed 9\nlatency uniform(1ms,5ms)\n"
        "at 100ms workload clients=20 rate=200/s for=1s";
    auto hash = [](const std::string& text) {
        auto parsed = parse_scenario(text, "w.scn");
        SimOptions o;
        o.hash_trace = true;
        return Simulator(std::get<Scenario>(parsed), o).run().trace_hash;
    };
    EXPECT_EQ(hash(base + "\n"), hash(base + " sessions=off\n"));
    EXPECT_NE(hash(base + "\n"), hash(base + " reads=100/s\n"));
}

}  // namespace
}  // namespace herd::sim

namespace herd::sim {
namespace {

TEST(SimHistory, WorkloadReadsAndSessionsAreCheckedAndWrittenBackByTheGrammar) {
    auto error = [](const std::string& statement) {
        const auto r = parse_scenario("server A\nat 1s " + statement + "\n", "g.scn");
        return std::holds_alternative<Error>(r) ? std::get<Error>(r).message : "(accepted)";
    };
    EXPECT_NE(error("workload clients=5 rate=10/s for=1s reads=10").find("expected reads=R/s"),
              std::string::npos);
    EXPECT_NE(error("workload clients=5 rate=10/s for=1s reads=0/s").find("R from 1"),
              std::string::npos);
    EXPECT_NE(error("workload clients=5 rate=10/s for=1s sessions=yes")
                  .find("expected sessions=on, sessions=sticky or sessions=off, got 'yes'"),
              std::string::npos);
    EXPECT_NE(error("workload clients=5 rate=10/s for=1s reads=1/s reads=2/s").find("twice"),
              std::string::npos);
    const std::string text =
        "server A\nat 1s workload clients=5 rate=10/s for=1s reads=20/s sessions=on\n";
    const auto doc = parse_document(text, "g.scn");
    ASSERT_TRUE(std::holds_alternative<ScenarioDoc>(doc));
    EXPECT_NE(format_document(std::get<ScenarioDoc>(doc)).find("reads=20/s sessions=on"),
              std::string::npos);
    const auto sticky = parse_document(
        "server A\nat 1s workload clients=5 rate=10/s for=1s reads=20/s sessions=sticky\n",
        "g.scn");
    ASSERT_TRUE(std::holds_alternative<ScenarioDoc>(sticky));
    EXPECT_NE(format_document(std::get<ScenarioDoc>(sticky)).find("reads=20/s sessions=sticky"),
              std::string::npos);
}

TEST(SimHistory, StickySessionsStayAtOneServerAndReadInOrder) {
    // Each session at its home server (client number modulo 5): a store never goes back, so
    // with no restart the reads of every session are monotonic, across partitions too.
    const std::string text =
        "herd fall2017\nseed 3\nlatency uniform(1ms,5ms)\n"
        "at 100ms workload clients=20 rate=200/s for=2s reads=400/s sessions=sticky\n"
        "at 500ms partition Alford Ball | Hamilton Holiday Welsh\nat 1500ms heal\n"
        "at 4s expect converged\nat 4s expect sessions monotonic-reads at most 0\n";
    std::string raw;
    const auto ops = run_with_history(text, &raw);
    std::map<std::uint64_t, std::set<std::string>> servers_of;
    for (const history::Operation& op : ops)
        servers_of[op.process].insert(op.server);
    EXPECT_EQ(servers_of.size(), 20u);
    for (const auto& [process, servers] : servers_of)
        EXPECT_EQ(servers.size(), 1u) << process << " stayed at its home";
    std::istringstream in(raw);
    const auto checked = history::check_history(in, "sticky.jsonl");
    ASSERT_TRUE(std::holds_alternative<history::CheckResult>(checked));
    const auto& r = std::get<history::CheckResult>(checked);
    EXPECT_GT(r.reads, 300u);
    EXPECT_EQ(r.counts.count(history::AnomalyKind::monotonic_reads), 0u)
        << history::format_check(r, "sticky.jsonl");
}

}  // namespace
}  // namespace herd::sim

namespace herd::sim {
namespace {

TEST(SimHistory, ExpectSessionsCountsTheAnomaliesOfTheHistorySoFar) {
    const std::string text = std::string(sessions) +
                             "at 3s expect sessions monotonic-reads at most 0\n"
                             "at 3s expect sessions read-your-writes at most 0\n"
                             "at 3s expect sessions read-your-writes at most 1000\n"
                             "at 3s expect sessions lost-write at most 0\n"
                             "at 3s expect sessions impossible-read at most 0\n";
    auto parsed = parse_scenario(text, "sessions.scn");
    ASSERT_TRUE(std::holds_alternative<Scenario>(parsed)) << std::get<Error>(parsed).message;
    const SimResult r = Simulator(std::get<Scenario>(parsed), {}).run();
    std::vector<bool> pass;
    std::string found;
    for (const ExpectationResult& e : r.expectations) {
        if (e.text.find("sessions") == std::string::npos) continue;
        pass.push_back(e.pass);
        if (!e.pass) found = e.found;
    }
    EXPECT_EQ(pass, (std::vector<bool>{true, false, true, true, true}));
    // The finding names the count and the first witness, with its servers.
    EXPECT_EQ(found.find(" read-your-writes, the first: process "), found.find(' '));
    EXPECT_NE(found.find("IAMAT w"), std::string::npos) << found;
    EXPECT_NE(found.find("WHATSAT w"), std::string::npos) << found;
}

}  // namespace
}  // namespace herd::sim
