#include "userd/hooks/open_hooks.h"

#include "userd/base/log.h"
#include "userd/hooks/bpf_snoop.h"
#include "userd/hooks/kmod_hooks.h"

namespace tcpfo {

Result<std::unique_ptr<Hooks>> open_hooks(const Options& options, HooksUse use) {
    const SnoopConfig config{options.dev, options.vip.addr, options.port};
    HooksBackend backend = options.hooks;
    if (backend == HooksBackend::automatic) {
        // The module has no takeover hooks yet (kmod_hooks.h): a backup needs BPF.
        backend = use == HooksUse::primary && KmodHooks::module_loaded() ? HooksBackend::kmod : HooksBackend::bpf;
        log_info("failoverd: --hooks auto: {}", backend == HooksBackend::kmod ? "the kernel module tcpfo is loaded: kmod"
                                                 : use == HooksUse::backup ? "a backup runs the eBPF programs"
                                                                           : "the kernel module tcpfo is not loaded: bpf");
    }
    if (backend == HooksBackend::kmod) {
        if (use == HooksUse::backup)
            return fail("--hooks kmod: the kernel module's takeover hooks are not built yet; run backups with "
                        "--hooks bpf (or auto)");
        auto hooks = KmodHooks::attach(config);
        if (!hooks) return std::unexpected(hooks.error());
        return std::unique_ptr<Hooks>(std::move(*hooks));
    }
    auto hooks = BpfSnoop::attach(config);
    if (!hooks) return std::unexpected(hooks.error());
    return std::unique_ptr<Hooks>(std::move(*hooks));
}

}  // namespace tcpfo
