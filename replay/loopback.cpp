// Loopback plumbing of herd replay (replay/loopback.hpp): sockets on 127.0.0.1, ports held for a
// run, an HTTP GET of a server's admin port and sums of its Prometheus metrics.
#include "replay/loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "core/text.hpp"

namespace herd::replay {

namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

}  // namespace

int connect_loopback(std::uint16_t port, std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const sockaddr_in addr = loopback(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int hold_port(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in addr = loopback(port);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint64_t metric_sum(const std::string& text, const std::string& family,
                         const std::string& label) {
    std::uint64_t sum = 0;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string_view line(text.data() + at, end - at);
        at = end + 1;
        if (line.substr(0, family.size()) != family || line.size() == family.size()) continue;
        const char next = line[family.size()];
        if (next != '{' && next != ' ') continue;
        if (!label.empty() && line.find(label) == std::string_view::npos) continue;
        const std::size_t space = line.rfind(' ');
        if (auto v = parse_whole(line.substr(space + 1), UINT64_MAX)) sum += *v;
    }
    return sum;
}

Result<std::string> http_get(std::uint16_t port, const std::string& path,
                             const std::string& token) {
    const int fd = connect_loopback(port, std::chrono::milliseconds(3000));
    if (fd < 0) return Error{"cannot connect to 127.0.0.1:" + std::to_string(port)};
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") +
                                "\r\n";
    std::string answer;
    bool ok = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
    char buffer[65536];
    while (ok) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        answer.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const std::size_t body = answer.find("\r\n\r\n");
    if (!ok || body == std::string::npos)
        return Error{"no answer from 127.0.0.1:" + std::to_string(port) + path};
    if (answer.rfind("HTTP/1.1 200", 0) != 0)
        return Error{path + ": " + answer.substr(0, answer.find("\r\n")) + ": " +
                     answer.substr(body + 4)};
    return answer.substr(body + 4);
}

}  // namespace herd::replay
