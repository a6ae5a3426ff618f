#include "netmode/places_stub.hpp"

#include <rapidjson/document.h>

#include <boost/asio.hpp>
#include <iostream>
#include <map>
#include <memory>

#include "core/synthetic_places.hpp"
#include "core/text.hpp"
#include "core/types.hpp"
#include "netmode/places_shapes.hpp"

namespace herd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string legacy_error(const std::string& status, const std::string& message) {
    std::string body =
        "{\"html_attributions\": [], \"results\": [], \"status\": \"" + status + "\"";
    if (!message.empty()) body = "{\"error_message\": \"" + message + "\", " + body.substr(1);
    return body + "}";
}

StubAnswer new_error(const std::string& legacy_status, const std::string& message) {
    struct Map {
        const char* legacy;
        int http;
        const char* status;
    };
    static const Map table[] = {{"REQUEST_DENIED", 403, "PERMISSION_DENIED"},
                                {"OVER_QUERY_LIMIT", 429, "RESOURCE_EXHAUSTED"},
                                {"INVALID_REQUEST", 400, "INVALID_ARGUMENT"}};
    int http = 500;
    std::string status = "INTERNAL";
    for (const Map& m : table) {
        if (legacy_status == m.legacy) {
            http = m.http;
            status = m.status;
        }
    }
    return StubAnswer{http, "{\"error\": {\"code\": " + std::to_string(http) + ", \"message\": \"" +
                                message + "\", \"status\": \"" + status + "\"}}"};
}

std::map<std::string, std::string> query_params(const std::string& target) {
    std::map<std::string, std::string> out;
    const std::size_t q = target.find('?');
    if (q == std::string::npos) return out;
    std::string_view rest(target);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
        const std::size_t amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos)
            out[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return out;
}

std::string signed_decimal(std::string_view s) {
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) return std::string(s);
    return "+" + std::string(s);
}

// Metres as decimal text ("10000", "1500.5") to a RadiusKm; nothing if malformed.
std::optional<RadiusKm> radius_from_metres(std::string_view m) {
    const std::size_t dot = m.find('.');
    std::string_view whole = m.substr(0, dot);
    std::string_view fraction =
        dot == std::string_view::npos ? std::string_view() : m.substr(dot + 1);
    if (whole.empty() || whole.size() > 9 || !all_digits(whole) || !all_digits(fraction))
        return std::nullopt;
    std::int64_t mm = 0;
    for (char c : whole)
        mm = mm * 10 + (c - '0');
    for (std::size_t i = 0; i < 3; ++i)
        mm = mm * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    return RadiusKm{mm};
}

std::optional<std::string> synthetic(const std::string& lat, const std::string& lng,
                                     const std::string& radius_m) {
    const auto location = LatLon::parse_nanodeg(signed_decimal(lat) + signed_decimal(lng));
    const auto radius = radius_from_metres(radius_m);
    if (!location || !radius) return std::nullopt;
    return synthetic_places_json(location->first, location->second, *radius,
                                 synthetic_places_count_max);
}

}  // namespace

StubAnswer stub_answer(const std::string& method, const std::string& target,
                       const std::string& api_key_header, const std::string& body,
                       const std::string& forced_status) {
    const std::string path = target.substr(0, target.find('?'));
    if (method == "GET" && path == "/maps/api/place/nearbysearch/json") {
        auto params = query_params(target);
        if (params["key"].empty())
            return {200, legacy_error("REQUEST_DENIED", "You must use an API key.")};
        if (!forced_status.empty()) return {200, legacy_error(forced_status, "")};
        const std::string& location = params["location"];
        const std::size_t comma = location.find(',');
        if (comma == std::string::npos)
            return {200, legacy_error("INVALID_REQUEST", "Invalid location.")};
        auto places =
            synthetic(location.substr(0, comma), location.substr(comma + 1), params["radius"]);
        if (!places) return {200, legacy_error("INVALID_REQUEST", "Invalid location or radius.")};
        return {200, *places};
    }
    if (method == "POST" && path == new_api_path) {
        if (api_key_header.empty())
            return new_error("REQUEST_DENIED", "Method doesn't allow unregistered callers.");
        if (!forced_status.empty())
            return new_error(forced_status, "Injected by herd places-stub.");
        rapidjson::Document doc;
        doc.Parse<rapidjson::kParseNumbersAsStringsFlag>(body.c_str());
        auto text_of = [](const rapidjson::Value* v) {
            return v != nullptr && v->IsString() ? std::string(v->GetString()) : std::string();
        };
        const rapidjson::Value* circle = nullptr;
        if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("locationRestriction")) {
            const auto& lr = doc["locationRestriction"];
            if (lr.IsObject() && lr.HasMember("circle")) circle = &lr["circle"];
        }
        if (circle == nullptr || !circle->IsObject() || !circle->HasMember("center") ||
            !(*circle)["center"].IsObject()) {
            return new_error("INVALID_REQUEST", "locationRestriction.circle is required.");
        }
        const auto& center = (*circle)["center"];
        auto places =
            synthetic(text_of(center.HasMember("latitude") ? &center["latitude"] : nullptr),
                      text_of(center.HasMember("longitude") ? &center["longitude"] : nullptr),
                      text_of(circle->HasMember("radius") ? &(*circle)["radius"] : nullptr));
        if (!places) return new_error("INVALID_REQUEST", "Invalid center or radius.");
        return {200, legacy_to_new(*places).value_or("{}")};
    }
    return {404,
            "{\"error\": {\"code\": 404, \"message\": \"Not found.\", \"status\": \"NOT_FOUND\"}}"};
}

namespace {

class StubSession : public std::enable_shared_from_this<StubSession> {
  public:
    StubSession(tcp::socket socket, const StubOptions& options)
        : socket_(std::move(socket)), options_(options), timer_(socket_.get_executor()) {}

    void start() { read(); }

  private:
    void read() {
        auto self = shared_from_this();
        socket_.async_read_some(
            asio::buffer(chunk_), [this, self](const boost::system::error_code& ec, std::size_t n) {
                if (ec) return;
                request_.append(chunk_.data(), n);
                if (request_.size() > (1 << 20)) return;  // no Places request is that big
                const std::size_t head_end = request_.find("\r\n\r\n");
                if (head_end == std::string::npos) return read();
                const std::size_t length = content_length(request_.substr(0, head_end));
                if (request_.size() < head_end + 4 + length) return read();
                answer(head_end, length);
            });
    }

    // A request never answered: read (and drop) until the client closes.
    void wait_for_close() {
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(chunk_),
                                [this, self](const boost::system::error_code& ec, std::size_t) {
                                    if (!ec) wait_for_close();
                                });
    }

    static std::string header(const std::string& head, const std::string& name) {
        std::string lower = head;
        for (char& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::size_t at = lower.find("\r\n" + name + ":");
        if (at == std::string::npos) return {};
        std::size_t start = at + 3 + name.size();
        const std::size_t end = head.find("\r\n", start);
        while (start < end && head[start] == ' ')
            ++start;
        return head.substr(start, end - start);
    }

    static std::size_t content_length(const std::string& head) {
        const std::string v = header(head, "content-length");
        return v.empty() || !all_digits(v) || v.size() > 7
                   ? 0
                   : static_cast<std::size_t>(std::stoul(v));
    }

    void answer(std::size_t head_end, std::size_t length) {
        const std::string head = request_.substr(0, head_end);
        const std::size_t sp1 = head.find(' ');
        const std::size_t sp2 = head.find(' ', sp1 + 1);
        const std::string method = head.substr(0, sp1);
        const std::string target =
            sp1 == std::string::npos ? "" : head.substr(sp1 + 1, sp2 - sp1 - 1);
        StubFault fault{options_.latency, options_.status};
        if (options_.fault) fault = options_.fault();
        if (fault.hang) {
            if (options_.on_request) options_.on_request(method + " " + target + " -> held open");
            return wait_for_close();
        }
        const StubAnswer a = stub_answer(method, target, header(head, "x-goog-api-key"),
                                         request_.substr(head_end + 4, length), fault.status);
        if (options_.on_request)
            options_.on_request(method + " " + target.substr(0, target.find("key=")) + " -> " +
                                std::to_string(a.http_status) + ", " +
                                std::to_string(a.body.size()) + " bytes after " +
                                std::to_string(fault.latency.count()) + " ms");
        response_ = "HTTP/1.1 " + std::to_string(a.http_status) +
                    (a.http_status == 200 ? " OK" : " Error") +
                    "\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: " +
                    std::to_string(a.body.size()) + "\r\nConnection: close\r\n\r\n" + a.body;
        auto self = shared_from_this();
        timer_.expires_after(fault.latency);
        timer_.async_wait([this, self](const boost::system::error_code&) {
            asio::async_write(socket_, asio::buffer(response_),
                              [this, self](const boost::system::error_code&, std::size_t) {
                                  boost::system::error_code ignored;
                                  socket_.shutdown(tcp::socket::shutdown_both, ignored);
                              });
        });
    }

    tcp::socket socket_;
    const StubOptions& options_;
    asio::steady_timer timer_;
    std::array<char, 4096> chunk_{};
    std::string request_;
    std::string response_;
};

void accept_loop(tcp::acceptor& acceptor, const StubOptions& options) {
    acceptor.async_accept(
        [&acceptor, &options](const boost::system::error_code& ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) std::make_shared<StubSession>(std::move(socket), options)->start();
            accept_loop(acceptor, options);
        });
}

}  // namespace

PlacesStub::PlacesStub(asio::io_context& io, StubOptions options)
    : options_(std::move(options)), acceptor_(io) {}

std::optional<Error> PlacesStub::start() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return Error{"bad host " + options_.host};
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error{"cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                     ": " + ec.message()};
    }
    port_ = acceptor_.local_endpoint().port();
    accept_loop(acceptor_, options_);
    return std::nullopt;
}

void PlacesStub::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

int run_places_stub(StubOptions options) {
    asio::io_context io;
    // One line per request, the API key left out.
    options.on_request = [](const std::string& line) {
        std::cout << "herd places-stub: " << line << std::endl;
    };
    PlacesStub stub(io, options);
    if (auto e = stub.start()) {
        std::cerr << "herd places-stub: " << e->message << "\n";
        return 1;
    }
    std::cout << "herd places-stub: listening on http://" << options.host << ":" << stub.port()
              << (options.status.empty() ? "" : " (every answer: " + options.status + ")")
              << std::endl;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    io.run();
    return 0;
}

}  // namespace herd::net
