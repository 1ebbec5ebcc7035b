// Process-wide registry of the temporary files that live Writers own, removed on SIGINT/SIGTERM.
#pragma once
#include <string>

namespace kquant::gguf::detail {

// Registers `path` (installing the signal handlers on first use) and returns its slot.
// Throws kquant::Error when every slot is taken or the path is too long.
int register_temp_file(const std::string& path);
// Forgets a slot (a no-op for -1). The file itself is not touched.
void unregister_temp_file(int slot);

}  // namespace kquant::gguf::detail
