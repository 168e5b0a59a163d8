#include "userd/hooks/open_hooks.h"

#include "userd/base/log.h"
#include "userd/hooks/bpf_snoop.h"
#include "userd/hooks/kmod_hooks.h"

namespace tcpfo {

Result<std::unique_ptr<Hooks>> open_hooks(const Options& options, HooksUse use) {
    const SnoopConfig config{options.dev, options.vip.addr, options.port};
    HooksBackend backend = options.hooks;
    if (backend == HooksBackend::automatic) {
        backend = KmodHooks::module_loaded() ? HooksBackend::kmod : HooksBackend::bpf;
        log_info("failoverd: --hooks auto: {}", backend == HooksBackend::kmod ? "the kernel module tcpfo is loaded: kmod"
                                                                              : "the kernel module tcpfo is not loaded: bpf");
    }
    if (backend == HooksBackend::kmod) {
        auto hooks = KmodHooks::attach(config);
        if (!hooks) return std::unexpected(hooks.error());
        return std::unique_ptr<Hooks>(std::move(*hooks));
    }
    auto hooks = BpfSnoop::attach(config);
    if (!hooks) return std::unexpected(hooks.error());
    return std::unique_ptr<Hooks>(std::move(*hooks));
}

}  // namespace tcpfo
