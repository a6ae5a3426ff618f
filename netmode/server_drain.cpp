// herd serve's Server, its drain loop: the Node's actions carried out (replies, peer sends,
// dials, Places queries, closes), output held for the data folder, timers, memory given back,
// and the trace records.
#include "netmode/server.hpp"

#include <rapidjson/document.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <iostream>
#include <random>
#include <vector>

#include "core/assert.hpp"
#include "core/hash.hpp"
#include "core/peer_protocol.hpp"
#include "core/text.hpp"
#include "netmode/clock.hpp"
#include "netmode/data_format.hpp"
#include "netmode/files.hpp"
#include "netmode/process.hpp"

#include "netmode/server_conn.hpp"

namespace herd::net {

// ---------------------------------------------------------------- the drain loop

void Server::pump() {
    if (pumping_ || stopped_) return;
    HERD_ASSERT(node_ != nullptr);
    pumping_ = true;
    drain(*node_, [this](auto&& action) { act(action); });
    // The trace's lines go out after what the drain sent: the trace measures propagation, and
    // its own write must not delay the floods it measures.
    trace_.write_lines(trace_pending_);
    trace_pending_.clear();
    if (data_) commit();
    compact_if_due();
    give_back_memory();
    pumping_ = false;
    arm_timer();
}

// Once clients' buffers that held many megabytes are gone (an attack of unfinished lines that
// ended), the allocator is asked to hand the free memory back rather than keep it: each time
// trim_after_bytes of them have gone since the last time, and when they are down to almost
// nothing after a peak of that much (what is still held pins the pages around it).
void Server::give_back_memory() {
    const std::size_t now_bytes = node_->buffered_bytes() + node_->output_bytes();
    buffered_peak_ = std::max(buffered_peak_, now_bytes);
    buffered_high_ = std::max(buffered_high_, now_bytes);
    constexpr std::size_t trim_after_bytes = std::size_t{16} << 20;
    constexpr std::size_t almost_nothing_bytes = std::size_t{1} << 20;
    const bool gone = buffered_peak_ - now_bytes >= trim_after_bytes;
    const bool emptied = buffered_high_ >= trim_after_bytes && now_bytes <= almost_nothing_bytes;
    if (!gone && !emptied) return;
    buffered_peak_ = now_bytes;
    if (emptied) buffered_high_ = now_bytes;
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
}

// Under --fsync always, what the drain stored is written and synced in one group, and the
// acknowledgements it covers leave; while the folder cannot take it (a full disk) they wait,
// and only they (and what follows them on their connection). In every mode, a backlog past its
// bound makes the Node answer IAMATs `?` until the folder takes writes again.
void Server::commit() {
    if (options_.fsync == StoreFile::Sync::always) {
        // (Only here: under batch the writer thread may hold the folder's lock through an
        // fdatasync, and nothing waits for durability.)
        data_->flush();
        durable_seen_ = data_->durable_seq();
        release_gated();
    }
    const bool refuse = !data_->accepting();
    if (refuse != refusing_) {
        refusing_ = refuse;
        node_->handle_storage(!refuse);
        const std::string why = data_->failing()
                                    ? std::string("the folder cannot take writes")
                                    : "a backlog of " + std::to_string(data_->backlog_bytes()) +
                                          " bytes has passed --data-backlog-mb";
        log_.event("data " + options_.data_dir + ": " +
                   (refuse ? why + ": IAMATs are answered `?` until it takes writes again"
                           : std::string("writes go through: IAMATs are taken again")));
    }
    if (!gated_conns_.empty() || refusing_) retry_held();
}

void Server::release_gated() {
    std::size_t kept = 0;
    for (auto& c : gated_conns_) {
        bool moved = false;
        while (!c->gated.empty() && c->gated.front().first <= durable_seen_) {
            c->out.push_back(std::move(c->gated.front().second));
            c->gated.pop_front();
            moved = true;
        }
        if (moved) do_write(c);
        if (c->open && !c->gated.empty()) gated_conns_[kept++] = c;
    }
    gated_conns_.resize(kept);
    const bool holding = !gated_conns_.empty() && data_->failing();
    if (holding == holding_) return;
    holding_ = holding;
    log_.event("data " + options_.data_dir +
               (holding ? ": cannot write; acknowledgements held until it can (--fsync always)"
                        : ": writing again; held acknowledgements released"));
}

void Server::retry_held() {
    if (retry_armed_) return;
    retry_armed_ = true;
    held_retry_.expires_after(std::chrono::milliseconds(100));
    held_retry_.async_wait([this](const boost::system::error_code& ec) {
        retry_armed_ = false;
        if (ec || stopped_) return;
        commit();
        compact_if_due();
    });
}

void Server::compact_if_due() {
    if (!data_ || !data_->wants_snapshot()) return;
    const RecordStore& store = node_->store();
    std::string entries;
    entries.reserve(store.line_bytes() + store.size() * 18);
    store.for_each([&entries](const Record& r) { data::append_entry(entries, r.at_line()); });
    log_.event("data " + options_.data_dir + ": compacting " + std::to_string(data_->log_bytes()) +
               " bytes of log into a snapshot of " + std::to_string(store.size()) + " records");
    data_->snapshot(std::move(entries));
}

void Server::arm_timer() {
    const auto at = node_->poll_timeout();
    if (at == timer_at_) return;
    timer_at_ = at;
    if (!at) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(from_instant(*at));
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        timer_at_.reset();
        node_->handle_timeout(now());
        pump();
    });
}

// One overload per action; pump() hands each action to the one that takes it.
void Server::act(Reply& a) {
    // Under --fsync always an acknowledgement waits until every record stored so far is durable.
    const bool gate = a.acknowledges && data_ && options_.fsync == StoreFile::Sync::always;
    on_send(a.conn, std::make_shared<const std::string>(std::move(a.bytes)),
            gate ? last_appended_ : 0);
}

void Server::act(SendToPeer& a) {
    on_send(a.conn, std::move(a.bytes));
}

void Server::act(Dial& a) {
    dial(a.peer);
}

void Server::act(QueryPlaces& a) {
    const QueryId id = a.id;
    places_.query(a.query, [this, id](PlacesResult result) {
        if (stopped_) return;
        node_->handle_places_reply(id, std::move(result), now());
        pump();
    });
}

void Server::act(PeerDown& a) {
    log_.event("peer " + a.peer.str() + " down on conn " + std::to_string(a.conn) + ": " +
               a.reason);
}

void Server::act(PeerLineRejected& a) {
    log_.event("peer " + a.peer.str() + " on conn " + std::to_string(a.conn) + ": line skipped (" +
               a.reason + "), " + std::to_string(a.count) + " so far on this link");
}

void Server::act(PauseReading& a) {
    if (auto c = find(a.conn)) c->paused = true;
}

void Server::act(ResumeReading& a) {
    if (auto c = find(a.conn)) {
        c->paused = false;
        do_read(c);
    }
}

void Server::on_send(ConnectionId id, SharedBytes bytes, std::uint64_t durable_needed) {
    auto c = find(id);
    if (!c) return;
    if (options_.log_lines && (options_.log_heartbeats || *bytes != "PING\n"))
        log_.written(c->id, *bytes);
    c->out_bytes += bytes->size();
    // The Node closes a connection before its queue passes these bounds.
    HERD_ASSERT(c->out_bytes <= std::max(options_.limits.client_output_bytes_max,
                                         options_.limits.peer_output_bytes_max) +
                                    refused_line_bytes_max);
    if (durable_needed > durable_seen_ || !c->gated.empty()) {
        if (c->gated.empty()) gated_conns_.push_back(c);
        c->gated.emplace_back(durable_needed, std::move(bytes));
        return;
    }
    c->out.push_back(std::move(bytes));
    do_write(c);
}

void Server::act(Close& close) {
    auto c = find(close.conn);
    if (!c) return;
    log_.event("conn " + std::to_string(c->id) + " closed: " + close.reason);
    if (close.mode == CloseMode::now || (c->out.empty() && !c->writing)) {
        boost::system::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        close_now(c, {});
    } else {
        c->close_after_flush = true;
        c->paused = true;  // nothing more is read from it
        arm_flush_deadline(c);
    }
}

// The Node has forgotten a connection closed after its output is flushed, so its write timeout
// is kept here: a client that takes nothing more is closed all the same.
void Server::arm_flush_deadline(const std::shared_ptr<Conn>& c) {
    const Duration timeout = options_.limits.client_write_timeout;
    if (timeout.ns == 0) return;
    c->flush_deadline = std::make_unique<asio::steady_timer>(io_);
    c->flush_deadline->expires_after(std::chrono::nanoseconds(timeout.ns));
    c->flush_deadline->async_wait([this, c](const boost::system::error_code& ec) {
        if (ec || !c->open || stopped_) return;
        if (c->out_bytes_at_deadline == c->out_bytes) {
            close_now(c, "write timeout while closing");
            return;
        }
        c->out_bytes_at_deadline = c->out_bytes;  // it took some: wait another period
        arm_flush_deadline(c);
    });
    c->out_bytes_at_deadline = c->out_bytes;
}

void Server::act(PeerUp& up) {
    log_.event("peer " + up.peer.str() + " up on conn " + std::to_string(up.conn));
    // An established peer link counts against no client cap, and leaves the reserve.
    if (auto c = find(up.conn)) release_seat(*c);
}

void Server::act(RecordApplied& applied) {
    // Before the AT reply that follows it among the actions: under --fsync always the record is
    // on disk before its client hears of it.
    if (data_) last_appended_ = data_->append(applied.at_line);
    if (!trace_.enabled()) return;
    const Now t = now();
    std::string line = "{\"ev\":\"apply\",\"server\":\"";
    append_json_escaped(line, name_);
    line += "\",\"origin\":\"";
    append_json_escaped(line, applied.origin);
    line += "\",\"client\":\"";
    append_json_escaped(line, applied.client);
    line += "\",\"client_time\":\"" + format_timestamp(applied.time) + "\",\"record\":\"";
    append_json_escaped(line, applied.at_line);
    line += "\",\"via\":\"";
    append_json_escaped(line, applied.via);
    // steady_ns is CLOCK_MONOTONIC itself: comparable between processes on one host.
    const auto steady = std::chrono::steady_clock::now().time_since_epoch();
    line += "\",\"mono_ns\":" + std::to_string(t.mono.ns) + ",\"steady_ns\":" +
            std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(steady).count()) +
            ",\"wall_ns\":" + std::to_string(t.wall.seconds * nanos_per_second + t.wall.nanos) +
            "}\n";
    trace_pending_ += line;
}

std::optional<TraceRecord> parse_trace_record(const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.c_str(), line.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("steady_ns") ||
        !d["steady_ns"].IsInt64())
        return std::nullopt;
    auto text = [&](const char* key) {
        return d.HasMember(key) && d[key].IsString()
                   ? bytes_of_json_string({d[key].GetString(), d[key].GetStringLength()})
                   : std::string();
    };
    TraceRecord r{text("server"),      text("origin"),
                  text("client"),      text("record"),
                  text("via"),         {},
                  text("client_time"), d["steady_ns"].GetInt64()};
    const auto time = parse_client_time(r.client_time_text);
    if (!time || r.record.empty()) return std::nullopt;
    r.client_time = *time;
    return r;
}

}  // namespace herd::net
