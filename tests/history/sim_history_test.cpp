// `herd sim --history`: the real Simulator records every IAMAT and WHATSAT its clients made,
// with scenario times, and the history reads back through `herd check`'s checker.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "history/check.hpp"
#include "sim/scenario.hpp"
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
