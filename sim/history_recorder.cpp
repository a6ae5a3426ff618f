#include "sim/history_recorder.hpp"

#include "core/text.hpp"
#include "history/history.hpp"

namespace herd::sim {

void HistoryRecorder::invoked(int id, const std::string& server, std::string_view bytes,
                              Instant now, std::uint64_t process) {
    const std::string_view line = bytes.substr(0, bytes.find('\n'));
    std::string_view rest = line;
    const std::string_view verb = take_field(rest);
    if (verb != "IAMAT" && verb != "WHATSAT") return;  // not an operation of the protocol
    Pending p;
    p.process = process != 0 ? process : next_process_++;
    p.server = server;
    p.iamat = verb == "IAMAT";
    p.client = std::string(take_field(rest));
    if (p.client.empty()) return;  // a malformed request: no operation on a client
    p.line = std::string(line);
    p.invoke_ns = now.ns;
    if (checker_ != nullptr && p.iamat)
        checker_->sent(history::Operation{p.process, p.server, history::Op::iamat, p.client, p.line,
                                          std::nullopt, p.invoke_ns, p.invoke_ns});
    pending_[id] = std::move(p);
}

void HistoryRecorder::received(int id, std::string_view bytes) {
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.replied) return;
    const std::size_t end = bytes.find('\n');
    it->second.reply.append(bytes.substr(0, end));
    if (end != std::string_view::npos) it->second.replied = true;
}

void HistoryRecorder::completed(int id, Instant now) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    write(it->second, now.ns);
    pending_.erase(it);
}

void HistoryRecorder::finish(Instant end) {
    for (const auto& [id, p] : pending_)
        write(p, end.ns);
    pending_.clear();
    if (out_ != nullptr) out_->flush();
}

void HistoryRecorder::write(const Pending& p, std::int64_t complete_ns) {
    history::Operation op{
        p.process,   p.server,   p.iamat ? history::Op::iamat : history::Op::whatsat,
        p.client,    p.line,     std::nullopt,
        p.invoke_ns, complete_ns};
    if (p.replied || !p.reply.empty()) op.reply = p.reply;
    if (out_ != nullptr) *out_ << history::format_operation(op) << '\n';
    if (checker_ != nullptr) checker_->add(std::move(op), ++written_);
}

}  // namespace herd::sim
