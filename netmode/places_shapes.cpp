#include "netmode/places_shapes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/whatsat_reply.hpp"

namespace herd::net {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(Writer& w, const char* key, const rapidjson::Value* v) {
    if (v == nullptr || !v->IsString()) return;
    w.Key(key);
    w.String(v->GetString(), v->GetStringLength());
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) return nullptr;
    auto it = object.FindMember(name);
    return it == object.MemberEnd() ? nullptr : &it->value;
}

void write_number(Writer& w, const char* key, const rapidjson::Value* v) {
    if (v == nullptr || !v->IsNumber()) return;
    w.Key(key);
    v->Accept(w);
}

}  // namespace

std::pair<std::string_view, std::string_view> split_latlon(std::string_view text) {
    const std::size_t second = text.find_first_of("+-", 1);
    if (second == std::string_view::npos) return {text, {}};
    return {text.substr(0, second), text.substr(second)};
}

std::string json_decimal(std::string_view s) {
    std::string out;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        if (s[0] == '-') out += '-';
        s.remove_prefix(1);
    }
    while (s.size() > 1 && s[0] == '0' && s[1] != '.')
        s.remove_prefix(1);
    out += s;
    return out;
}

std::string legacy_location(std::string_view latlon_text) {
    const auto [lat, lon] = split_latlon(latlon_text);
    return json_decimal(lat) + "," + json_decimal(lon);
}

std::string legacy_path(const PlacesQuery& q) {
    return "/maps/api/place/nearbysearch/json?location=" + legacy_location(q.latlon_text) +
           "&radius=" + q.radius.metres_text();
}

// A provider's JSON object, parsed without recursion and only when nested no deeper than
// places_json_depth_max (values are written back with Accept, which recurses).
static bool parse_bounded(rapidjson::Document& doc, std::string_view body) {
    if (!json_nesting_within(body, places_json_depth_max)) return false;
    doc.Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag>(body.data(),
                                                                                   body.size());
    return !doc.HasParseError() && doc.IsObject();
}

std::string new_api_body(const PlacesQuery& q) {
    const auto [lat, lon] = split_latlon(q.latlon_text);
    return "{\"maxResultCount\": 20, \"locationRestriction\": {\"circle\": {\"center\": "
           "{\"latitude\": " +
           json_decimal(lat) + ", \"longitude\": " + json_decimal(lon) +
           "}, \"radius\": " + q.radius.metres_text() + "}}}";
}

std::optional<std::string> new_to_legacy(std::string_view new_body) {
    rapidjson::Document doc;
    if (!parse_bounded(doc, new_body)) return std::nullopt;
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("html_attributions");
    w.StartArray();
    w.EndArray();
    w.Key("results");
    w.StartArray();
    std::size_t count = 0;
    if (const auto* places = member(doc, "places"); places != nullptr && places->IsArray()) {
        for (const auto& p : places->GetArray()) {
            if (!p.IsObject()) continue;
            ++count;
            w.StartObject();
            if (const auto* loc = member(p, "location")) {
                w.Key("geometry");
                w.StartObject();
                w.Key("location");
                w.StartObject();
                write_number(w, "lat", member(*loc, "latitude"));
                write_number(w, "lng", member(*loc, "longitude"));
                w.EndObject();
                w.EndObject();
            }
            if (const auto* name = member(p, "displayName"))
                write_string(w, "name", member(*name, "text"));
            write_string(w, "place_id", member(p, "id"));
            write_number(w, "rating", member(p, "rating"));
            if (const auto* types = member(p, "types"); types != nullptr && types->IsArray()) {
                w.Key("types");
                types->Accept(w);
            }
            write_number(w, "user_ratings_total", member(p, "userRatingCount"));
            write_string(w, "vicinity", member(p, "formattedAddress"));
            w.EndObject();
        }
    }
    w.EndArray();
    w.Key("status");
    w.String(count == 0 ? "ZERO_RESULTS" : "OK");
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> legacy_to_new(std::string_view legacy_body) {
    rapidjson::Document doc;
    if (!parse_bounded(doc, legacy_body)) return std::nullopt;
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    const auto* results = member(doc, "results");
    if (results != nullptr && results->IsArray() && !results->Empty()) {
        w.Key("places");
        w.StartArray();
        for (const auto& r : results->GetArray()) {
            w.StartObject();
            write_string(w, "id", member(r, "place_id"));
            write_string(w, "formattedAddress", member(r, "vicinity"));
            if (const auto* geometry = member(r, "geometry")) {
                if (const auto* loc = member(*geometry, "location")) {
                    w.Key("location");
                    w.StartObject();
                    write_number(w, "latitude", member(*loc, "lat"));
                    write_number(w, "longitude", member(*loc, "lng"));
                    w.EndObject();
                }
            }
            write_number(w, "rating", member(r, "rating"));
            write_number(w, "userRatingCount", member(r, "user_ratings_total"));
            if (const auto* types = member(r, "types"); types != nullptr && types->IsArray()) {
                w.Key("types");
                types->Accept(w);
            }
            if (const auto* name = member(r, "name"); name != nullptr && name->IsString()) {
                w.Key("displayName");
                w.StartObject();
                w.Key("text");
                w.String(name->GetString(), name->GetStringLength());
                w.Key("languageCode");
                w.String("en");
                w.EndObject();
            }
            w.EndObject();
        }
        w.EndArray();
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string legacy_status(std::string_view body) {
    rapidjson::Document doc;
    if (!parse_bounded(doc, body)) return {};
    const auto* status = member(doc, "status");
    if (status == nullptr || !status->IsString()) return {};
    return std::string(status->GetString(), status->GetStringLength());
}

std::string new_error_status(std::string_view body) {
    rapidjson::Document doc;
    if (!parse_bounded(doc, body)) return "UNKNOWN_ERROR";
    const auto* error = member(doc, "error");
    const auto* status = error != nullptr ? member(*error, "status") : nullptr;
    if (status == nullptr || !status->IsString()) return "UNKNOWN_ERROR";
    const std::string_view s(status->GetString(), status->GetStringLength());
    if (s == "PERMISSION_DENIED" || s == "UNAUTHENTICATED") return "REQUEST_DENIED";
    if (s == "INVALID_ARGUMENT" || s == "FAILED_PRECONDITION") return "INVALID_REQUEST";
    if (s == "RESOURCE_EXHAUSTED") return "OVER_QUERY_LIMIT";
    return "UNKNOWN_ERROR";
}

}  // namespace herd::net
