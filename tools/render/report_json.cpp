#include "tools/render/report_output.h"
#include "tools/render/report_words.h"

namespace vdsotrace::tools {

namespace {

nlohmann::json exit_json(const ProcessRow& p) {
    switch (p.fate) {
        case ProcessFate::kExited: return {{"code", p.exit_value}};
        case ProcessFate::kSignaled: return {{"signal", p.exit_value}};
        case ProcessFate::kRunning: return {{"running", true}};
        case ProcessFate::kEndedUnknownStatus: return {{"ended", true}};
        case ProcessFate::kVanished: return {{"vanished", true}};
        case ProcessFate::kExeced: return {{"exec", true}};
    }
    return nullptr;
}

}  // namespace

nlohmann::json to_json(const Report& r) {
    using nlohmann::json;
    json j;
    j["format"] = "vdsotrace-report";
    j["version"] = 1;
    j["session"] = r.session;
    j["total_calls"] = r.total_calls;
    j["seconds"] = r.seconds;
    if (r.seconds_at_least) j["seconds_at_least"] = true;
    j["functions"] = json::array();
    for (const FunctionRow& f : r.functions)
        j["functions"].push_back({{"name", f.name}, {"calls", f.calls},
                                  {"rate", r.seconds > 0 ? double(f.calls) / r.seconds : 0.0}});
    j["clocks"] = json::array();
    for (const ClockRow& c : r.clocks)
        j["clocks"].push_back({{"function", c.function}, {"id", c.id}, {"name", c.name}, {"calls", c.calls}});
    j["callers"] = json::array();
    for (const CallerRow& c : r.callers) {
        json row = {{"function", c.function}, {"symbol", c.symbol}, {"module", c.module}, {"offset", c.offset},
                    {"address", c.address}, {"calls", c.calls}};
        if (!c.clock.empty()) {
            row["clock"] = c.clock;
            row["clock_id"] = c.clock_id;
        }
        if (!c.file.empty()) {
            row["file"] = c.file;
            row["line"] = c.line;
        }
        if (!c.inlined.empty()) row["inlined"] = c.inlined;
        if (!c.unnamed_because.empty()) row["unnamed_because"] = c.unnamed_because;
        if (c.python) row["python"] = true;
        if (c.via) {
            json via = {{"name", c.via->name}, {"module", c.via->module}, {"offset", c.via->offset},
                        {"depth", c.via->depth}};
            if (!c.via->unnamed_because.empty()) via["unnamed_because"] = c.via->unnamed_because;
            if (!c.via->file.empty()) {
                via["file"] = c.via->file;
                via["line"] = c.via->line;
            }
            row["via"] = std::move(via);
        }
        j["callers"].push_back(std::move(row));
    }
    j["unattributed"] = json::array();
    for (const UnattributedRow& u : r.unattributed) {
        json row = {{"function", u.function}, {"calls", u.calls}};
        if (!u.clock.empty()) row["clock"] = u.clock;
        j["unattributed"].push_back(std::move(row));
    }
    j["fallbacks"] = json::array();
    for (const FallbackRow& fb : r.fallbacks.rows) {
        json row = {{"function", fb.function}, {"calls", fb.calls}, {"reason", fallback_reason_text(fb)}};
        if (!fb.clock.empty()) {
            row["clock"] = fb.clock;
            row["clock_id"] = fb.clock_id;
        }
        if (fb.ns_per_call > 0) row["ns_per_call"] = fb.ns_per_call;
        if (const std::string s = fallback_suggestion_text(fb); !s.empty()) row["suggestion"] = s;
        if (fb.vdso_ns > 0) row["suggested_ns_per_call"] = fb.vdso_ns;
        j["fallbacks"].push_back(std::move(row));
    }
    if (r.fallbacks.basis != FallbackBasis::kNone) j["fallbacks_note"] = fallback_basis_text(r.fallbacks.basis);
    j["headroom"] = json::array();
    for (const HeadroomRow& h : r.headroom) {
        json row = {{"function", h.function}, {"caller", h.caller}, {"min_headroom", h.min_headroom},
                    {"calls", h.calls}, {"warning", h.warn}, {"text", headroom_text(h)}};
        if (h.need) row["need"] = h.need;
        j["headroom"].push_back(std::move(row));
    }
    j["threads"] = json::array();
    for (const ThreadRow& t : r.threads)
        j["threads"].push_back({{"pid", t.pid}, {"tid", t.tid}, {"name", t.name}, {"calls", t.calls},
                                {"exited", t.exited}, {"shared", t.shared}});
    if (r.stacks.enabled) {
        const StackReport& s = r.stacks;
        j["sampling"] = {{"period", s.period}, {"max_depth", s.max_depth}, {"unwinder", s.unwinder},
                         {"sampled", s.totals.sampled}, {"in_stacks", s.stack_calls},
                         {"lost", {{"no_unwinder", s.totals.lost_no_unwinder},
                                   {"stacks_full", s.totals.lost_stacks_full},
                                   {"counts_full", s.totals.lost_counts_full},
                                   {"reentered", s.totals.lost_reentered},
                                   {"unreadable", s.totals.unreadable}}},
                         {"ring_samples", s.ring_samples}, {"ring_missed", s.ring_missed}};
        j["stacks"] = json::array();
        for (const StackRow& row : s.stacks) {
            json frames = json::array();
            for (const StackFrame& fr : row.frames) {
                json jf = {{"symbol", fr.symbol}, {"module", fr.module}, {"offset", fr.offset}};
                if (!fr.file.empty()) {
                    jf["file"] = fr.file;
                    jf["line"] = fr.line;
                }
                if (fr.inlined) jf["inlined"] = true;
                if (!fr.unnamed_because.empty()) jf["unnamed_because"] = fr.unnamed_because;
                frames.push_back(std::move(jf));
            }
            json js = {{"function", row.function}, {"calls", row.calls}, {"frames", std::move(frames)}};
            if (!row.clock.empty()) js["clock"] = row.clock;
            j["stacks"].push_back(std::move(js));
        }
    }
    j["processes"] = json::array();
    for (const ProcessRow& p : r.processes) {
        json row = {{"pid", p.pid}, {"ppid", p.ppid}, {"exe", p.exe}, {"argv", p.argv}, {"session", p.session},
                    {"exit", exit_json(p)}, {"calls", p.calls}, {"seconds", p.seconds}, {"recording", p.source}};
        if (p.reaped_by != 0) row["reaped_by"] = p.reaped_by;
        if (p.seconds_at_least) row["seconds_at_least"] = true;
        if (!p.notes.empty()) {
            row["notes"] = json::array();
            for (const ProcessNote& n : p.notes) row["notes"].push_back(process_note_text(n));
        }
        if (!p.routes.empty()) row["routes"] = p.routes;
        if (!p.vdso_redirect.empty()) row["vdso_redirect"] = p.vdso_redirect;
        if (p.crash) {
            const CrashReport& c = *p.crash;
            json crash = {{"signal", c.signal}, {"where", c.in_vdso ? "vdso" : "shim"}, {"function", c.function},
                          {"symbol", c.symbol}, {"offset", c.offset}, {"fault_address", c.fault_address},
                          {"pc", c.pc}, {"sp", c.sp}, {"below_sp", c.below_sp}, {"tid", c.tid},
                          {"caller", c.caller}, {"caller_address", c.caller_address}, {"text", crash_text(c)}};
            if (c.stack_left) crash["stack_left"] = *c.stack_left;
            if (c.caller_sp) crash["caller_sp"] = *c.caller_sp;
            if (c.caller_room) crash["caller_stack"] = *c.caller_room;
            if (c.need) {
                crash["need"] = *c.need;
                crash["need_measured"] = c.need_measured;
                if (c.caller_room) crash["shortfall"] = int64_t(*c.need) - *c.caller_room;
            }
            crash["probes"] = c.probes;
            row["crash"] = std::move(crash);
        }
        row["recording_id"] = p.segment_id;
        if (!p.parent_segment_id.empty()) row["parent_recording_id"] = p.parent_segment_id;
        if (!p.previous_image_id.empty()) row["previous_image_id"] = p.previous_image_id;
        row["clocks"] = json::array();
        for (const ClockRow& c : p.counters) {
            json cr = {{"function", c.function}, {"calls", c.calls}};
            if (!c.name.empty()) {
                cr["clock"] = c.name;
                cr["clock_id"] = c.id;
            }
            row["clocks"].push_back(std::move(cr));
        }
        j["processes"].push_back(std::move(row));
    }
    return j;
}

std::string json_text(const nlohmann::json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vdsotrace::tools
