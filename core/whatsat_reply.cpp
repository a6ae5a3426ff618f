#include "core/whatsat_reply.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>

namespace herd {

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

// A SAX handler between RapidJSON's reader and writer: forwards every event, except the
// elements of the top-level `results` array past `bound`, and remembers the top-level status.
class ResultsFilter {
  public:
    ResultsFilter(Writer& writer, const rapidjson::StringBuffer& out, unsigned bound)
        : writer_(writer), out_(out), bound_(bound) {}

    bool Null() {
        return scalar([&] { return writer_.Null(); });
    }
    bool Bool(bool b) {
        return scalar([&] { return writer_.Bool(b); });
    }
    bool Int(int i) {
        return scalar([&] { return writer_.Int(i); });
    }
    bool Uint(unsigned u) {
        return scalar([&] { return writer_.Uint(u); });
    }
    bool Int64(std::int64_t i) {
        return scalar([&] { return writer_.Int64(i); });
    }
    bool Uint64(std::uint64_t u) {
        return scalar([&] { return writer_.Uint64(u); });
    }
    bool Double(double d) {
        return scalar([&] { return writer_.Double(d); });
    }
    // Numbers arrive as the provider wrote them and leave unchanged. (RawNumber of RapidJSON
    // 1.1.0's writers quotes its argument, so the text goes out through RawValue.)
    bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
        return scalar([&] { return writer_.RawValue(s, n, rapidjson::kNumberType); });
    }
    bool String(const char* s, rapidjson::SizeType n, bool copy) {
        if (depth_ == 1 && next_is_status_) status_.assign(s, n);
        return scalar([&] { return writer_.String(s, n, copy); });
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        if (skip_ > 0) return true;
        const std::string_view key(s, n);
        next_is_results_ = depth_ == 1 && key == "results";
        next_is_status_ = depth_ == 1 && key == "status";
        return within_size() && writer_.Key(s, n, copy);
    }
    bool StartObject() {
        return start(false, [&] { return writer_.StartObject(); });
    }
    bool StartArray() {
        return start(true, [&] { return writer_.StartArray(); });
    }
    bool EndObject(rapidjson::SizeType n) {
        return end([&] { return writer_.EndObject(n); });
    }
    bool EndArray(rapidjson::SizeType n) {
        return end([&] { return writer_.EndArray(n); });
    }

    bool top_level_object() const { return top_level_object_; }
    const std::string& status() const { return status_; }

  private:
    // True when the value about to start is an element of `results` that must be dropped.
    bool drop_element() {
        if (results_depth_ == 0 || depth_ != results_depth_) return false;
        return results_seen_++ >= bound_;
    }

    template <typename F>
    bool scalar(F forward) {
        if (skip_ > 0) return true;
        if (depth_ == 0) return false;  // a bare scalar is not a Places body
        next_is_results_ = next_is_status_ = false;
        if (drop_element()) return true;
        return within_size() && forward();
    }
    // Past places_reply_bytes_max of output the parse stops: the reply is a failure.
    bool within_size() const { return out_.GetSize() <= places_reply_bytes_max; }

    template <typename F>
    bool start(bool array, F forward) {
        if (skip_ > 0) {
            ++skip_;
            return depth_ + skip_ <= places_json_depth_max;
        }
        if (depth_ == 0) top_level_object_ = !array;
        if (depth_ + skip_ >= places_json_depth_max) return false;  // stops the parse
        if (drop_element()) {
            skip_ = 1;
            return true;
        }
        ++depth_;
        if (array && next_is_results_) {
            results_depth_ = depth_;
            results_seen_ = 0;
        }
        next_is_results_ = next_is_status_ = false;
        return within_size() && forward();
    }

    template <typename F>
    bool end(F forward) {
        if (skip_ > 0) {
            --skip_;
            return true;
        }
        if (depth_ == results_depth_) results_depth_ = 0;
        --depth_;
        return forward();
    }

    Writer& writer_;
    const rapidjson::StringBuffer& out_;
    unsigned bound_;
    int depth_ = 0;          // containers open in the output
    int skip_ = 0;           // containers open inside a dropped element
    int results_depth_ = 0;  // depth of the top-level results array while inside it
    unsigned results_seen_ = 0;
    bool next_is_results_ = false;
    bool next_is_status_ = false;
    bool top_level_object_ = false;
    std::string status_;
};

bool is_status_word(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
        if (!((c >= 'A' && c <= 'Z') || c == '_')) return false;
    }
    return true;
}

// Collapses every run of newlines to one and strips trailing newlines.
void collapse_newlines(std::string& text) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && out > 0 && text[out - 1] == '\n') continue;
        text[out++] = text[i];
    }
    text.resize(out);
    while (!text.empty() && text.back() == '\n')
        text.pop_back();
}

}  // namespace

bool places_status_is_answer(std::string_view status) {
    return status == "OK" || status == "ZERO_RESULTS";
}

bool json_nesting_within(std::string_view json, int depth_max) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > depth_max) return false;
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return true;
}

std::string format_whatsat_reply(std::string_view at_line, std::string_view places_body,
                                 unsigned bound, bool* malformed) {
    rapidjson::StringBuffer buffer;
    Writer writer(buffer);
    writer.SetIndent(' ', 3);
    ResultsFilter filter(writer, buffer, bound);
    rapidjson::Reader reader;
    rapidjson::MemoryStream stream(places_body.data(), places_body.size());
    // Iterative: the parser keeps its own stack, whatever the nesting.
    const auto parsed =
        reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseValidateEncodingFlag |
                     rapidjson::kParseIterativeFlag>(stream, filter);
    if (parsed.IsError() || !filter.top_level_object()) {
        if (malformed != nullptr) *malformed = true;
        return format_whatsat_failure(at_line, "UNKNOWN_ERROR");
    }
    const std::string& status = filter.status();
    if (!status.empty() && !places_status_is_answer(status)) {
        return format_whatsat_failure(at_line, status);
    }
    std::string body(buffer.GetString(), buffer.GetSize());
    collapse_newlines(body);
    std::string out;
    out.reserve(at_line.size() + body.size() + 3);
    out += at_line;
    out += '\n';
    out += body;
    out += "\n\n";
    return out;
}

std::string format_whatsat_failure(std::string_view at_line, std::string_view status) {
    const std::string_view shown = is_status_word(status) ? status : "UNKNOWN_ERROR";
    std::string out;
    out += at_line;
    out += "\n{\"html_attributions\": [], \"results\": [], \"status\": \"";
    out += shown;
    out += "\"}\n\n";
    return out;
}

}  // namespace herd
