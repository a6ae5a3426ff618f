// The herd file (design §5): which servers there are, where they listen, and which links join
// them. One grammar for deployment and simulation; `#` starts a comment.
//
//   server Alford 127.0.0.1:12000     # the address is optional in a scenario
//   link Alford Hamilton              # undirected
//   tls-ca   certs/ca.pem             # optional: peer links under TLS with certificates,
//   tls-cert certs/{name}.pem         #   {name} standing for each server's name; all three or
//   tls-key  certs/{name}.key         #   none (paths relative to the herd file's folder)
//
// Parsing is pure (text in, a HerdSpec or a `file:line: what was expected` error out), so the
// simulator, `herd serve` and `herd up` share it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"

namespace herd {

struct ServerSpec {
    ServerName name;
    std::string host;  // empty when no address was given
    std::uint16_t port = 0;
    int line = 0;  // where it was declared (0 for presets)
};

// Certificates for TLS peer links, as the herd file names them ({name}: the server's name).
struct TlsFiles {
    std::string ca;    // the herd's CA: a peer's certificate must be signed by it
    std::string cert;  // this server's certificate chain
    std::string key;   // and its private key
    int line = 0;      // where the first of them was set
    bool any() const { return !ca.empty() || !cert.empty() || !key.empty(); }
    bool complete() const { return !ca.empty() && !cert.empty() && !key.empty(); }
    // The three paths for server `name`: {name} replaced, relative ones taken from `folder`.
    TlsFiles for_server(std::string_view name, std::string_view folder) const;
};

// Servers in one herd (a herd file, an inline scenario herd, a generated preset).
inline constexpr std::size_t herd_servers_max = 100'000;

struct HerdSpec {
    std::vector<ServerSpec> servers;         // in declaration order
    std::vector<std::pair<int, int>> links;  // indices into servers, first < second, sorted, unique
    TlsFiles tls;                            // none: TLS peer links use the herd secret

    // Linear scans: what asks per dial, per server start or per origin uses a HerdIndex.
    int index_of(std::string_view name) const;
    bool linked(int a, int b) const;
    std::vector<ServerName> neighbours_of(int server) const;
};

// Constant-time lookups over one herd, which must outlive it and not change meanwhile (build
// another if it does). Immutable once built, so threads may share one. A 100 000-server herd
// made the linear HerdSpec lookups, once per dial and per server start, take minutes.
class HerdIndex {
  public:
    explicit HerdIndex(const HerdSpec& herd);
    int index_of(std::string_view name) const;
    // The indices of `server`'s neighbours, ascending (the order HerdSpec::neighbours_of gives).
    const std::vector<int>& adjacent(int server) const {
        return adjacency_[static_cast<std::size_t>(server)];
    }
    std::vector<ServerName> neighbours_of(int server) const;
    std::size_t size() const { return adjacency_.size(); }

  private:
    const HerdSpec* herd_;
    std::unordered_map<std::string_view, int> names_;  // views of herd_'s names
    std::vector<std::vector<int>> adjacency_;
};

// Builds up a herd from `server` and `link` statements, checking each as it comes. The one
// home of the herd-file statements: parse_herd_file and the scenario parser both feed it.
class HerdBuilder {
  public:
    // True for the verbs this builder takes ("server", "link", "tls-ca", "tls-cert", "tls-key").
    static bool is_statement(std::string_view verb);
    // One whole statement, split into fields (fields[0] is its verb); an error (without the
    // file:line prefix), or nothing.
    std::optional<Error> add_statement(const std::vector<std::string_view>& fields, int line);
    // Each returns an error (its message without the file:line prefix), or nothing.
    std::optional<Error> add_server(std::string_view name, std::string_view address, int line);
    std::optional<Error> add_link(std::string_view a, std::string_view b, int line);
    std::optional<Error> add_tls_file(std::string_view setting, std::string_view path, int line);
    // The checks that need the whole herd (all three TLS settings or none).
    std::optional<Error> finish();
    HerdSpec& spec() { return spec_; }

  private:
    HerdSpec spec_;
    // The servers declared so far, by name and by address (so a herd of herd_servers_max
    // servers and their links is read in linear time).
    std::unordered_map<std::string, int> names_;
    std::map<std::pair<std::string, std::uint16_t>, int> addresses_;  // -> the server using it
};

// Hop distances from `from` to every server along links (-1 where unreachable).
std::vector<int> hop_distances(const HerdSpec& herd, int from);
std::vector<int> hop_distances(const HerdIndex& herd, int from);

// Parses a whole herd file.
Result<HerdSpec> parse_herd_file(std::string_view text, std::string_view file_name);

// True for an address on this machine's loopback network: 127.0.0.0/8, ::1 or "localhost".
// A herd whose servers are all on loopback never sends a peer line off the machine.
bool is_loopback_host(std::string_view host);

// The first server of `herd` whose address is not on loopback, or null.
const ServerSpec* first_off_loopback(const HerdSpec& herd);

// The herd as a herd file (server lines, then link lines), which parse_herd_file reads back as
// the same herd.
std::string format_herd_file(const HerdSpec& herd);

// Splits "host:port"; the port must be 1..65535.
std::optional<std::pair<std::string, std::uint16_t>> parse_address(std::string_view address);

// The Fall 2017 herd: Alford, Ball, Hamilton, Holiday, Welsh on 127.0.0.1:12000..12004 (or on
// `host`, ports base_port..base_port+4), linked Alford-Hamilton, Alford-Welsh, Ball-Holiday,
// Ball-Welsh, Hamilton-Holiday.
HerdSpec fall2017_herd(const std::string& host = "127.0.0.1", int base_port = 12000);
// Generated presets, servers named s1..sN (design §6).
HerdSpec line_herd(int n);
HerdSpec ring_herd(int n);
HerdSpec grid_herd(int rows, int columns);
// A connected random graph with mean degree about `degree`, from `seed`: a random spanning
// tree first, then random extra links.
HerdSpec random_herd(int n, int degree, std::uint64_t seed);

}  // namespace herd
