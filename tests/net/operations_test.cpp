// Operating a herd with the tools operators run: a real Prometheus server (Debian's package)
// scraping two servers' admin ports and answering queries about them, promtool checking the
// page, curl for health. Real processes on 127.0.0.1, stopped by PID.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "netmode/clock.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

bool have(const char* command) {
    return std::system(("command -v " + std::string(command) + " >/dev/null 2>&1").c_str()) == 0;
}

// What a shell command prints.
std::string output_of(const std::string& command) {
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
            out.append(buffer, n);
        ::pclose(pipe);
    }
    return out;
}

// Prometheus's answer to an instant query (its HTTP API, through curl).
std::string query(int port, const std::string& promql) {
    return output_of("curl -sG --max-time 5 --data-urlencode 'query=" + promql +
                     "' http://127.0.0.1:" + std::to_string(port) + "/api/v1/query");
}

// How many series of Prometheus's answer to an instant query have exactly `value`.
std::size_t series_with_value(const std::string& answer, const std::string& value) {
    return count(answer, ",\"" + value + "\"]");
}

TEST(Operations, PrometheusScrapesTwoServersAndSeesEveryUpdate) {
    if (!have("prometheus") || !have("curl"))
        GTEST_SKIP() << "no prometheus or curl (scripts/setup.sh installs them)";
    NetHerd herd("prometheus");
    const int updates = 25;
    std::string lines;
    for (int i = 0; i < updates; ++i)
        lines += "IAMAT prom" + std::to_string(i) + " +1.0+1.0 " +
                 format_timestamp(net::wall_now()) + "\n";
    ASSERT_NE(talk(herd.port("Alford"), lines).find("AT Alford"), std::string::npos);
    const std::string dir = herd.dir() + "/prometheus";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: herd\n    static_configs:\n      - targets: ['127.0.0.1:"
        << herd.admin_port("Alford") << "', '127.0.0.1:" << herd.admin_port("Ball") << "']\n";
    const int web = herd.admin_port("Alford") + 10;  // base + 20: free in this herd's range
    Process prometheus({"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
                        "--storage.tsdb.path=" + dir + "/data",
                        "--web.listen-address=127.0.0.1:" + std::to_string(web)},
                       dir + "/prometheus.out");
    // Both servers report every update stored, through Prometheus's query API.
    std::string answer;
    const bool seen = wait_until(
        [&] {
            answer = query(web, "herd_records_stored");
            return series_with_value(answer, std::to_string(updates)) == 2u;
        },
        60000ms);
    EXPECT_TRUE(seen) << answer << slurp(dir + "/prometheus.out").substr(0, 2000);
    // And the scrape itself succeeded for both targets.
    const std::string up = query(web, "up{job=\"herd\"}");
    EXPECT_EQ(series_with_value(up, "1"), 2u) << up;
    const std::string build = query(web, "herd_build_info");
    EXPECT_NE(build.find("\"commit\""), std::string::npos) << build;
}

TEST(Operations, PromtoolAcceptsTheMetricsPageAndCurlSeesHealth) {
    if (!have("promtool") || !have("curl")) GTEST_SKIP() << "no promtool or curl (set-up)";
    NetHerd herd("promtool");
    talk(herd.port("Alford"), "IAMAT tool +1.0+1.0 " + format_timestamp(net::wall_now()) + "\n");
    const std::string page = herd.dir() + "/metrics.txt";
    std::ofstream(page) << herd.metrics("Alford");
    EXPECT_EQ(
        std::system(("promtool check metrics < " + page + " > " + page + ".check 2>&1").c_str()), 0)
        << slurp(page + ".check");
    const std::string base = "curl -sf http://127.0.0.1:" + std::to_string(herd.admin_port("Ball"));
    EXPECT_EQ(std::system((base + "/healthz > /dev/null").c_str()), 0);
    EXPECT_TRUE(wait_until([&] { return std::system((base + "/readyz > /dev/null").c_str()) == 0; },
                           10000ms));
    EXPECT_NE(std::system((base + "/nothing > /dev/null").c_str()), 0);  // 404: curl -f fails
}

}  // namespace
}  // namespace herd::test
