// ClientService: what one server does with one client line, given its store.
//
//   IAMAT   -> the AT reply (always, unless its AT line would pass the record size limit:
//              then `?`), and the store updated when the record wins;
//   WHATSAT -> a Places query for the stored record (the caller asks the provider and then
//              calls format_whatsat_reply), or `?` for an unknown client;
//   other   -> `? <line>`; a blank line -> nothing.
//
// It holds no connection state: ordering replies on a connection is the caller's job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/defects.hpp"
#include "core/line_buffer.hpp"
#include "core/record_store.hpp"
#include "core/time.hpp"
#include "core/types.hpp"

namespace herd {

// What a WHATSAT needs from a Places provider.
struct PlacesQuery {
    std::string at_line;  // the stored record's line, which starts the reply
    std::int64_t lat_nanodeg = 0;
    std::int64_t lon_nanodeg = 0;
    std::string latlon_text;
    RadiusKm radius;
    unsigned bound = 0;
};

struct ClientOutcome {
    enum class Kind { none, reply, places_query };
    Kind kind = Kind::none;
    std::string reply;                 // kind == reply: the exact bytes to send
    std::optional<PlacesQuery> query;  // kind == places_query
    const Record* changed = nullptr;   // the record an IAMAT stored, to be flooded
    bool too_long = false;             // an IAMAT refused: its AT line passes the size limit
    bool store_full = false;           // an IAMAT refused: it would grow a full store
    bool storage_refused = false;      // an IAMAT refused: the driver's storage is behind
    bool acknowledges = false;         // the reply is an IAMAT's AT line
};

class ClientService {
  public:
    // `record_bytes_max`: the longest AT line a record may have (what every peer accepts); an
    // IAMAT whose AT line would be longer is answered `?` and stored nowhere.
    // `store_bytes_max`: an IAMAT that would take the store (RecordStore::memory_bytes) past
    // this many bytes (a new client, or a known one whose record grows) is answered `?`; updates
    // that do not grow the store, and everything peers send, are still taken. So no client can grow
    // the herd's stores without end.
    ClientService(ServerName self, RecordStore& store,
                  std::size_t record_bytes_max = line_bytes_max_default,
                  std::size_t store_bytes_max = SIZE_MAX)
        : self_(std::move(self)),
          store_(store),
          record_bytes_max_(record_bytes_max),
          store_bytes_max_(store_bytes_max) {}

    ClientOutcome handle_line(std::string_view line, Timestamp received);
    // While the driver's storage cannot keep more (a data folder's backlog past its bound),
    // every IAMAT is answered `?` and stores nothing: nothing is acknowledged that could not be
    // kept.
    void set_refusing_records(bool refusing) { refusing_records_ = refusing; }

    const ServerName& self() const { return self_; }
    // A peer sent this AT line (Defect::whatsat_cache_refreshed_before_conflict_rule only:
    // otherwise nothing is kept).
    void peer_line_received(std::string_view client, std::string_view at_line) {
        if (!defect(Defect::whatsat_cache_refreshed_before_conflict_rule)) return;
        reply_cache_.insert_or_assign(std::string(client), std::string(at_line));
    }

  private:
    ServerName self_;
    RecordStore& store_;
    std::size_t record_bytes_max_;
    std::size_t store_bytes_max_;
    bool refusing_records_ = false;
    std::map<std::string, std::string, std::less<>> reply_cache_;  // a defect's (see above)
};

}  // namespace herd
