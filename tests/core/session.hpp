// A test helper: client connections to one real Node (a server with one configured neighbour,
// "Ball", so that peer verbs mean something to it). Each run() is one connection: accepted,
// fed `chunks` one read at a time, then EOF; the client reads everything at once, and WHATSATs
// are answered from `places` (the synthetic generator unless a test replaces it). Returns every
// byte the client read. Nothing here re-implements the Node: it only carries its actions out.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/node.hpp"
#include "core/synthetic_places.hpp"

namespace herd::test {

struct Session {
    // Settings, read when the Node is made (at the first run).
    std::string server;
    TieBreak rule;
    std::size_t line_bytes_max = line_bytes_max_default;
    // The wall clock of the next run.
    Timestamp received{1479413884, 656887836};
    std::function<std::string(const PlacesQuery&)> places = [](const PlacesQuery& q) {
        return synthetic_places_json(q.lat_nanodeg, q.lon_nanodeg, q.radius,
                                     synthetic_places_count_max);
    };
    // The AT lines that changed the store at a client's request (what the Node floods).
    std::vector<std::string> flooded;
    // Every action the Node asked for, in order (for tests that look for what must not happen).
    std::vector<Action> actions;

    explicit Session(std::string_view server_name = "Alford", TieBreak tie_rule = TieBreak::first)
        : server(server_name), rule(tie_rule) {}

    Node& node() {
        if (!node_) {
            NodeConfig config;
            config.self = *ServerName::parse(server);
            config.neighbours = {*ServerName::parse(server == "Ball" ? "Alford" : "Ball")};
            config.tie_break = rule;
            config.seed = 1;
            config.limits.line_bytes_max = line_bytes_max;
            node_ = std::make_unique<Node>(config, now());
            carry_out();
        }
        return *node_;
    }
    const RecordStore& store() { return node().store(); }

    std::string run(const std::vector<std::string>& chunks) {
        Node& n = node();
        const ConnectionId conn = next_conn_++;
        out_.clear();
        n.handle_accepted(conn, now());
        carry_out();
        for (const std::string& chunk : chunks) {
            n.handle_bytes(conn, chunk, now());
            carry_out();
        }
        n.handle_eof(conn, now());
        carry_out();
        return out_;
    }

    std::string run(std::string_view bytes) {
        return run(std::vector<std::string>{std::string(bytes)});
    }

  private:
    Now now() { return Now{Instant{++mono_ns_}, received}; }

    // Carries out what the Node asks, until it asks nothing more: replies are read at once,
    // Places is answered at once, dials fail (the neighbour is never there).
    void carry_out() {
        for (int round = 0; round < 1'000'000; ++round) {
            std::vector<Action> batch;
            while (auto a = node_->poll_action())
                batch.push_back(std::move(*a));
            if (batch.empty()) return;
            for (Action& a : batch) {
                actions.push_back(a);
                if (auto* r = std::get_if<Reply>(&a)) {
                    out_ += r->bytes;
                    node_->handle_sent(r->conn, r->bytes.size(), now());
                } else if (auto* q = std::get_if<QueryPlaces>(&a)) {
                    node_->handle_places_reply(q->id, PlacesResult{true, places(q->query), {}},
                                               now());
                } else if (auto* d = std::get_if<Dial>(&a)) {
                    node_->handle_dial_failed(d->peer, now());
                } else if (auto* applied = std::get_if<RecordApplied>(&a)) {
                    if (applied->via.empty()) flooded.push_back(applied->at_line);
                }
            }
        }
    }

    std::unique_ptr<Node> node_;
    std::string out_;
    std::int64_t mono_ns_ = 0;
    ConnectionId next_conn_ = 1;
};

}  // namespace herd::test
