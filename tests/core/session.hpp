// A test helper: one server's client session through the core alone. Bytes go through the
// LineBuffer and the ClientService; WHATSATs are answered from `places` (the synthetic generator
// unless a test replaces it). Returns every byte the client would read.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/client_service.hpp"
#include "core/line_buffer.hpp"
#include "core/synthetic_places.hpp"
#include "core/whatsat_reply.hpp"

namespace herd::test {

struct Session {
    RecordStore store;
    ClientService service;
    Timestamp received{1479413884, 656887836};
    std::size_t line_bytes_max = line_bytes_max_default;
    std::function<std::string(const PlacesQuery&)> places = [](const PlacesQuery& q) {
        return synthetic_places_json(q.lat_nanodeg, q.lon_nanodeg, q.radius,
                                     synthetic_places_count_max);
    };
    std::vector<const Record*> flooded;

    explicit Session(std::string_view server = "Alford", TieBreak rule = TieBreak::first)
        : store(rule), service(*ServerName::parse(server), store) {}

    // Sends `chunks` one read at a time, then EOF; returns what the client reads.
    std::string run(const std::vector<std::string>& chunks) {
        LineBuffer lines(line_bytes_max);
        std::string out;
        auto drain = [&] {
            while (auto line = lines.next()) {
                if (line->kind == FramedLine::Kind::overlong) {
                    out += format_invalid_reply(line->text);
                    continue;
                }
                ClientOutcome o = service.handle_line(line->text, received);
                if (o.changed != nullptr) flooded.push_back(o.changed);
                if (o.kind == ClientOutcome::Kind::reply) out += o.reply;
                if (o.kind == ClientOutcome::Kind::places_query) {
                    out += format_whatsat_reply(o.query->at_line, places(*o.query), o.query->bound);
                }
            }
        };
        for (const auto& chunk : chunks) {
            lines.append(chunk);
            drain();
        }
        lines.finish();
        drain();
        return out;
    }

    std::string run(std::string_view bytes) {
        return run(std::vector<std::string>{std::string(bytes)});
    }
};

}  // namespace herd::test
