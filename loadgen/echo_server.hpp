// The ceiling of `herd bench load --ceiling`: a bare line server on loopback that answers every
// request line with a well-formed reply and does nothing else (no parsing beyond the verb, no
// store, no peers, no log). It runs on its own thread with its own io_context, as herd serve
// runs on one, so the load generator measures what the machine and the client protocol allow
// with the same connections, and herd ÷ ceiling says what the herd's own work costs.
#pragma once

#include <cstdint>
#include <memory>

namespace herd::loadgen {

class EchoServer {
  public:
    // Listens on 127.0.0.1 at an ephemeral port and starts serving on a thread of its own.
    EchoServer();
    ~EchoServer();  // stops the thread and closes every connection
    EchoServer(const EchoServer&) = delete;
    EchoServer& operator=(const EchoServer&) = delete;

    std::uint16_t port() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace herd::loadgen
