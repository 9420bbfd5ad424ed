package bus

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The transport benchmarks measure what chose pub/sub over streams for
// RedisBus: publish→receive latency one message at a time (p50/p99, µs) and
// throughput with four publishers (msgs/s, and the latency under that
// load), through go-redis on the Redis at SERVICEDESK_TEST_REDIS_URL.
// Payloads are the size of a typical message.created event with its header.
//
//	go test -run '^$' -bench Transport -benchtime 20000x ./internal/bus/

// benchPayload is a ~400-byte event; its first 8 bytes carry the send time.
var benchPayload = []byte(`E{"n":"3f9a1c07","k":4,"us":[{"r":"employee","i":"zhangsan"},{"r":"agent","i":"a-1"}],"cv":"cv_k3q5t0m2a9d1x7pz","s":2}` + "\n" +
	`{"conversation_id":"cv_k3q5t0m2a9d1x7pz","seq":2,"type":"message.created","data":{"id":"cv_k3q5t0m2a9d1x7pz:2","body":"VPN 连不上","sender_type":"employee","sender_id":"zhangsan","sender_name":"张三","client_msg_id":"m1","created_at":"2026-11-27T14:20:01.123Z"},"created_at":"2026-11-27T14:20:01.123Z"}`)

// benchTransport is one way of carrying payloads between nodes.
type benchTransport struct {
	name string
	// open starts a receiver that calls got for each payload, and returns
	// a publish function and a stop function.
	open func(b *testing.B, client *redis.Client, got func(string)) (publish func(context.Context, []byte) error, stop func())
}

var benchTransports = []benchTransport{
	{"pubsub", openPubSub},
	{"streams", openStream},
}

func openPubSub(b *testing.B, client *redis.Client, got func(string)) (func(context.Context, []byte) error, func()) {
	channel := testChannel()
	sub := client.Subscribe(b.Context(), channel)
	if _, err := sub.Receive(b.Context()); err != nil {
		b.Fatalf("subscribe: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := sub.ReceiveMessage(context.Background())
			if err != nil {
				return
			}
			got(msg.Payload)
		}
	}()
	publish := func(ctx context.Context, p []byte) error { return client.Publish(ctx, channel, p).Err() }
	return publish, func() { sub.Close(); <-done }
}

func openStream(b *testing.B, client *redis.Client, got func(string)) (func(context.Context, []byte) error, func()) {
	key := testChannel()
	// The reader blocks in XREAD, so it gets a connection of its own.
	reader := redis.NewClient(testRedisOptions(b))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := "0-0"
		for ctx.Err() == nil {
			res, err := reader.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: 512, Block: 100 * time.Millisecond}).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return
			}
			for _, m := range res[0].Messages {
				got(m.Values["d"].(string))
				last = m.ID
			}
		}
	}()
	publish := func(ctx context.Context, p []byte) error {
		// Trimmed like a bus would be: the database is the history.
		return client.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: 10000, Approx: true, Values: []any{"d", p}}).Err()
	}
	stop := func() {
		cancel()
		<-done
		reader.Close()
		client.Del(context.Background(), key)
	}
	return publish, stop
}

func BenchmarkTransport(b *testing.B) {
	opts := testRedisOptions(b)
	for _, tr := range benchTransports {
		b.Run(tr.name+"/latency", func(b *testing.B) {
			client := redis.NewClient(opts)
			defer client.Close()
			received := make(chan struct{}, 1)
			publish, stop := tr.open(b, client, func(string) { received <- struct{}{} })
			defer stop()
			lat := make([]time.Duration, 0, b.N)
			payload := slices.Clone(benchPayload)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := publish(b.Context(), payload); err != nil {
					b.Fatal(err)
				}
				<-received
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
		b.Run(tr.name+"/throughput", func(b *testing.B) {
			client := redis.NewClient(opts)
			defer client.Close()
			const publishers = 4
			var (
				mu    sync.Mutex
				lat   []time.Duration
				count atomic.Int64
				all   = make(chan struct{})
				each  = max(b.N/publishers, 1)
				total = int64(each * publishers)
			)
			publish, stop := tr.open(b, client, func(p string) {
				d := time.Duration(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64([]byte(p[:8]))))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				if count.Add(1) == total {
					close(all)
				}
			})
			defer stop()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range publishers {
				wg.Go(func() {
					payload := slices.Clone(benchPayload)
					for range each {
						binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
						if err := publish(b.Context(), payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			select {
			case <-all:
			case <-time.After(30 * time.Second):
				b.Fatalf("received %d of %d", count.Load(), total)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
			reportLatency(b, lat)
		})
	}
}

// BenchmarkRedisBus measures the whole path a conversation event takes:
// Publish (encode, PUBLISH), the subscription, decode, the sequencer and
// deliver, one event at a time.
func BenchmarkRedisBus(b *testing.B) {
	received := make(chan struct{}, 1)
	r := startRedisBus(b, testChannel(), RedisOptions{}, func(desk.Event) { received <- struct{}{} })
	frame := benchPayload[strings.IndexByte(string(benchPayload), '\n')+1:]
	to := desk.Audience{Kind: desk.ToUsers, Users: []desk.Principal{{Role: desk.RoleEmployee, ID: "zhangsan"}, {Role: desk.RoleAgent, ID: "a-1"}}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		ev := desk.Event{To: to, Frame: frame, ConversationID: "cv_k3q5t0m2a9d1x7pz", Seq: int64(i + 1)}
		if err := r.Publish(b.Context(), ev); err != nil {
			b.Fatal(err)
		}
		<-received
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkDecode is the receiving side's cost per event, without Redis.
func BenchmarkDecode(b *testing.B) {
	payload := string(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeEvent(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op")
}
