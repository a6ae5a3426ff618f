#include "cli/demo.hpp"

#include <string>
#include <string_view>
#include <type_traits>

#include "core/node.hpp"
#include "core/synthetic_places.hpp"

namespace herd::cli {

namespace {

void show(std::ostream& out, std::string_view prefix, std::string_view bytes) {
    std::size_t start = 0;
    while (start < bytes.size()) {
        const std::size_t end = bytes.find('\n', start);
        const std::size_t stop = end == std::string_view::npos ? bytes.size() : end;
        out << prefix << bytes.substr(start, stop - start) << '\n';
        start = stop + 1;
    }
}

}  // namespace

int run_demo(std::ostream& out) {
    NodeConfig config;
    config.self = *ServerName::parse("Alford");  // no neighbours: a herd of one
    // The wall clock of this demo: 0.263873386 s after the client's first report.
    const Now now{Instant{0}, Timestamp{1479413884, 656887836}};
    Node alford(std::move(config), now);
    const std::string input =
        "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450\n"
        "WHATSAT kiwi.cs.ucla.edu 10 2\n"
        "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.000000000\n"
        "iamat lower-case is not a verb\n"
        "WHATSAT ghost.example 10 2\n";
    out << "herd demo: one server (Alford), the core only, Places from the offline generator\n\n";
    show(out, "client> ", input);
    out << '\n';
    // One client connection through the same Node the simulator and `herd serve` drive.
    constexpr ConnectionId client = 1;
    alford.handle_accepted(client, now);
    alford.handle_bytes(client, input, now);
    alford.handle_eof(client, now);
    drain(alford, [&](auto&& action) {
        using A = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<A, Reply>) {
            show(out, "server< ", action.bytes);
        } else if constexpr (std::is_same_v<A, QueryPlaces>) {
            const PlacesQuery& q = action.query;
            alford.handle_places_reply(
                action.id,
                PlacesResult{true,
                             synthetic_places_json(q.lat_nanodeg, q.lon_nanodeg, q.radius,
                                                   synthetic_places_count_max),
                             {}},
                now);
        }
    });
    out << "\nstore: " << alford.store().size()
        << " record(s); the older IAMAT did not replace the newer\n";
    return 0;
}

}  // namespace herd::cli
