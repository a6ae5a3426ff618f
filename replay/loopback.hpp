// Loopback plumbing of herd replay: sockets on 127.0.0.1, ports held for a whole run, an HTTP
// GET of a server's admin port, and sums of its Prometheus metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace herd::replay {

// A socket to 127.0.0.1:port with send and receive timeouts; -1 if it cannot connect.
int connect_loopback(std::uint16_t port, std::chrono::milliseconds timeout);

// A socket bound to 127.0.0.1:port with SO_REUSEADDR and never listening: it holds the port
// against every other bind (the proxy's own listeners, other programs) while a server that also
// sets SO_REUSEADDR can still bind and listen on it. -1 if the port is taken.
int hold_port(std::uint16_t port);

// The sum of a metric family's samples whose labels contain `label` (empty: all of them).
std::uint64_t metric_sum(const std::string& text, const std::string& family,
                         const std::string& label = {});

// An HTTP GET of `path` on 127.0.0.1:port (with `token` as its bearer token, if any): the body of
// a 200 answer, else why not.
Result<std::string> http_get(std::uint16_t port, const std::string& path,
                             const std::string& token = {});

}  // namespace herd::replay
