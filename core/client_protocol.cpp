#include "core/client_protocol.hpp"

#include "core/defects.hpp"
#include "core/text.hpp"

namespace herd {

namespace {

// One more than the longest valid request, so a fifth field is seen and rejected.
constexpr std::size_t fields_max = 5;

ClientRequest parse_iamat(const std::string_view* f) {
    auto location = LatLon::parse(f[2]);
    if (!location) return InvalidLine{};
    auto time = parse_client_time(f[3]);
    if (!time) return InvalidLine{};
    return IamatRequest{f[1], f[2], f[3], std::move(*location), *time};
}

ClientRequest parse_whatsat(const std::string_view* f) {
    auto radius = RadiusKm::parse(f[2]);
    if (!radius) return InvalidLine{};
    auto bound = parse_whatsat_bound(f[3]);
    if (!bound) return InvalidLine{};
    return WhatsatRequest{f[1], *radius, *bound};
}

}  // namespace

ClientRequest parse_client_line(std::string_view line) {
    std::string_view f[fields_max];
    const std::size_t count = split_fields(line, f, fields_max);
    if (count == 0) return BlankLine{};
    if (count != 4) return InvalidLine{};
    if (f[0] == "IAMAT") return parse_iamat(f);
    if (f[0] == "WHATSAT") return parse_whatsat(f);
    return InvalidLine{};
}

std::string format_at_line(const ServerName& server, Timestamp received,
                           const IamatRequest& iamat) {
    TimeDifference d = difference(received, iamat.time);
    if (defect(Defect::skew_doubled_when_behind) && d.negative) {
        d.seconds = d.seconds * 2 + (d.nanos * 2) / 1'000'000'000;
        d.nanos = (d.nanos * 2) % 1'000'000'000;
    }
    const std::string skew = format_signed_seconds(d);
    std::string out;
    out.reserve(3 + server.str().size() + 1 + skew.size() + 1 + iamat.client.size() + 1 +
                iamat.latlon_text.size() + 1 + iamat.time_text.size());
    out += "AT ";
    out += server.str();
    out += ' ';
    out += skew;
    out += ' ';
    out += iamat.client;
    out += ' ';
    out += iamat.latlon_text;
    out += ' ';
    out += iamat.time_text;
    return out;
}

std::string format_invalid_reply(std::string_view line) {
    std::string out;
    out.reserve(line.size() + 3);
    out += "? ";
    out += line;
    out += '\n';
    return out;
}

}  // namespace herd
