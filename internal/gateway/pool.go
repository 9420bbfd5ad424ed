package gateway

import "sync"

// writeBufferPool lends gorilla a write buffer only while a frame is being
// written, instead of each connection keeping its own.
var writeBufferPool = &sync.Pool{}
