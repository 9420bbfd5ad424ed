// Package bus carries desk.Events from whoever decides them (a new message,
// a revoked token) to the hub that owns the live connections.
//
// Memory delivers in process and is all a single node needs. Redis carries
// events over one Redis pub/sub channel so that several nodes behind a load
// balancer each see every event, and tells its owner when its subscription
// is lost and back. Conversation events that raced between nodes are put
// back in seq order per connection by the hub (hub/stream.go). Both pass the same contract suite
// (runContract in bus_test.go), so the hub cannot tell them apart.
package bus
