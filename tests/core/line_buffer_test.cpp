#include "core/line_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herd {
namespace {

// Frames `chunks` (then EOF when `eof`) and renders every event: "L:<text>" or "O:<text>".
std::vector<std::string> frame(const std::vector<std::string>& chunks, std::size_t cap = 16,
                               bool eof = true) {
    LineBuffer lines(cap);
    std::vector<std::string> out;
    auto drain = [&] {
        while (auto l = lines.next()) {
            out.push_back((l->kind == FramedLine::Kind::complete ? "L:" : "O:") +
                          std::string(l->text));
        }
    };
    for (const auto& c : chunks) {
        lines.append(c);
        drain();
    }
    if (eof) {
        lines.finish();
        drain();
    }
    return out;
}

using Lines = std::vector<std::string>;

TEST(LineBuffer, SplitsOnNewlineAndDropsOneCarriageReturn) {
    EXPECT_EQ(frame({"a\nb\r\nc\r\r\n"}), (Lines{"L:a", "L:b", "L:c\r"}));
}

TEST(LineBuffer, LinesSplitAcrossReads) {
    EXPECT_EQ(frame({"IA", "MAT x", "\r", "\nWH", "ATSAT\n"}), (Lines{"L:IAMAT x", "L:WHATSAT"}));
}

TEST(LineBuffer, FinalUnterminatedLineIsDeliveredAtEof) {
    EXPECT_EQ(frame({"one\ntwo"}), (Lines{"L:one", "L:two"}));
    EXPECT_EQ(frame({"one\ntwo"}, 16, false), (Lines{"L:one"}));
}

TEST(LineBuffer, EmptyLinesAreLines) {
    EXPECT_EQ(frame({"\n\r\n"}), (Lines{"L:", "L:"}));
}

TEST(LineBuffer, LineOfExactlyTheCapIsAccepted) {
    const std::string line(16, 'x');
    EXPECT_EQ(frame({line + "\r\n"}), (Lines{"L:" + line}));
    EXPECT_EQ(frame({line, "\r", "\n"}), (Lines{"L:" + line}));
}

TEST(LineBuffer, OverlongLineReportedWithItsFirstCapBytesAndTheRestDiscarded) {
    const std::string head = "0123456789abcdef";
    EXPECT_EQ(frame({head + "tail-that-goes\nnext\n"}), (Lines{"O:" + head, "L:next"}));
}

TEST(LineBuffer, OverlongLineIsReportedBeforeItsEndArrives) {
    LineBuffer lines(16);
    lines.append(std::string(17, 'z'));
    auto first = lines.next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->kind, FramedLine::Kind::overlong);
    EXPECT_EQ(first->text, std::string(16, 'z'));
    EXPECT_FALSE(lines.next());
    lines.append(std::string(1000, 'z'));
    EXPECT_FALSE(lines.next());
    lines.append("zz\nok\n");
    auto second = lines.next();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->kind, FramedLine::Kind::complete);
    EXPECT_EQ(second->text, "ok");
}

TEST(LineBuffer, OverlongLineSplitAcrossManyReadsKeepsMemoryBounded) {
    LineBuffer lines(64);
    std::vector<std::string> events;
    std::size_t held_max = 0;
    for (int i = 0; i < 1000; ++i) {
        lines.append(std::string(50, static_cast<char>('a' + i % 26)));
        while (auto l = lines.next())
            events.emplace_back(l->text);
        held_max = std::max(held_max, lines.buffered_bytes());
    }
    lines.append("\nafter\n");
    while (auto l = lines.next())
        events.emplace_back(l->text);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], std::string(50, 'a') + std::string(14, 'b'));
    EXPECT_EQ(events[1], "after");
    EXPECT_LE(held_max, 2u * 64);
}

TEST(LineBuffer, ReleaseKeepsASmallBufferAndFreesABigOne) {
    LineBuffer lines(100'000);
    lines.append(std::string(1000, 'a') + "\n");
    while (lines.next()) {
    }
    lines.release_if_empty(4096);
    EXPECT_GE(lines.capacity_bytes(), 1000u);  // kept for the next read
    EXPECT_EQ(lines.buffered_bytes(), 0u);
    lines.append("next\n");
    auto l = lines.next();
    ASSERT_TRUE(l);
    EXPECT_EQ(l->text, "next");
    lines.append(std::string(50'000, 'x') + "\n");
    while (lines.next()) {
    }
    lines.release_if_empty(4096);
    EXPECT_LT(lines.capacity_bytes(), 1000u);  // more than it keeps: freed
    lines.append("partial");
    lines.release_if_empty();
    EXPECT_EQ(lines.buffered_bytes(), 7u);  // never while bytes are held
}

TEST(LineBuffer, CapPlusCarriageReturnThenOtherByteIsOverlong) {
    const std::string line(16, 'x');
    EXPECT_EQ(frame({line + "\r", "y\n"}), (Lines{"O:" + line}));
}

TEST(LineBuffer, OverlongFinalLineWithoutNewline) {
    EXPECT_EQ(frame({std::string(40, 'q')}), (Lines{"O:" + std::string(16, 'q')}));
}

}  // namespace
}  // namespace herd
