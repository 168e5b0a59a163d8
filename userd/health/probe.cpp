#include "userd/health/probe.h"

#include "userd/health/banner_check.h"
#include "userd/health/http_check.h"
#include "userd/health/script_check.h"
#include "userd/health/tcp_check.h"

namespace tcpfo {

Result<std::unique_ptr<Probe>> start_probe(EventLoop& loop, const CheckSpec& spec, Probe::Done done) {
    switch (spec.kind) {
        case CheckKind::tcp: return start_socket_probe(loop, tcp_probe_config(spec), std::move(done));
        case CheckKind::http: return start_socket_probe(loop, http_probe_config(spec), std::move(done));
        case CheckKind::banner: return start_socket_probe(loop, banner_probe_config(spec), std::move(done));
        case CheckKind::script: return start_script_probe(loop, spec, std::move(done));
    }
    return fail("check {}: unknown kind", spec.name);
}

}  // namespace tcpfo
