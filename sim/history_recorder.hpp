// HistoryRecorder: the client history of a simulated run (design §11, `herd sim --history`):
// every IAMAT and WHATSAT a `send` or a workload made, with its invocation (when the client
// sent it) and completion (when its reply was whole: the server closed the connection, or the
// run ended without one), in scenario time. A `send` is a session of its own (one connection);
// a workload's operations are too, unless `sessions=on` makes each of its clients one.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "history/check.hpp"

namespace herd::sim {

class HistoryRecorder {
  public:
    // Writes the history to `out`, and feeds it to `checker` as it goes (either may be null).
    HistoryRecorder(std::ostream* out, history::HistoryChecker* checker)
        : out_(out), checker_(checker) {}

    // A client sent `bytes` (one request line and its '\n') to `server` on connection `id`, in
    // session `process` (0: a session of its own).
    void invoked(int id, const std::string& server, std::string_view bytes, Instant now,
                 std::uint64_t process = 0);
    void received(int id, std::string_view bytes);
    void completed(int id, Instant now);
    // The run ended: what is still waiting completes without a reply.
    void finish(Instant end);

  private:
    struct Pending {
        std::uint64_t process = 0;
        std::string server;
        bool iamat = true;
        std::string client;
        std::string line;
        std::string reply;  // up to its first '\n'
        bool replied = false;
        std::int64_t invoke_ns = 0;
    };
    void write(const Pending& p, std::int64_t complete_ns);

    std::ostream* out_;
    history::HistoryChecker* checker_;
    std::size_t written_ = 0;
    std::map<int, Pending> pending_;  // by connection, in the order they were sent
    std::uint64_t next_process_ = 1;
};

}  // namespace herd::sim
