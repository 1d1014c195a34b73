#include "report_output.h"

namespace vdsotrace::tools {

namespace {

nlohmann::json exit_json(const ProcessRow& p) {
    switch (p.fate) {
        case ProcessFate::kExited: return {{"code", p.exit_value}};
        case ProcessFate::kSignaled: return {{"signal", p.exit_value}};
        case ProcessFate::kRunning: return {{"running", true}};
        case ProcessFate::kEndedUnknownStatus: return {{"ended", true}};
        case ProcessFate::kVanished: return {{"vanished", true}};
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
        j["callers"].push_back(std::move(row));
    }
    j["unattributed"] = json::array();
    for (const UnattributedRow& u : r.unattributed) {
        json row = {{"function", u.function}, {"calls", u.calls}};
        if (!u.clock.empty()) row["clock"] = u.clock;
        j["unattributed"].push_back(std::move(row));
    }
    j["threads"] = json::array();
    for (const ThreadRow& t : r.threads)
        j["threads"].push_back({{"pid", t.pid}, {"tid", t.tid}, {"name", t.name}, {"calls", t.calls},
                                {"exited", t.exited}, {"shared", t.shared}});
    j["processes"] = json::array();
    for (const ProcessRow& p : r.processes) {
        json row = {{"pid", p.pid}, {"ppid", p.ppid}, {"exe", p.exe}, {"argv", p.argv}, {"session", p.session},
                    {"exit", exit_json(p)}, {"calls", p.calls}, {"seconds", p.seconds}, {"recording", p.source}};
        if (!p.notes.empty()) row["notes"] = p.notes;
        j["processes"].push_back(std::move(row));
    }
    return j;
}

std::string json_text(const nlohmann::json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vdsotrace::tools
