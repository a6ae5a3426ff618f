#include "history/history.hpp"

#include <rapidjson/document.h>

#include "core/text.hpp"

namespace herd::history {

namespace {

const rapidjson::Value* member(const rapidjson::Document& d, const char* name) {
    auto it = d.FindMember(name);
    return it == d.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

Result<Operation> parse_operation(std::string_view text) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    if (d.HasParseError() || !d.IsObject()) return Error{"expected a JSON object (in UTF-8)", 2};
    Operation op;
    const auto* process = member(d, "process");
    if (!process || !process->IsUint64()) return Error{"expected \"process\": an integer >= 0", 2};
    op.process = process->GetUint64();
    for (auto [name, field] : {std::pair{"server", &op.server}, std::pair{"client", &op.client},
                               std::pair{"line", &op.line}}) {
        const auto* v = member(d, name);
        if (!v || !v->IsString() || v->GetStringLength() == 0)
            return Error{std::string("expected \"") + name + "\": a string, not empty", 2};
        field->assign(v->GetString(), v->GetStringLength());
    }
    const auto* kind = member(d, "op");
    const std::string_view o = kind && kind->IsString() ? kind->GetString() : "";
    if (o != "iamat" && o != "whatsat")
        return Error{"expected \"op\": \"iamat\" or \"whatsat\"", 2};
    op.op = o == "iamat" ? Op::iamat : Op::whatsat;
    const auto* reply = member(d, "reply");
    if (!reply || !(reply->IsString() || reply->IsNull()))
        return Error{"expected \"reply\": a string or null", 2};
    if (reply->IsString()) op.reply = std::string(reply->GetString(), reply->GetStringLength());
    const auto* invoke = member(d, "invoke_ns");
    const auto* complete = member(d, "complete_ns");
    if (!invoke || !invoke->IsInt64() || !complete || !complete->IsInt64())
        return Error{"expected \"invoke_ns\" and \"complete_ns\": integers", 2};
    op.invoke_ns = invoke->GetInt64();
    op.complete_ns = complete->GetInt64();
    for (std::int64_t t : {op.invoke_ns, op.complete_ns}) {
        if (t < -time_ns_max || t > time_ns_max)
            return Error{"expected times within 2^62 ns (146 years) of the clock's zero", 2};
    }
    if (op.complete_ns < op.invoke_ns) return Error{"expected complete_ns >= invoke_ns", 2};
    // The line is the operation's: its verb and its client.
    std::string_view rest = op.line;
    const std::string_view verb = take_field(rest);
    if (verb != (op.op == Op::iamat ? "IAMAT" : "WHATSAT"))
        return Error{std::string("expected \"line\" to be ") +
                         (op.op == Op::iamat ? "an IAMAT" : "a WHATSAT") + " (the \"op\")",
                     2};
    if (take_field(rest) != op.client)
        return Error{"expected \"line\" to be about \"client\" (its second field)", 2};
    return op;
}

std::string format_operation(const Operation& op) {
    std::string out = "{\"process\":" + std::to_string(op.process) + ",\"server\":\"";
    append_json_escaped(out, op.server);
    out += op.op == Op::iamat ? "\",\"op\":\"iamat\",\"client\":\""
                              : "\",\"op\":\"whatsat\",\"client\":\"";
    append_json_escaped(out, op.client);
    out += "\",\"line\":\"";
    append_json_escaped(out, op.line);
    out += "\",\"reply\":";
    if (op.reply) {
        out += '"';
        append_json_escaped(out, *op.reply);
        out += '"';
    } else {
        out += "null";
    }
    out += ",\"invoke_ns\":" + std::to_string(op.invoke_ns) +
           ",\"complete_ns\":" + std::to_string(op.complete_ns) + "}";
    return out;
}

}  // namespace herd::history
