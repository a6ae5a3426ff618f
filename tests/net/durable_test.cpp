// Durability: a server's data folder (--data-dir) brings back what it stored, after a crash of
// every server at once. Real processes on 127.0.0.1, stopped by PID.
#include <gtest/gtest.h>

#include "core/time.hpp"
#include "harness.hpp"
#include "netmode/clock.hpp"
#include "netmode/store_file.hpp"

namespace herd::test {
namespace {

const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
        ++n;
    return n;
}

TEST(StoreFile, EntriesComeBackAndATornTailIsCutOff) {
    const std::string dir = temp_dir("storefile") + "/data";
    {
        net::StoreFile f(dir, net::StoreFile::Sync::always);
        ASSERT_FALSE(error_of(f.open()));
        f.append("AT A +0.000000000 one +1.0+1.0 5");
        f.append("AT A +0.000000000 two +1.0+1.0 6");
    }
    // A crash in the middle of a write, and a corrupt entry after it.
    std::ofstream(dir + "/records.log", std::ios::app)
        << net::StoreFile::entry("AT A +0.000000000 three +1.0+1.0 7").substr(0, 20);
    {
        net::StoreFile f(dir, net::StoreFile::Sync::batch);
        auto loaded = f.open();
        ASSERT_FALSE(error_of(loaded));
        const auto& l = std::get<net::StoreFile::Loaded>(loaded);
        EXPECT_EQ(l.lines, (std::vector<std::string>{"AT A +0.000000000 one +1.0+1.0 5",
                                                     "AT A +0.000000000 two +1.0+1.0 6"}));
        EXPECT_EQ(l.bytes_cut, 20u);
        f.append("AT A +0.000000000 four +1.0+1.0 8");
    }
    net::StoreFile again(dir, net::StoreFile::Sync::off);
    const auto loaded = again.open();
    ASSERT_FALSE(error_of(loaded));
    EXPECT_EQ(std::get<net::StoreFile::Loaded>(loaded).lines.size(), 3u);
    EXPECT_EQ(std::get<net::StoreFile::Loaded>(loaded).bytes_cut, 0u);
    // A flipped byte is caught by the checksum.
    EXPECT_FALSE(net::StoreFile::line_of(
        net::StoreFile::entry("AT A +0.000000000 x +1.0+1.0 5").replace(20, 1, "y").substr(0, 47)));
}

TEST(Durable, EveryAcknowledgedUpdateSurvivesTheWholeHerdBeingKilled) {
    NetHerd herd("durable", {"--fsync", "always"}, true);
    const std::string time = format_timestamp(net::wall_now());
    std::string updates;
    const int n = 200;
    for (int i = 0; i < n; ++i)
        updates += "IAMAT d" + std::to_string(i) + " +1.0+1.0 " + time + "\n";
    ASSERT_EQ(count(talk(herd.port("Alford"), updates, 20000ms), "AT Alford "),
              static_cast<std::size_t>(n));
    // Every server at once, the moment the last AT was read.
    for (const char* name : NetHerd::names)
        herd.process(name).kill9();
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(herd.start(i));
    for (const char* name : NetHerd::names) {
        EXPECT_TRUE(wait_until(
            [&] { return metric(herd.metrics(name), "herd_records_stored") == n; }, 20000ms))
            << name << ": " << metric(herd.metrics(name), "herd_records_stored");
    }
    // Alford had them all from its own folder, before any link came up.
    EXPECT_TRUE(wait_until(
        [&] {
            return slurp(herd.dir() + "/logs/Alford.log").find("200 records restored") !=
                   std::string::npos;
        },
        10000ms));
}

}  // namespace
}  // namespace herd::test
