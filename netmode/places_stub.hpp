// `herd places-stub`: a local, Google-compatible fake of both Places API shapes, built on the
// core's synthetic generator, for tests and for running a herd with no network or key.
//
//   GET  /maps/api/place/nearbysearch/json?location=LAT,LNG&radius=M&key=K   (Legacy)
//   POST /v1/places:searchNearby  with X-Goog-Api-Key and a JSON body        (New)
//
// Both need a key (any value); `latency` delays every answer and `status` makes every answer
// that error (REQUEST_DENIED, OVER_QUERY_LIMIT, INVALID_REQUEST, UNKNOWN_ERROR, ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace herd::net {

struct StubOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::chrono::milliseconds latency{0};
    std::string status;  // empty: answer normally
};

// Runs until SIGINT or SIGTERM. Prints the port it listens on. Returns the exit status.
int run_places_stub(const StubOptions& options);

// The answer to one request (exposed for tests): HTTP status and body.
struct StubAnswer {
    int http_status = 200;
    std::string body;
};
StubAnswer stub_answer(const std::string& method, const std::string& target,
                       const std::string& api_key_header, const std::string& body,
                       const std::string& forced_status);

}  // namespace herd::net
