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

namespace openrms::node {

// Tells the service manager how the node is doing, by the sd_notify(3)
// protocol: a datagram to the socket named by $NOTIFY_SOCKET (a path, or
// "@name" in the abstract namespace). Does nothing when the variable is
// unset, so a node run by hand or by a test behaves the same. `state` is
// for example "READY=1" or "STOPPING=1".
void NotifyServiceManager(const char* state);

}  // namespace openrms::node
