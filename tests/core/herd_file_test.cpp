// The herd file of design §5, parsed and written in one place (core/herd_file).
#include "core/herd_file.hpp"

#include <gtest/gtest.h>

namespace herd {
namespace {

const char* const design_example =
    "server Alford   127.0.0.1:12000\n"
    "server Ball     127.0.0.1:12001\n"
    "server Hamilton 127.0.0.1:12002\n"
    "server Holiday  127.0.0.1:12003\n"
    "server Welsh    127.0.0.1:12004\n"
    "link Alford Hamilton\n"
    "link Alford Welsh\n"
    "link Ball Holiday\n"
    "link Ball Welsh\n"
    "link Hamilton Holiday\n";

std::string error_of(std::string_view text) {
    const auto r = parse_herd_file(text, "h.herd");
    const auto* e = error_of(r);
    return e == nullptr ? "<parsed>" : e->message;
}

TEST(HerdFile, TheDesignExampleIsTheFall2017Preset) {
    const auto r = parse_herd_file(design_example, "fall.herd");
    ASSERT_TRUE(std::holds_alternative<HerdSpec>(r)) << std::get<Error>(r).message;
    const HerdSpec& herd = std::get<HerdSpec>(r);
    const HerdSpec preset = fall2017_herd();
    ASSERT_EQ(herd.servers.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(herd.servers[i].name, preset.servers[i].name);
        EXPECT_EQ(herd.servers[i].host, "127.0.0.1");
        EXPECT_EQ(herd.servers[i].port, 12000 + i);
        EXPECT_EQ(herd.servers[i].line, static_cast<int>(i) + 1);
    }
    EXPECT_EQ(herd.links, preset.links);
    EXPECT_TRUE(herd.linked(herd.index_of("Welsh"), herd.index_of("Alford")));  // undirected
    EXPECT_FALSE(herd.linked(herd.index_of("Alford"), herd.index_of("Ball")));
    EXPECT_EQ(
        herd.neighbours_of(herd.index_of("Alford")),
        (std::vector<ServerName>{*ServerName::parse("Hamilton"), *ServerName::parse("Welsh")}));
}

TEST(HerdFile, CommentsBlankLinesAndOptionalAddresses) {
    const auto r = parse_herd_file(
        "# a herd\n\nserver A   # no address\nserver B 10.0.0.2:99\n"
        "link B A # either order\nlink A B\n",
        "h");
    ASSERT_TRUE(std::holds_alternative<HerdSpec>(r));
    const HerdSpec& herd = std::get<HerdSpec>(r);
    EXPECT_EQ(herd.servers[0].port, 0);
    EXPECT_EQ(herd.servers[1].host, "10.0.0.2");
    EXPECT_EQ(herd.links.size(), 1u);  // the same link twice is one link
}

TEST(HerdFile, ErrorsNameTheFileTheLineAndWhatWasExpected) {
    EXPECT_EQ(error_of("server A\nfoo bar\n"),
              "h.herd:2: expected `server`, `link` or a `tls-` setting, got 'foo'");
    EXPECT_EQ(error_of("server\n"), "h.herd:1: expected `server NAME [HOST:PORT]`");
    EXPECT_EQ(error_of("server A\nlink A\n"), "h.herd:2: expected `link SERVER SERVER`");
    EXPECT_EQ(error_of("server A\nserver A\n"), "h.herd:2: server 'A' is declared twice");
    EXPECT_EQ(error_of("server A\nlink A Z\n"),
              "h.herd:2: unknown server 'Z' (declare it with `server` first)");
    EXPECT_EQ(error_of("server A\nlink A A\n"), "h.herd:2: a link joins two different servers");
    EXPECT_EQ(error_of("server A 1.2.3.4:0\n"),
              "h.herd:1: expected an address host:port, got '1.2.3.4:0'");
    EXPECT_EQ(error_of("server A h:1\nserver B h:1\n"),
              "h.herd:2: address h:1 is already used by A");
    EXPECT_EQ(error_of("# nothing\n"), "h.herd:1: expected at least one `server`");
}

TEST(HerdFile, TlsSettingsComeAllThreeOrNoneAndNameEachServersFiles) {
    const auto r = parse_herd_file(
        "server A 10.0.0.1:1\nserver B 10.0.0.2:1\nlink A B\ntls-ca /etc/herd/ca.pem\n"
        "tls-cert certs/{name}.pem\ntls-key certs/{name}.key\n",
        "h");
    ASSERT_TRUE(std::holds_alternative<HerdSpec>(r));
    const HerdSpec& herd = std::get<HerdSpec>(r);
    const TlsFiles b = herd.tls.for_server("B", "/srv/herd");
    EXPECT_EQ(b.ca, "/etc/herd/ca.pem");  // absolute: kept
    EXPECT_EQ(b.cert, "/srv/herd/certs/B.pem");
    EXPECT_EQ(b.key, "/srv/herd/certs/B.key");
    EXPECT_EQ(std::get<HerdSpec>(parse_herd_file(format_herd_file(herd), "w")).tls.cert,
              "certs/{name}.pem");
    EXPECT_EQ(error_of("server A\ntls-ca ca.pem\ntls-key k\n"),
              "h.herd:2: expected all three of `tls-ca`, `tls-cert` and `tls-key`, or none");
    EXPECT_EQ(error_of("server A\ntls-ca\n"), "h.herd:2: expected `tls-ca FILE`");
    EXPECT_EQ(error_of("server A\ntls-ca a\ntls-ca b\n"), "h.herd:3: tls-ca is set twice");
    EXPECT_EQ(error_of("server A\ntls-pin x\n"),
              "h.herd:2: expected `tls-ca`, `tls-cert` or `tls-key`, got 'tls-pin'");
}

TEST(HerdFile, WrittenHerdsReadBackTheSame) {
    for (const HerdSpec& herd : {fall2017_herd(), fall2017_herd("127.0.0.9", 30000),
                                 grid_herd(3, 4), random_herd(20, 3, 7)}) {
        const std::string text = format_herd_file(herd);
        const auto r = parse_herd_file(text, "w");
        ASSERT_TRUE(std::holds_alternative<HerdSpec>(r)) << text;
        const HerdSpec& back = std::get<HerdSpec>(r);
        ASSERT_EQ(back.servers.size(), herd.servers.size());
        for (std::size_t i = 0; i < herd.servers.size(); ++i) {
            EXPECT_EQ(back.servers[i].name, herd.servers[i].name);
            EXPECT_EQ(back.servers[i].host, herd.servers[i].host);
            EXPECT_EQ(back.servers[i].port, herd.servers[i].port);
        }
        EXPECT_EQ(back.links, herd.links);
    }
}

TEST(HerdFile, LoopbackHostsAreTheOnlyOnesThatNeedNoSecret) {
    for (const char* host : {"127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "::1"})
        EXPECT_TRUE(is_loopback_host(host)) << host;
    for (const char* host : {"10.0.0.2", "192.0.2.1", "127.0.0", "127.0.0.256", "127.0.0.1.5",
                             "127.a.0.1", "herd.example", "", "0.0.0.0", "::"})
        EXPECT_FALSE(is_loopback_host(host)) << host;
    const auto r = parse_herd_file("server A 127.0.0.1:1\nserver B 192.0.2.1:2\nserver C\n", "h");
    ASSERT_TRUE(std::holds_alternative<HerdSpec>(r));
    ASSERT_NE(first_off_loopback(std::get<HerdSpec>(r)), nullptr);
    EXPECT_EQ(first_off_loopback(std::get<HerdSpec>(r))->name.str(), "B");
    EXPECT_EQ(first_off_loopback(fall2017_herd()), nullptr);
}

}  // namespace
}  // namespace herd
