// Package bus carries desk.Events from whoever decides them (a new message,
// a revoked token) to the hub that owns the live connections.
//
// Memory delivers in process and is all a single node needs. A Redis
// implementation joins later so that several nodes behind a load balancer
// each see every event; both pass the same contract suite (runContract in
// bus_test.go), so the hub cannot tell them apart.
package bus
