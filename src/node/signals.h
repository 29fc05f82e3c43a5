// SIGINT and SIGTERM stop a node: the main thread waits for them.
#pragma once

namespace openrms::node {

// Blocks SIGINT and SIGTERM in this thread and the threads it starts
// later, so WaitForTerminationSignal can take them. Call before starting
// servers.
void BlockTerminationSignals();
// Blocks until SIGINT or SIGTERM.
void WaitForTerminationSignal();

}  // namespace openrms::node
