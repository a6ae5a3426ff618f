#include "sim/trace.hpp"

#include "core/text.hpp"

namespace herd::sim {

Trace& Trace::begin(Instant t, std::string_view event) {
    line_.clear();
    line_ += "{\"t\":";
    if (t.ns < 0) {
        line_ += '-';
        append_decimal(line_, static_cast<std::uint64_t>(-t.ns));
    } else {
        append_decimal(line_, static_cast<std::uint64_t>(t.ns));
    }
    line_ += ",\"ev\":\"";
    line_ += event;
    line_ += '"';
    return *this;
}

Trace& Trace::field(std::string_view key, std::string_view value) {
    line_ += ",\"";
    line_ += key;
    line_ += "\":\"";
    append_json_escaped(line_, value);
    line_ += '"';
    return *this;
}

Trace& Trace::field(std::string_view key, std::int64_t value) {
    line_ += ",\"";
    line_ += key;
    line_ += "\":";
    if (value < 0) {
        line_ += '-';
        append_decimal(line_, static_cast<std::uint64_t>(-value));
    } else {
        append_decimal(line_, static_cast<std::uint64_t>(value));
    }
    return *this;
}

void Trace::end() {
    line_ += "}\n";
    hash_ = fnv1a64(line_, hash_);
    lines_ += 1;
    if (out_ != nullptr) out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

}  // namespace herd::sim
