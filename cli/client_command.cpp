// `herd client HOST:PORT`: lines from stdin to the server, replies to stdout. Works typed at a
// terminal or piped: at the end of stdin it half-closes, and it exits when the server closes.
#include <boost/asio.hpp>
#include <iostream>
#include <string>
#include <thread>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "core/herd_file.hpp"

namespace herd::cli {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

int run_client(int argc, char** argv) {
    constexpr const char* command = "herd client";
    constexpr const char* usage = "usage: herd client HOST:PORT\n";
    if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
        std::cout
            << usage
            << "\nSends each line of standard input to a herd server and prints what it answers.\n"
               "At the end of input it stops sending and waits for the server to finish and "
               "close.\n";
        return 0;
    }
    if (argc != 2) return report(command, usage_error(usage, "expected one HOST:PORT"));
    const auto address = parse_address(argv[1]);
    if (!address) {
        return report(command,
                      usage_error(usage, "expected HOST:PORT, got '" + std::string(argv[1]) + "'"));
    }
    asio::io_context io;
    tcp::socket socket(io);
    try {
        tcp::resolver resolver(io);
        asio::connect(socket, resolver.resolve(address->first, std::to_string(address->second)));
    } catch (const boost::system::system_error& e) {
        return report(
            command,
            Error{"cannot connect to " + std::string(argv[1]) + ": " + e.code().message(), 1});
    }
    // Standard input on its own thread (it may be a terminal); the socket is read here.
    std::thread sender([&socket] {
        std::string line;
        boost::system::error_code ec;
        while (std::getline(std::cin, line)) {
            line += '\n';
            asio::write(socket, asio::buffer(line), ec);
            if (ec) return;
        }
        socket.shutdown(tcp::socket::shutdown_send, ec);
    });
    std::array<char, 65536> buffer;
    boost::system::error_code ec;
    while (true) {
        const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
        if (n > 0) std::cout.write(buffer.data(), static_cast<std::streamsize>(n)).flush();
        if (ec) break;
    }
    if (ec != asio::error::eof) report(command, Error{ec.message(), 1});
    // The server is gone: stop waiting for input that can no longer be sent.
    if (sender.joinable()) sender.detach();
    std::cout.flush();
    std::_Exit(ec == asio::error::eof ? 0 : 1);
}

}  // namespace herd::cli
