#include "cli/demo.hpp"

#include <string>
#include <string_view>

#include "core/client_service.hpp"
#include "core/line_buffer.hpp"
#include "core/synthetic_places.hpp"
#include "core/whatsat_reply.hpp"

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
    RecordStore store;
    ClientService alford(*ServerName::parse("Alford"), store);
    // The wall clock of this demo: 0.263873386 s after the client's first report.
    const Timestamp received{1479413884, 656887836};
    const std::string input =
        "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450\n"
        "WHATSAT kiwi.cs.ucla.edu 10 2\n"
        "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.000000000\n"
        "iamat lower-case is not a verb\n"
        "WHATSAT ghost.example 10 2\n";
    out << "herd demo: one server (Alford), the core only, Places from the offline generator\n\n";
    show(out, "client> ", input);
    out << '\n';
    LineBuffer lines;
    lines.append(input);
    lines.finish();
    while (auto line = lines.next()) {
        if (line->kind == FramedLine::Kind::overlong) {
            show(out, "server< ", "? " + std::string(line->text));
            continue;
        }
        ClientOutcome outcome = alford.handle_line(line->text, received);
        if (outcome.kind == ClientOutcome::Kind::reply) show(out, "server< ", outcome.reply);
        if (outcome.kind == ClientOutcome::Kind::places_query) {
            const PlacesQuery& q = *outcome.query;
            const std::string body = synthetic_places_json(q.lat_nanodeg, q.lon_nanodeg, q.radius,
                                                           synthetic_places_count_max);
            show(out, "server< ", format_whatsat_reply(q.at_line, body, q.bound));
        }
    }
    out << "\nstore: " << store.size() << " record(s); the older IAMAT did not replace the newer\n";
    return 0;
}

}  // namespace herd::cli
