// The simulator's events: what the event queue holds, one alternative per kind of happening.
// Big payloads are boxed (shared or unique pointers) so queued events stay small.
#pragma once

#include <cstdint>
#include <memory>
#include <variant>

#include "core/action.hpp"
#include "core/node.hpp"

namespace herd::sim {

// End::server of a simulated client.
inline constexpr int client_end = -1;

struct EvStep {  // a scenario statement is due
    std::size_t index;
};
struct EvDeliver {  // bytes arrive at the other end of a connection
    std::uint64_t conn;
    int from;  // the end that sent (0 or 1)
    SharedBytes bytes;
};
struct EvCloseNotice {  // one end learns the other closed
    std::uint64_t conn;
    int to;  // the end being told
};
struct EvDialDone {  // a dial's outcome is known, one link latency after it started
    int server;
    std::uint64_t life;
    int peer;
};
struct EvClientOpen {  // a simulated client's connection reaches its server, with its line
    std::uint64_t conn;
    SharedBytes bytes;
    bool processed = false;  // with a processing cost: the server is done handling it
};
struct EvHandle {  // with a processing cost: a server is done handling bytes that arrived
    std::uint64_t conn;
    int end;  // the server's end of the connection
    std::uint64_t life;
    SharedBytes bytes;
};
struct EvPlaces {  // the simulated Places provider answers
    int server;
    std::uint64_t life;
    QueryId id;
    std::unique_ptr<PlacesResult> result;
};
struct EvTimer {  // a server's Node timer is due
    int server;
    std::uint64_t life;
    std::uint64_t generation;
};
struct EvWorkload {  // the next IAMAT (or, with reads=, WHATSAT) of a workload
    std::size_t step;
    std::uint64_t index;
    bool read = false;
};

using Event = std::variant<EvStep, EvDeliver, EvCloseNotice, EvDialDone, EvClientOpen, EvPlaces,
                           EvTimer, EvWorkload, EvHandle>;

}  // namespace herd::sim
