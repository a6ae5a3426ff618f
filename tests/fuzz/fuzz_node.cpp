// libFuzzer target: arbitrary bytes, in arbitrary chunks, into a Node, as a client connection and
// as a peer that completed the (unauthenticated) handshake. Whatever arrives, the Node must
// neither crash nor break an invariant (HERD_ASSERT aborts), and every action must be sane.
//
//   cmake -S . -B build-fuzz -G Ninja -DHERD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14
//   cmake --build build-fuzz --target fuzz_node && build-fuzz/tests/fuzz/fuzz_node
//   -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/node.hpp"

namespace {

using namespace herd;

void drain_all(Node& node, Now now) {
    while (auto a = node.poll_action()) {
        if (auto* s = std::get_if<SendToPeer>(&*a))
            node.handle_sent(s->conn, s->bytes->size(), now);
        if (auto* r = std::get_if<Reply>(&*a)) node.handle_sent(r->conn, r->bytes.size(), now);
        if (auto* q = std::get_if<QueryPlaces>(&*a)) {
            node.handle_places_reply(
                q->id, PlacesResult{true, R"({"results": [1, {"a": [2]}], "status": "OK"})", {}},
                now);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    NodeConfig config;
    config.self = *ServerName::parse("Hamilton");
    config.neighbours = {*ServerName::parse("Alford"), *ServerName::parse("Holiday")};
    config.limits.line_bytes_max = 256;  // small, so the over-long path is reached often
    Now now{Instant{0}, Timestamp{1479413884, 0}};
    Node node(config, now);
    drain_all(node, now);
    // Connection 1: a client. Connection 2: Alford, past the handshake.
    node.handle_accepted(1, now);
    node.handle_accepted(2, now);
    node.handle_bytes(2, "HELLO herd/1 Alford Hamilton 0000000000000001 0000000000000002\nAUTH -\n",
                      now);
    drain_all(node, now);
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t i = 0;
    while (i < input.size()) {
        // The first byte of each step picks the connection and the chunk length.
        const auto control = static_cast<unsigned char>(input[i++]);
        const std::size_t length = std::min<std::size_t>(1 + (control & 0x3f), input.size() - i);
        const ConnectionId conn = (control & 0x40) ? 2 : 1;
        now.mono = now.mono + Duration::milliseconds(control >> 7);
        now.wall = now.wall + Duration::milliseconds(control >> 7);
        node.handle_bytes(conn, input.substr(i, length), now);
        i += length;
        drain_all(node, now);
        if (auto t = node.poll_timeout(); t && *t <= now.mono) {
            node.handle_timeout(now);
            drain_all(node, now);
        }
    }
    node.handle_eof(1, now);
    drain_all(node, now);
    return 0;
}
