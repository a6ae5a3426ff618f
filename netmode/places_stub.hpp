// `herd places-stub`: a local, Google-compatible fake of both Places API shapes, built on the
// core's synthetic generator, for tests and for running a herd with no network or key.
//
//   GET  /maps/api/place/nearbysearch/json?location=LAT,LNG&radius=M&key=K   (Legacy)
//   POST /v1/places:searchNearby  with X-Goog-Api-Key and a JSON body        (New)
//
// Both need a key (any value); `latency` delays every answer and `status` makes every answer
// that error (REQUEST_DENIED, OVER_QUERY_LIMIT, INVALID_REQUEST, UNKNOWN_ERROR, ...).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace herd::net {

// How one request is answered: after `latency`, normally or (status not empty) with that error;
// or (`hang`) never: the connection stays open, silent, until the client gives up.
struct StubFault {
    std::chrono::nanoseconds latency{0};
    std::string status;
    bool hang = false;
};

struct StubOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::chrono::milliseconds latency{0};
    std::string status;  // empty: answer normally
    // When set, asked once per request instead of `latency` and `status` (`herd replay` draws
    // the scenario's Places latency and failures with it).
    std::function<StubFault()> fault;
    // When set, told one line per request answered (`herd places-stub` prints them).
    std::function<void(const std::string&)> on_request;
};

// The stub on a caller's io_context (for `herd replay`): listens until destroyed or stopped.
class PlacesStub {
  public:
    PlacesStub(boost::asio::io_context& io, StubOptions options);
    std::optional<Error> start();
    std::uint16_t port() const { return port_; }
    void stop();

  private:
    StubOptions options_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
};

// Runs until SIGINT or SIGTERM. Prints the port it listens on. Returns the exit status.
int run_places_stub(StubOptions options);

// The answer to one request (exposed for tests): HTTP status and body.
struct StubAnswer {
    int http_status = 200;
    std::string body;
};
StubAnswer stub_answer(const std::string& method, const std::string& target,
                       const std::string& api_key_header, const std::string& body,
                       const std::string& forced_status);

}  // namespace herd::net
