// Package harness runs replbench's experiments: it turns a scenario (a YAML file, a built-in
// scenario, or command-line flags) into points, brings up one emulated cluster per point,
// drives client threads against it, and measures what a DBA would measure: committed
// transactions, aborts by cause, latency percentiles, throughput, and whether every node ended
// with the same data.
//
// The harness owns no protocol and no workload. It looks both up by name in their registries
// (protocols.Lookup, workloads.Lookup), so anything registered can be measured under identical
// clients, network and storage. What a point costs is decided by the protocol and the
// emulated network; the harness only adds its own client-side overhead, which the standalone
// protocol on one node measures as the floor.
//
// Runs happen in wall-clock time on real components (Pebble, NATS, raft), so the numbers are
// measurements with their own imprecision: every point records how late the emulator
// delivered messages (network.delay_error_ms) beside its latency figures. Claims of the form
// "this costs one RTT" belong in the protocols' virtual-time tests, not here.
package harness
