// Chooses and opens the kernel hooks a node runs with (--hooks): the eBPF programs
// (bpf_snoop.h) or the kernel module (kmod_hooks.h). `auto` takes the module where it
// is loaded, else the eBPF programs, and says which.
#pragma once

#include <memory>

#include "userd/base/error.h"
#include "userd/config/options.h"
#include "userd/hooks/hooks.h"

namespace tcpfo {

// What the node will ask of its hooks (both backends do both): a primary snoops and
// clamps; a backup also holds and rebuilds connections when it takes over.
enum class HooksUse { primary, backup };

Result<std::unique_ptr<Hooks>> open_hooks(const Options& options, HooksUse use);

}  // namespace tcpfo
