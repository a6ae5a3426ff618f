#include "core/herd_file.hpp"

#include <algorithm>
#include <set>

#include "core/assert.hpp"
#include "core/prng.hpp"
#include "core/text.hpp"

namespace herd {

namespace {

void normalise(HerdSpec& spec) {
    std::sort(spec.links.begin(), spec.links.end());
    spec.links.erase(std::unique(spec.links.begin(), spec.links.end()), spec.links.end());
}

HerdSpec numbered(int n) {
    HerdSpec spec;
    for (int i = 1; i <= n; ++i)
        spec.servers.push_back(ServerSpec{*ServerName::parse("s" + std::to_string(i)), {}, 0, 0});
    return spec;
}

void connect(HerdSpec& spec, int a, int b) {
    if (a == b) return;
    spec.links.emplace_back(std::min(a, b), std::max(a, b));
}

}  // namespace

int HerdSpec::index_of(std::string_view name) const {
    for (std::size_t i = 0; i < servers.size(); ++i) {
        if (servers[i].name.str() == name) return static_cast<int>(i);
    }
    return -1;
}

HerdIndex::HerdIndex(const HerdSpec& herd) : herd_(&herd), adjacency_(herd.servers.size()) {
    for (std::size_t i = 0; i < herd.servers.size(); ++i)
        names_.emplace(herd.servers[i].name.str(), static_cast<int>(i));
    // Links are sorted by (lower, higher): each list comes out ascending.
    for (const auto& [a, b] : herd.links)
        adjacency_[static_cast<std::size_t>(b)].push_back(a);
    for (const auto& [a, b] : herd.links)
        adjacency_[static_cast<std::size_t>(a)].push_back(b);
}

int HerdIndex::index_of(std::string_view name) const {
    const auto it = names_.find(name);
    return it == names_.end() ? -1 : it->second;
}

std::vector<ServerName> HerdIndex::neighbours_of(int server) const {
    std::vector<ServerName> out;
    for (int next : adjacent(server))
        out.push_back(herd_->servers[static_cast<std::size_t>(next)].name);
    return out;
}

bool HerdSpec::linked(int a, int b) const {
    return std::binary_search(links.begin(), links.end(),
                              std::make_pair(std::min(a, b), std::max(a, b)));
}

std::vector<ServerName> HerdSpec::neighbours_of(int server) const {
    std::vector<ServerName> out;
    for (const auto& [a, b] : links) {
        if (a == server) out.push_back(servers[static_cast<std::size_t>(b)].name);
        if (b == server) out.push_back(servers[static_cast<std::size_t>(a)].name);
    }
    return out;
}

std::vector<int> hop_distances(const HerdSpec& herd, int from) {
    return hop_distances(HerdIndex(herd), from);
}

std::vector<int> hop_distances(const HerdIndex& herd, int from) {
    const std::size_t n = herd.size();
    std::vector<int> distance(n, -1);
    std::vector<int> queue = {from};
    distance[static_cast<std::size_t>(from)] = 0;
    for (std::size_t i = 0; i < queue.size(); ++i) {
        const int at = queue[i];
        for (int next : herd.adjacent(at)) {
            if (distance[static_cast<std::size_t>(next)] >= 0) continue;
            distance[static_cast<std::size_t>(next)] = distance[static_cast<std::size_t>(at)] + 1;
            queue.push_back(next);
        }
    }
    return distance;
}

std::optional<std::pair<std::string, std::uint16_t>> parse_address(std::string_view address) {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view port = address.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !all_digits(port)) return std::nullopt;
    unsigned value = 0;
    for (char c : port)
        value = value * 10 + static_cast<unsigned>(c - '0');
    if (value == 0 || value > 65535) return std::nullopt;
    return std::make_pair(std::string(address.substr(0, colon)), static_cast<std::uint16_t>(value));
}

std::optional<Error> HerdBuilder::add_server(std::string_view name, std::string_view address,
                                             int line) {
    auto parsed = ServerName::parse(name);
    if (!parsed) return Error{"expected a server name"};
    if (spec_.servers.size() >= herd_servers_max)
        return Error{"a herd of at most " + std::to_string(herd_servers_max) +
                     " servers was expected"};
    if (names_.count(std::string(name)) > 0)
        return Error{"server '" + std::string(name) + "' is declared twice"};
    ServerSpec s{*parsed, {}, 0, line};
    if (!address.empty()) {
        auto a = parse_address(address);
        if (!a) return Error{"expected an address host:port, got '" + std::string(address) + "'"};
        s.host = a->first;
        s.port = a->second;
        const auto [used, added] = addresses_.emplace(std::make_pair(s.host, s.port),
                                                      static_cast<int>(spec_.servers.size()));
        if (!added) {
            return Error{"address " + std::string(address) + " is already used by " +
                         spec_.servers[static_cast<std::size_t>(used->second)].name.str()};
        }
    }
    names_.emplace(std::string(name), static_cast<int>(spec_.servers.size()));
    spec_.servers.push_back(std::move(s));
    return std::nullopt;
}

std::optional<Error> HerdBuilder::add_link(std::string_view a, std::string_view b, int line) {
    (void)line;
    const auto found_a = names_.find(std::string(a));
    const auto found_b = names_.find(std::string(b));
    const int x = found_a == names_.end() ? -1 : found_a->second;
    const int y = found_b == names_.end() ? -1 : found_b->second;
    if (x < 0)
        return Error{"unknown server '" + std::string(a) + "' (declare it with `server` first)"};
    if (y < 0)
        return Error{"unknown server '" + std::string(b) + "' (declare it with `server` first)"};
    if (x == y) return Error{"a link joins two different servers"};
    spec_.links.emplace_back(std::min(x, y), std::max(x, y));
    normalise(spec_);
    return std::nullopt;
}

bool HerdBuilder::is_statement(std::string_view verb) {
    return verb == "server" || verb == "link" || verb.starts_with("tls-");
}

std::optional<Error> HerdBuilder::add_tls_file(std::string_view setting, std::string_view path,
                                               int line) {
    std::string* slot = setting == "tls-ca"     ? &spec_.tls.ca
                        : setting == "tls-cert" ? &spec_.tls.cert
                        : setting == "tls-key"  ? &spec_.tls.key
                                                : nullptr;
    if (slot == nullptr)
        return Error{"expected `tls-ca`, `tls-cert` or `tls-key`, got '" + std::string(setting) +
                     "'"};
    if (!slot->empty()) return Error{std::string(setting) + " is set twice"};
    if (!spec_.tls.any()) spec_.tls.line = line;
    *slot = std::string(path);
    return std::nullopt;
}

std::optional<Error> HerdBuilder::finish() {
    if (spec_.tls.any() && !spec_.tls.complete())
        return Error{"expected all three of `tls-ca`, `tls-cert` and `tls-key`, or none"};
    return std::nullopt;
}

TlsFiles TlsFiles::for_server(std::string_view name, std::string_view folder) const {
    auto resolve = [&](const std::string& pattern) {
        std::string path;
        for (std::size_t i = 0; i < pattern.size(); ++i) {
            if (pattern.compare(i, 6, "{name}") == 0) {
                path += name;
                i += 5;
            } else {
                path += pattern[i];
            }
        }
        if (path.empty() || path[0] == '/' || folder.empty()) return path;
        return std::string(folder) + "/" + path;
    };
    return TlsFiles{resolve(ca), resolve(cert), resolve(key), line};
}

std::optional<Error> HerdBuilder::add_statement(const std::vector<std::string_view>& f, int line) {
    HERD_ASSERT(!f.empty() && is_statement(f[0]));
    if (f[0] == "server") {
        if (f.size() < 2 || f.size() > 3) return Error{"expected `server NAME [HOST:PORT]`"};
        return add_server(f[1], f.size() == 3 ? f[2] : std::string_view(), line);
    }
    if (f[0] != "link") {
        if (f.size() != 2) return Error{"expected `" + std::string(f[0]) + " FILE`"};
        return add_tls_file(f[0], f[1], line);
    }
    if (f.size() != 3) return Error{"expected `link SERVER SERVER`"};
    return add_link(f[1], f[2], line);
}

Result<HerdSpec> parse_herd_file(std::string_view text, std::string_view file_name) {
    HerdBuilder builder;
    int line_no = 0;
    for (const SourceLine& line : source_lines(text)) {
        line_no = line.number;
        const auto f = fields_of(strip_comment(line.text));
        if (f.empty()) continue;
        const std::optional<Error> error =
            HerdBuilder::is_statement(f[0])
                ? builder.add_statement(f, line.number)
                : Error{"expected `server`, `link` or a `tls-` setting, got '" + std::string(f[0]) +
                        "'"};
        if (error)
            return Error{std::string(file_name) + ":" + std::to_string(line.number) + ": " +
                         error->message};
    }
    if (auto error = builder.finish())
        return Error{std::string(file_name) + ":" + std::to_string(builder.spec().tls.line) + ": " +
                     error->message};
    if (builder.spec().servers.empty()) {
        return Error{std::string(file_name) + ":" + std::to_string(std::max(line_no, 1)) +
                     ": expected at least one `server`"};
    }
    return std::move(builder.spec());
}

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    // 127.a.b.c, each part a decimal byte.
    if (!host.starts_with("127.")) return false;
    std::string_view rest = host.substr(4);
    for (int part = 0; part < 3; ++part) {
        const std::size_t dot = rest.find('.');
        const std::string_view digits = part < 2 ? rest.substr(0, dot) : rest;
        if (digits.size() > 3 || !parse_whole(digits, 255)) return false;
        if (part < 2) {
            if (dot == std::string_view::npos) return false;
            rest.remove_prefix(dot + 1);
        }
    }
    return true;
}

const ServerSpec* first_off_loopback(const HerdSpec& herd) {
    for (const ServerSpec& s : herd.servers) {
        if (s.port != 0 && !is_loopback_host(s.host)) return &s;
    }
    return nullptr;
}

std::string format_herd_file(const HerdSpec& herd) {
    std::string out;
    for (const ServerSpec& s : herd.servers) {
        out += "server " + s.name.str();
        if (s.port != 0) out += " " + s.host + ":" + std::to_string(s.port);
        out += "\n";
    }
    for (const auto& [a, b] : herd.links) {
        out += "link " + herd.servers[static_cast<std::size_t>(a)].name.str() + " " +
               herd.servers[static_cast<std::size_t>(b)].name.str() + "\n";
    }
    if (herd.tls.any())
        out += "tls-ca " + herd.tls.ca + "\ntls-cert " + herd.tls.cert + "\ntls-key " +
               herd.tls.key + "\n";
    return out;
}

HerdSpec fall2017_herd(const std::string& host, int base_port) {
    HerdBuilder b;
    const char* names[] = {"Alford", "Ball", "Hamilton", "Holiday", "Welsh"};
    for (int i = 0; i < 5; ++i) {
        const auto e = b.add_server(names[i], host + ":" + std::to_string(base_port + i), 0);
        HERD_ASSERT(!e);
    }
    const std::pair<const char*, const char*> links[] = {{"Alford", "Hamilton"},
                                                         {"Alford", "Welsh"},
                                                         {"Ball", "Holiday"},
                                                         {"Ball", "Welsh"},
                                                         {"Hamilton", "Holiday"}};
    for (const auto& [x, y] : links) {
        const auto e = b.add_link(x, y, 0);
        HERD_ASSERT(!e);
    }
    return std::move(b.spec());
}

HerdSpec line_herd(int n) {
    HerdSpec spec = numbered(n);
    for (int i = 0; i + 1 < n; ++i)
        connect(spec, i, i + 1);
    normalise(spec);
    return spec;
}

HerdSpec ring_herd(int n) {
    HerdSpec spec = line_herd(n);
    if (n > 2) connect(spec, n - 1, 0);
    normalise(spec);
    return spec;
}

HerdSpec grid_herd(int rows, int columns) {
    HerdSpec spec = numbered(rows * columns);
    for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < columns; ++c) {
            const int i = r * columns + c;
            if (c + 1 < columns) connect(spec, i, i + 1);
            if (r + 1 < rows) connect(spec, i, i + columns);
        }
    }
    normalise(spec);
    return spec;
}

HerdSpec random_herd(int n, int degree, std::uint64_t seed) {
    HerdSpec spec = numbered(n);
    Prng prng(seed ^ 0x68657264u);  // "herd": keeps the graph's stream apart from the run's
    // A random spanning tree keeps the herd connected: each server joins an earlier one.
    for (int i = 1; i < n; ++i)
        connect(spec, i, static_cast<int>(prng.below(static_cast<std::uint64_t>(i))));
    normalise(spec);
    const std::size_t wanted = static_cast<std::size_t>(n) * static_cast<std::size_t>(degree) / 2;
    const std::size_t possible = static_cast<std::size_t>(n) * static_cast<std::size_t>(n - 1) / 2;
    std::set<std::pair<int, int>> links(spec.links.begin(), spec.links.end());
    while (links.size() < std::min(wanted, possible)) {
        const int a = static_cast<int>(prng.below(static_cast<std::uint64_t>(n)));
        const int b = static_cast<int>(prng.below(static_cast<std::uint64_t>(n)));
        if (a != b) links.insert({std::min(a, b), std::max(a, b)});
    }
    spec.links.assign(links.begin(), links.end());
    return spec;
}

}  // namespace herd
