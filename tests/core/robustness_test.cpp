// Property tests: whatever bytes a client sends, in whatever chunks, the server answers every
// non-blank line exactly once, in order, with `? ...` or a well-formed AT reply, and a peer
// that has not shaken hands never changes the store.
#include <gtest/gtest.h>

#include "core/prng.hpp"
#include "core/text.hpp"
#include "session.hpp"

namespace herd::test {
namespace {

// A random mix of valid requests, near misses and garbage, as lines.
std::vector<std::string> random_lines(Prng& prng, int count) {
    static const char* fragments[] = {"IAMAT",
                                      "WHATSAT",
                                      "AT",
                                      "HELLO",
                                      "iamat",
                                      "kiwi",
                                      "+34.068930-118.445127",
                                      "1479413884.5",
                                      "10",
                                      "5",
                                      "+91.0+0.0",
                                      "-0.5+179.9",
                                      "\xF0\x9F\xA5\x9D",
                                      "50.5",
                                      "21",
                                      "\t",
                                      "  ",
                                      "\r",
                                      "x",
                                      "",
                                      "\f",
                                      "\v",
                                      "+1.0+1.0",
                                      "1e5"};
    std::vector<std::string> lines;
    for (int i = 0; i < count; ++i) {
        std::string line;
        const int words = static_cast<int>(prng.below(6));
        for (int w = 0; w < words; ++w) {
            if (w > 0) line += prng.below(4) == 0 ? "\t" : " ";
            line += fragments[prng.below(std::size(fragments))];
        }
        if (prng.below(10) == 0) {
            for (int b = 0; b < 5; ++b)
                line += static_cast<char>(prng.below(256));
            std::string cleaned;
            for (char c : line) {
                if (c != '\n') cleaned += c;
            }
            line = cleaned;
        }
        lines.push_back(line);
    }
    return lines;
}

bool blank(std::string_view line) {
    for (char c : line) {
        if (!is_space(c)) return false;
    }
    return true;
}

TEST(Robustness, EveryNonBlankLineGetsExactlyOneReplyWhateverTheChunking) {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        Prng prng(seed);
        const auto lines = random_lines(prng, 200);
        std::string bytes;
        std::size_t expected = 0;
        for (const auto& l : lines) {
            expected += !blank(l);  // (a CR dropped before LF is white space either way)
            bytes += l + (prng.below(3) == 0 ? "\r\n" : "\n");
        }
        std::vector<std::string> chunks;
        for (std::size_t at = 0; at < bytes.size();) {
            const std::size_t n = 1 + prng.below(64);
            chunks.push_back(bytes.substr(at, n));
            at += n;
        }
        Session s;
        s.places = [](const PlacesQuery&) {
            return std::string(R"({"results": [], "status": "OK"})");
        };
        const std::string out = s.run(chunks);
        // Count replies: `? ` lines and AT lines (a WHATSAT reply is an AT line plus a JSON body).
        std::size_t replies = 0;
        std::size_t p = 0;
        while (p < out.size()) {
            const std::size_t eol = out.find('\n', p);
            ASSERT_NE(eol, std::string::npos) << "seed " << seed;
            const std::string_view line(out.data() + p, eol - p);
            if (line.rfind("? ", 0) == 0) {
                ++replies;
                p = eol + 1;
            } else if (line.rfind("AT Alford ", 0) == 0) {
                ++replies;
                p = eol + 1;
                if (out.compare(p, 2, "{\n") == 0) p = out.find("}\n\n", p) + 3;  // a WHATSAT body
            } else {
                FAIL() << "seed " << seed << ": unexpected reply line '" << line << "'";
            }
        }
        EXPECT_EQ(replies, expected) << "seed " << seed;
    }
}

// Alford's neighbour is Ball (see session.hpp), so these lines would be taken from an
// established Ball link. Sent as a client, or after a HELLO whose handshake never completes, they
// must change nothing.
TEST(Robustness, PeerLinesWithoutAHandshakeNeverChangeTheStore) {
    Prng prng(7);
    const std::string hello = "HELLO herd/1 Ball Alford 0000000000000001 0000000000000002\n";
    for (int round = 0; round < 200; ++round) {
        Session s;
        const std::string record = "AT Ball +0.100000000 c" + std::to_string(round) + " +1.0+1.0 " +
                                   std::to_string(prng.below(1'000'000)) + "\n";
        const std::string peer_lines =
            record + "DIGEST 0 0000000000000000 1=0000000000000001/1\nPING\nAUTH -\n" + record;
        s.run(peer_lines);          // as a client
        s.run(hello + peer_lines);  // a handshake that never completes
        s.run(std::vector<std::string>{hello, record, "AUTH 00\n", record});  // a wrong AUTH
        EXPECT_EQ(s.store().size(), 0u) << "round " << round;
        for (const Action& a : s.actions)
            EXPECT_FALSE(std::holds_alternative<RecordApplied>(a)) << "round " << round;
    }
}

}  // namespace
}  // namespace herd::test
