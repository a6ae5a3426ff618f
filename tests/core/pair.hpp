// A test helper: two real Nodes joined by hand. `a` dials `b`; carry() moves every peer line
// both ways, in order, until both are quiet. client() is one client connection to either Node,
// read at once, with Places answered at once by `places_body`. Literal times throughout.
#pragma once

#include <string>
#include <vector>

#include "core/node.hpp"
#include "node_actions.hpp"

namespace herd::test {

struct Pair {
    Node a;
    Node b;
    std::vector<Action> seen_a;
    std::vector<Action> seen_b;

    Pair(const char* name_a, const char* name_b,
         std::size_t line_bytes_max = line_bytes_max_default)
        : a(config(name_a, name_b, line_bytes_max), at_ms(0)),
          b(config(name_b, name_a, line_bytes_max), at_ms(0)) {
        step(at_ms(0));  // the dials each asks for at start; a's is the one carried out
        a.handle_dialed(link, ServerName(*ServerName::parse(name_b)), at_ms(1));
        b.handle_accepted(link, at_ms(1));
        carry(at_ms(2));
    }

    static NodeConfig config(const char* self, const char* peer, std::size_t line_bytes_max) {
        NodeConfig c;
        c.self = *ServerName::parse(self);
        c.neighbours = {*ServerName::parse(peer)};
        c.seed = 7;
        c.limits.line_bytes_max = line_bytes_max;
        return c;
    }

    // Moves peer bytes both ways until neither Node sends anything.
    void carry(Now now) {
        for (int round = 0; round < 1000 && step(now); ++round) {
        }
    }

    // One client connection to `node`: sends `bytes`, then EOF; returns what the client read.
    std::string client(Node& node, ConnectionId conn, const std::string& bytes, Now now,
                       const std::string& places_body = R"({"results": [], "status": "OK"})") {
        std::vector<Action>& seen = &node == &a ? seen_a : seen_b;
        std::size_t read = seen.size();
        node.handle_accepted(conn, now);
        node.handle_bytes(conn, bytes, now);
        node.handle_eof(conn, now);
        std::string out;
        for (int round = 0; round < 1000 && step(now); ++round) {
            for (; read < seen.size(); ++read) {
                if (auto* r = std::get_if<Reply>(&seen[read]); r && r->conn == conn) {
                    out += r->bytes;
                    node.handle_sent(conn, r->bytes.size(), now);
                } else if (auto* q = std::get_if<QueryPlaces>(&seen[read])) {
                    node.handle_places_reply(q->id, PlacesResult{true, places_body, {}}, now);
                }
            }
        }
        return out;
    }

    static constexpr ConnectionId link = 1;

  private:
    // Drains both Nodes into seen_a / seen_b and delivers the peer bytes each sent on the link;
    // false when neither had anything to do.
    bool step(Now now) {
        std::vector<SharedBytes> from_a, from_b;
        bool any = false;
        while (auto x = a.poll_action()) {
            if (auto* s = std::get_if<SendToPeer>(&*x); s && s->conn == link)
                from_a.push_back(s->bytes);
            seen_a.push_back(std::move(*x));
            any = true;
        }
        while (auto x = b.poll_action()) {
            if (auto* s = std::get_if<SendToPeer>(&*x); s && s->conn == link)
                from_b.push_back(s->bytes);
            seen_b.push_back(std::move(*x));
            any = true;
        }
        for (const SharedBytes& bytes : from_a)
            b.handle_bytes(link, *bytes, now);
        for (const SharedBytes& bytes : from_b)
            a.handle_bytes(link, *bytes, now);
        return any;
    }
};

}  // namespace herd::test
