// herd serve's Server, its admin port: health, readiness, metrics and the streamed /store.
#include "netmode/server.hpp"

#include <rapidjson/document.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <iostream>
#include <random>
#include <vector>

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/peer_protocol.hpp"
#include "core/text.hpp"
#include "netmode/clock.hpp"
#include "netmode/data_format.hpp"
#include "netmode/files.hpp"
#include "netmode/process.hpp"

#include "netmode/server_conn.hpp"

namespace herd::net {

// ---------------------------------------------------------------- admin port

bool Server::ready() const {
    // Listening, and linked to at least one neighbour when it has any.
    return !stopped_ && node_ &&
           (node_->config().neighbours.empty() || !node_->linked_peers().empty());
}

HttpAnswer Server::admin_answer(const HttpRequest& request) {
    const std::string_view path = request.path;
    if (path == "/metrics")
        return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", metrics(), {}};
    if (path == "/healthz") return HttpAnswer{200, "text/plain; charset=utf-8", "ok\n", {}};
    if (path == "/readyz") {
        if (ready()) return HttpAnswer{200, "text/plain; charset=utf-8", "ready\n", {}};
        return HttpAnswer{503, "text/plain; charset=utf-8", "not ready: no peer link up\n", {}};
    }
    if (path == "/store") {
        // Every client's position: only for whoever holds the admin token.
        if (options_.admin_token.empty())
            return HttpAnswer{404,
                              "text/plain; charset=utf-8",
                              "/store is off: start the server with --admin-token-file\n",
                              {}};
        if (!same_secret(request.bearer, options_.admin_token))
            return HttpAnswer{401,
                              "text/plain; charset=utf-8",
                              "/store needs `Authorization: Bearer <the admin token>`\n",
                              {}};
        return store_stream();
    }
    return HttpAnswer{404, "text/plain; charset=utf-8", "not found; try /metrics\n", {}};
}

HttpAnswer Server::store_stream() {
    // Every record as its AT line, in the order first stored: what `herd replay` checks
    // expectations against, and a way to look into one server's view by hand. Read-only;
    // written a piece at a time, so neither memory nor the server's turn is held for the store.
    HttpAnswer a{200, "text/plain; charset=utf-8", {}, {}};
    a.more = [this, next = std::size_t{0}](std::string& out) mutable {
        constexpr std::size_t piece_bytes = 64 << 10;
        const RecordStore& store = node_->store();
        while (next < store.size() && out.size() < piece_bytes) {
            out += store.at(next++).at_line();
            out += '\n';
        }
        return next < store.size();
    };
    return a;
}

}  // namespace herd::net
