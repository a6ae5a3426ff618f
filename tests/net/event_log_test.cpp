// The server log (netmode/event_log.hpp) written by the real EventLog and read back by the
// printer `herd log` uses: what was logged comes back as text, in order, through rotation,
// repeated payloads, lines split across reads, damage and an older text log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "netmode/event_log.hpp"
#include "netmode/log_format.hpp"

namespace herd::net {
namespace {

std::string temp_folder(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("herd-event-log-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The text `herd log` prints for a log's files (oldest first), without the timestamps (each
// line's first field).
std::vector<std::string> printed(const std::vector<std::string>& files, bool heartbeats = false) {
    logfmt::LogPrinter printer(heartbeats);
    std::string text;
    for (const std::string& bytes : files) {
        const std::size_t used = printer.feed(bytes, text, true);
        EXPECT_EQ(used, bytes.size());
    }
    printer.finish(text);
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const std::size_t space = line.find(' ');
        EXPECT_TRUE(line.substr(0, space).ends_with("Z")) << line;
        lines.push_back(line.substr(space + 1));
    }
    return lines;
}
std::vector<std::string> printed(const std::string& bytes, bool heartbeats = false) {
    return printed(std::vector<std::string>{bytes}, heartbeats);
}

TEST(EventLog, EventsAndLinesComeBackInOrderWithTheirConnections) {
    const std::string path = temp_folder("order") + "/A.log";
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.event("conn 3 accepted from 127.0.0.1:5000");
        log.read(3, "IAMAT kiwi +1+1 5\nIAMAT ki");  // a line split across two reads
        log.read(3, "wi +2+2 6\nPING\n");
        log.written(3, "AT A +0.1 kiwi +1+1 5\n");
        log.written(1, "AT A +0.1 kiwi +1+1 5\n");  // the same bytes flooded: stored once
        log.written(2, "AT A +0.1 kiwi +1+1 5\n");
        log.event("peer B down on conn 1: gone");
    }
    const std::string bytes = slurp(path);
    EXPECT_TRUE(bytes.starts_with(logfmt::magic));
    EXPECT_EQ(bytes.find("AT A +0.1 kiwi"), bytes.rfind("AT A +0.1 kiwi")) << "stored once";
    const std::vector<std::string> expected = {
        "conn 3 accepted from 127.0.0.1:5000", "conn 3 < IAMAT kiwi +1+1 5",
        "conn 3 < IAMAT kiwi +2+2 6",          "conn 3 > AT A +0.1 kiwi +1+1 5",
        "conn 1 > AT A +0.1 kiwi +1+1 5",      "conn 2 > AT A +0.1 kiwi +1+1 5",
        "peer B down on conn 1: gone"};
    EXPECT_EQ(printed(bytes), expected);
    EXPECT_EQ(printed(bytes, true).size(), expected.size() + 1) << "PING shown when asked";
}

TEST(EventLog, RecordsPassedOnAreStoredOnceWhereTheyWereRead) {
    const std::string path = temp_folder("relay") + "/A.log";
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.read(1, "AT B +0.1 apple +1+1 5\nAT B +0.1 berry +1+1 5\nAT B +0.1 cherry +1+1 5\n");
        log.written(2, "AT B +0.1 apple +1+1 5\n");     // passed on: named in the read
        log.written(2, "AT B +0.1 cherry +1+1 5\n");    // berry was not (a duplicate, say)
        log.written(3, "AT B +0.1 cherry +1+1 5\n");    // and again to another peer
        log.written(2, "DIGEST 0 0000000000000000\n");  // bytes of its own
    }
    const std::string bytes = slurp(path);
    for (const char* client : {"apple", "berry", "cherry"})
        EXPECT_EQ(bytes.find(client), bytes.rfind(client)) << client << " stored once";
    const std::vector<std::string> expected = {
        "conn 1 < AT B +0.1 apple +1+1 5",   "conn 1 < AT B +0.1 berry +1+1 5",
        "conn 1 < AT B +0.1 cherry +1+1 5",  "conn 2 > AT B +0.1 apple +1+1 5",
        "conn 2 > AT B +0.1 cherry +1+1 5",  "conn 3 > AT B +0.1 cherry +1+1 5",
        "conn 2 > DIGEST 0 0000000000000000"};
    EXPECT_EQ(printed(bytes), expected);
}

TEST(EventLog, BytesOutsidePrintableAsciiAreEscapedAndLongLinesCut) {
    const std::string path = temp_folder("escape") + "/A.log";
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.read(7, std::string("a\\b\x01\x7f") + "\n");
        log.read(7, std::string(5000, 'x') + "\n");  // over logged_line_bytes_max
        log.read(7, "no end");
    }
    const auto lines = printed(slurp(path));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "conn 7 < a\\\\b\\x01\\x7f");
    EXPECT_EQ(lines[1], "conn 7 < " + std::string(4096, 'x') + "... (5000 bytes)");
    EXPECT_EQ(lines[2], "conn 7 < no end (no end of line)");
}

TEST(EventLog, RotationCutsBetweenEntriesAndEveryFileReadsAlone) {
    const std::string path = temp_folder("rotate") + "/A.log";
    const std::size_t cap = 4000;
    std::vector<std::string> expected;
    {
        EventLog log(path, EventLogOptions{cap, 3, 1 << 20});
        ASSERT_FALSE(log.open());
        for (int i = 0; i < 300; ++i) {
            const std::string line = "AT A +0.1 client" + std::to_string(i) + " +1+1 5";
            log.read(5, "IAMAT x +1+1 5\n" + line + "\nIAMAT spl");  // a line split in two
            log.read(5, "it" + std::to_string(i) + "\n");
            log.written(1, line + "\n");  // passed on: named in the read
            log.written(2, line + "\n");  // a repeat; either is written out whole across a cut
            log.written(3, line + "\n");
            for (const std::string& l : std::vector<std::string>{
                     "conn 5 < IAMAT x +1+1 5", "conn 5 < " + line,
                     "conn 5 < IAMAT split" + std::to_string(i), "conn 1 > " + line,
                     "conn 2 > " + line, "conn 3 > " + line})
                expected.push_back(l);
            if (i % 40 == 39) log.flush();
        }
    }
    std::vector<std::string> files;
    for (const std::string suffix : {".3", ".2", ".1", ""}) {
        ASSERT_TRUE(std::filesystem::exists(path + suffix)) << suffix;
        files.push_back(slurp(path + suffix));
        EXPECT_LE(files.back().size(), cap) << suffix;
        EXPECT_TRUE(files.back().starts_with(logfmt::magic)) << suffix;
        for (const std::string& line : printed(files.back()))  // each file alone
            EXPECT_EQ(line.find("does not hold"), std::string::npos) << suffix << ": " << line;
    }
    EXPECT_FALSE(std::filesystem::exists(path + ".4"));
    // All files through one printer, as `herd log NAME.log.3 ... NAME.log` reads them: the oldest
    // lines went with the files past --log-keep; the rest are whole (a line split by a cut too)
    // and in order.
    const auto all = printed(files);
    ASSERT_GT(all.size(), 100u);
    ASSERT_LE(all.size(), expected.size());
    const auto tail = expected.end() - static_cast<long>(all.size() - 1);
    EXPECT_TRUE(std::equal(all.begin() + 1, all.end(), tail));
}

TEST(EventLog, RepliesRepeatedAcrossManyTinyFilesAreAllPrinted) {
    const std::string path = temp_folder("tiny") + "/A.log";
    {
        // Smaller than two entries: nearly every '=' meets a cut.
        EventLog log(path, EventLogOptions{60, 1000, 1 << 20});
        ASSERT_FALSE(log.open());
        for (int i = 0; i < 200; ++i)
            log.written(2, "? dup\n");
    }
    std::vector<std::string> files;
    for (int k = 1000; k >= 1; --k)
        if (std::filesystem::exists(path + "." + std::to_string(k)))
            files.push_back(slurp(path + "." + std::to_string(k)));
    files.push_back(slurp(path));
    EXPECT_GT(files.size(), 20u);
    EXPECT_EQ(printed(files), std::vector<std::string>(200, "conn 2 > ? dup"));
}

TEST(EventLog, AFileCutFromOutsideStartsAgainWithTheMagic) {
    const std::string path = temp_folder("copytruncate") + "/A.log";
    EventLog log(path);
    ASSERT_FALSE(log.open());
    log.read(1, "IAMAT before +1+1 5\n");
    log.flush();
    std::filesystem::resize_file(path, 0);  // logrotate's copytruncate
    log.read(1, "IAMAT after +1+1 5\n");
    log.flush();
    const std::string bytes = slurp(path);
    EXPECT_TRUE(bytes.starts_with(logfmt::magic));
    EXPECT_EQ(printed(bytes), std::vector<std::string>{"conn 1 < IAMAT after +1+1 5"});
}

TEST(EventLog, ALineLeftUnfinishedByOneRunIsNotJoinedToTheNext) {
    const std::string path = temp_folder("runs") + "/A.log";
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.read(2, "OLD-RUN-UNFINISHED");
        log.event("stopped");
    }
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.read(2, "IAMAT new +1+1 1\n");
    }
    EXPECT_EQ(printed(slurp(path)),
              (std::vector<std::string>{"stopped", "conn 2 < OLD-RUN-UNFINISHED (no end of line)",
                                        "conn 2 < IAMAT new +1+1 1"}));
}

TEST(EventLog, AnOlderTextLogAndDamageAreShownAndSkipped) {
    const std::string dir = temp_folder("damage");
    const std::string path = dir + "/A.log";
    {
        std::ofstream(path) << "2026-01-01T00:00:00.000000Z conn 1 < IAMAT old +1+1 5\n";
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.event("first run");
    }
    {
        std::ofstream(path, std::ios::app) << "Egarbage that is no entry";  // a torn write
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.event("second run");
    }
    logfmt::LogPrinter printer(false);
    std::string text;
    const std::string bytes = slurp(path);
    printer.feed(bytes, text, true);
    EXPECT_TRUE(text.starts_with("2026-01-01T00:00:00.000000Z conn 1 < IAMAT old +1+1 5\n"))
        << text;
    EXPECT_NE(text.find("Z first run\n"), std::string::npos) << text;
    EXPECT_NE(text.find("bytes of the log unreadable here"), std::string::npos) << text;
    EXPECT_NE(text.find("Z second run\n"), std::string::npos) << text;
}

TEST(EventLog, AnEntryStillBeingWrittenWaitsForItsEnd) {
    const std::string path = temp_folder("partial") + "/A.log";
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.read(4, "IAMAT a +1+1 5\n");
    }
    const std::string bytes = slurp(path);
    logfmt::LogPrinter printer(false);
    std::string text;
    const std::size_t used = printer.feed(bytes.substr(0, bytes.size() - 3), text, false);
    EXPECT_LT(used, bytes.size() - 3);
    EXPECT_EQ(text.find("IAMAT"), std::string::npos);
    printer.feed(bytes.substr(used), text, true);
    EXPECT_NE(text.find("conn 4 < IAMAT a +1+1 5\n"), std::string::npos) << text;
}

TEST(EventLog, PayloadsLongerThanAPieceAreSplitAndJoinedAgain) {
    const std::string path = temp_folder("pieces") + "/A.log";
    std::string json;
    for (int i = 0; i < 3000; ++i)
        json += "  \"line\": " + std::to_string(i) + ",\n";
    ASSERT_GT(json.size(), 2 * logfmt::payload_piece_bytes_max);
    {
        EventLog log(path);
        ASSERT_FALSE(log.open());
        log.written(9, json);
    }
    const auto lines = printed(slurp(path));
    ASSERT_EQ(lines.size(), 3000u);
    EXPECT_EQ(lines[1234], "conn 9 >   \"line\": 1234,");
}

}  // namespace
}  // namespace herd::net
