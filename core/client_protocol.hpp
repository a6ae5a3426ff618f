// The client protocol of design §3: one line in, a typed request out; and the exact reply bytes.
//
// Parsing is pure and allocation-free: a request holds views into the line it came from.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "core/time.hpp"
#include "core/types.hpp"

namespace herd {

struct BlankLine {};

// Anything that is not a well-formed IAMAT or WHATSAT: unknown or lower-case verb, wrong field
// count, malformed or out-of-range field. It is answered `? <line>`.
struct InvalidLine {};

struct IamatRequest {
    std::string_view client;
    std::string_view latlon_text;
    std::string_view time_text;
    LatLon location;
    Timestamp time;
};

struct WhatsatRequest {
    std::string_view client;
    RadiusKm radius;
    unsigned bound = 0;
};

using ClientRequest = std::variant<BlankLine, InvalidLine, IamatRequest, WhatsatRequest>;

ClientRequest parse_client_line(std::string_view line);

// "AT <server> <skew> <client> <latlon> <time>" without the newline; skew = received - client
// time, exact. The client's three fields are echoed byte for byte.
std::string format_at_line(const ServerName& server, Timestamp received, const IamatRequest& iamat);

// "? <line>\n": the reply to an invalid line, echoing it as received (without its ending).
std::string format_invalid_reply(std::string_view line);

}  // namespace herd
