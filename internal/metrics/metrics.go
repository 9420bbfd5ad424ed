// Package metrics exposes the node's Prometheus metrics: connections,
// handshakes, frames, slow consumers, bus and store latency. Each part of
// the server reports through a small observer interface of its own; this
// package implements them all on one registry.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// Metrics holds every collector of one node.
type Metrics struct {
	registry    *prometheus.Registry
	factory     factory // for collectors registered later (StoreReruns)
	connections *prometheus.GaugeVec
	handshakes  *prometheus.CounterVec
	framesIn    *prometheus.CounterVec
	framesOut   prometheus.Counter
	slowCloses  prometheus.Counter
	gapFills    prometheus.Counter
	busPublish  prometheus.Histogram
	busDeliver  prometheus.Histogram
	busTrip     prometheus.Histogram
	store       *prometheus.HistogramVec
}

// latencyBuckets span a loopback round trip (0.1 ms) to a stalled
// dependency (2.5 s, past the store timeout's default).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// New registers the collectors, labelled with the node's id so several
// nodes scraped into one Prometheus stay apart.
func New(node string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{reg: reg, labels: prometheus.Labels{"node": node}}
	return &Metrics{
		registry: reg,
		factory:  f,
		connections: f.gaugeVec("servicedesk_connections",
			"Live WebSocket connections by kind (agent, employee).", "kind"),
		handshakes: f.counterVec("servicedesk_handshakes_total",
			"WebSocket handshakes by result (accepted, rejected, refused_origin) and the rejection reason.", "result", "reason"),
		framesIn: f.counterVec("servicedesk_frames_in_total",
			"Frames received from clients, by type (unknown types as other).", "type"),
		framesOut: f.counter("servicedesk_frames_out_total",
			"Frames queued to clients."),
		slowCloses: f.counter("servicedesk_slow_consumer_closes_total",
			"Connections closed because their outbound queue overflowed (1013)."),
		gapFills: f.counter("servicedesk_gap_fills_total",
			"Conversation streams that missed an event live and were filled from the store."),
		busPublish: f.histogram("servicedesk_bus_publish_seconds",
			"Time to hand one event to the bus."),
		busDeliver: f.histogram("servicedesk_bus_deliver_seconds",
			"Time for the hub to queue one bus event to its local connections."),
		busTrip: f.histogram("servicedesk_bus_trip_seconds",
			"Time from Publish on any node to this node receiving the event from Redis."),
		store: f.histogramVec("servicedesk_store_seconds",
			"Storage latency by operation (commit, token_lookup, events, list).", "op"),
	}
}

// StoreReruns reports, through reruns, how many of the writer's batches
// ran again under the lock after taking a conversation on trust that
// another node had written meanwhile (PostgreSQL; see postgres.DB.Update).
// Many of them mean nodes writing the same conversations at once.
func (m *Metrics) StoreReruns(reruns func() int64) {
	m.factory.counterFunc("servicedesk_store_reruns_total",
		"Writer batches run again under the lock after a cached conversation was found written since.",
		func() float64 { return float64(reruns()) })
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ConnOpened, ConnClosed, FramesQueued, SlowConsumer and GapFilled make
// Metrics the hub's observer.
func (m *Metrics) ConnOpened(role desk.Role) { m.connections.WithLabelValues(string(role)).Inc() }
func (m *Metrics) ConnClosed(role desk.Role) { m.connections.WithLabelValues(string(role)).Dec() }
func (m *Metrics) FramesQueued(n int)        { m.framesOut.Add(float64(n)) }
func (m *Metrics) SlowConsumer()             { m.slowCloses.Inc() }
func (m *Metrics) GapFilled()                { m.gapFills.Inc() }

// BusTrip records one event's trip across the Redis bus.
func (m *Metrics) BusTrip(d time.Duration) { m.busTrip.Observe(d.Seconds()) }

func (m *Metrics) Delivered(d time.Duration) { m.busDeliver.Observe(d.Seconds()) }
func (m *Metrics) StoreOp(op string, d time.Duration) {
	m.store.WithLabelValues(op).Observe(d.Seconds())
}

// knownFrames bounds the frames_in label's values: a client must not be
// able to mint time series by sending made-up types.
var knownFrames = map[string]bool{
	wire.TypePing: true, wire.TypeTyping: true, wire.TypeMessage: true, wire.TypeResume: true,
	wire.TypeRead: true, wire.TypePresence: true, wire.TypePresenceFollow: true,
}

// Handshake and FrameIn make Metrics the gateway's observer.
func (m *Metrics) Handshake(result, reason string) {
	m.handshakes.WithLabelValues(result, reason).Inc()
}
func (m *Metrics) FrameIn(typ string) {
	if !knownFrames[typ] {
		typ = "other"
	}
	m.framesIn.WithLabelValues(typ).Inc()
}

// Bus times every Publish of b.
func (m *Metrics) Bus(b desk.Bus) desk.Bus { return timedBus{b, m.busPublish} }

type timedBus struct {
	desk.Bus
	h prometheus.Histogram
}

func (t timedBus) Publish(ctx context.Context, ev desk.Event) error {
	start := time.Now()
	err := t.Bus.Publish(ctx, ev)
	t.h.Observe(time.Since(start).Seconds())
	return err
}

// PublishBatch keeps the bus's one-round-trip batches visible through the
// timing wrapper; a bus without them gets one Publish per event.
func (t timedBus) PublishBatch(ctx context.Context, evs []desk.Event) error {
	start := time.Now()
	defer func() { t.h.Observe(time.Since(start).Seconds()) }()
	if b, ok := t.Bus.(interface {
		PublishBatch(context.Context, []desk.Event) error
	}); ok {
		return b.PublishBatch(ctx, evs)
	}
	for _, ev := range evs {
		if err := t.Bus.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// TokenStore times every Lookup of s: the one call on the handshake path.
func (m *Metrics) TokenStore(s desk.TokenStore) desk.TokenStore { return timedTokens{s, m} }

type timedTokens struct {
	desk.TokenStore
	m *Metrics
}

func (t timedTokens) Lookup(ctx context.Context, role desk.Role, token string) (string, error) {
	start := time.Now()
	id, err := t.TokenStore.Lookup(ctx, role, token)
	t.m.StoreOp("token_lookup", time.Since(start))
	return id, err
}

// LookupMany passes batched lookups through when the store has them; the
// gateway's token re-check uses them.
func (t timedTokens) LookupMany(ctx context.Context, role desk.Role, tokens []string) ([]string, error) {
	b, ok := t.TokenStore.(interface {
		LookupMany(context.Context, desk.Role, []string) ([]string, error)
	})
	if !ok {
		out := make([]string, len(tokens))
		for i, tok := range tokens {
			id, err := t.Lookup(ctx, role, tok)
			if err != nil && desk.ErrorCode(err) != desk.ENotFound {
				return nil, err
			}
			out[i] = id
		}
		return out, nil
	}
	start := time.Now()
	defer func() { t.m.StoreOp("token_lookup_many", time.Since(start)) }()
	return b.LookupMany(ctx, role, tokens)
}
