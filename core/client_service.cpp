#include "core/client_service.hpp"

#include "core/client_protocol.hpp"
#include "core/defects.hpp"

namespace herd {

ClientOutcome ClientService::handle_line(std::string_view line, Timestamp received) {
    ClientOutcome out;
    const ClientRequest request = parse_client_line(line);
    if (std::holds_alternative<BlankLine>(request)) return out;
    if (const auto* iamat = std::get_if<IamatRequest>(&request)) {
        Record record = Record::from_iamat(self_, received, *iamat);
        out.kind = ClientOutcome::Kind::reply;
        if (refusing_records_) {
            out.reply = format_invalid_reply(line);
            out.storage_refused = true;
            return out;
        }
        if (record.at_line().size() > record_bytes_max_) {
            // It could never reach a peer: refuse it here rather than store what cannot spread.
            out.reply = format_invalid_reply(line);
            out.too_long = true;
            return out;
        }
        // The store's size limit, in what records really occupy: an IAMAT that would grow the
        // store past it (a new client, or a known one whose record gets bigger) is refused; one
        // that does not grow it never is.
        const Record* known = store_.find(record.client());
        const std::size_t before =
            known == nullptr ? 0 : RecordStore::record_cost(known->at_line().size());
        const std::size_t after = RecordStore::record_cost(record.at_line().size());
        if (after > before && store_.memory_bytes() + (after - before) > store_bytes_max_) {
            out.reply = format_invalid_reply(line);
            out.store_full = true;
            return out;
        }
        out.reply = std::string(record.at_line());
        out.reply += '\n';
        out.acknowledges = true;
        const Record* stored = nullptr;
        if (changed_store(store_.apply(std::move(record), &stored))) out.changed = stored;
        return out;
    }
    if (const auto* whatsat = std::get_if<WhatsatRequest>(&request)) {
        if (const auto cached = reply_cache_.find(whatsat->client);
            defect(Defect::whatsat_cache_refreshed_before_conflict_rule) &&
            cached != reply_cache_.end()) {
            const auto view = AtLineView::parse(cached->second);
            out.kind = ClientOutcome::Kind::places_query;
            out.query = PlacesQuery{cached->second,    view->lat_nanodeg,
                                    view->lon_nanodeg, std::string(view->latlon),
                                    whatsat->radius,   whatsat->bound};
            return out;
        }
        const Record* record = store_.find(whatsat->client);
        if (record == nullptr && defect(Defect::whatsat_lookup_lower_bound)) {
            store_.for_each([&](const Record& r) {
                if (r.client() > whatsat->client &&
                    (record == nullptr || r.client() < record->client()))
                    record = &r;
            });
        }
        if (record != nullptr) {
            out.kind = ClientOutcome::Kind::places_query;
            out.query = PlacesQuery{
                std::string(record->at_line()),     record->lat_nanodeg(), record->lon_nanodeg(),
                std::string(record->latlon_text()), whatsat->radius,       whatsat->bound};
            return out;
        }
    }
    out.kind = ClientOutcome::Kind::reply;
    out.reply = format_invalid_reply(line);
    return out;
}

}  // namespace herd
