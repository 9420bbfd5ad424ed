package presence

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ Tracker = (*Redis)(nil)

// Defaults for RedisOptions.
const (
	// DefaultRefreshInterval is how often a node rewrites its agents. Its
	// entries live for ttlIntervals of these, so a node that dies takes its
	// agents offline within about 20 s, for one small write per node every
	// 5 s.
	DefaultRefreshInterval = 5 * time.Second
	// DefaultPrefix starts every key. In Redis Cluster use a hash tag, e.g.
	// "{sd:presence}:": the sync script reads every node's key at once.
	DefaultPrefix = "sd:presence:"
	// DefaultTimeout bounds each sync and each read; a healthy Redis answers
	// in a millisecond.
	DefaultTimeout = 2 * time.Second
	// ttlIntervals: a node's entries survive two missed refreshes (a GC
	// pause, a slow Redis), and expire at the third.
	ttlIntervals = 3
)

// RedisOptions configure a Redis tracker.
type RedisOptions struct {
	Options
	// NodeID names this node's entries; random when empty. Give each node
	// its own: two nodes with one id overwrite each other's agents.
	NodeID string
	// Prefix starts every key (DefaultPrefix when empty).
	Prefix string
	// RefreshInterval is how often the node rewrites its entries and checks
	// the cluster for changes (DefaultRefreshInterval when zero).
	RefreshInterval time.Duration
	// Timeout bounds each round trip (DefaultTimeout when zero).
	Timeout time.Duration
}

// Redis is the Tracker for several nodes sharing one Redis.
//
// Each node keeps the set of agents connected to it in "{prefix}node:{id}"
// with a TTL of three refresh intervals, rewritten every interval and
// promptly after a local change, and lists itself in the set
// "{prefix}nodes". An agent is online if any node's set holds them. Agents
// who chose away are in the set "{prefix}away", those who chose busy in
// "{prefix}busy" (two sets rather than one hash, so a desk upgraded while
// running keeps reading the away set it had). The hash "{prefix}status"
// holds the last status announced for each agent who is not offline: one
// script compares and updates it atomically, so exactly one node announces
// each change, however many notice it, and a dead node's agents are
// announced offline by whichever node next looks after its set expired.
type Redis struct {
	local
	client redis.UniversalClient
	bus    desk.Bus
	opts   RedisOptions
	keys   redisKeys

	// ioMu serialises syncs (the loop's and SetStatus's), so this node's
	// announcements leave in the order its script calls decided them.
	ioMu   sync.Mutex
	online atomic.Int64 // OnlineCount as of the last sync
	fulls  atomic.Int64 // full syncs completed, for tests
}

type redisKeys struct {
	nodes, away, busy, status, nodePrefix, node string
}

// NewRedis returns a tracker over client that announces changes on bus.
// Call Run: it keeps this node's entries alive.
func NewRedis(client redis.UniversalClient, bus desk.Bus, opts RedisOptions) *Redis {
	opts.Options = opts.Options.withDefaults()
	if opts.NodeID == "" {
		opts.NodeID = strings.ToLower(rand.Text())
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	p := opts.Prefix
	return &Redis{
		local: newLocal(), client: client, bus: bus, opts: opts,
		keys: redisKeys{
			nodes: p + "nodes", away: p + "away", busy: p + "busy", status: p + "status",
			nodePrefix: p + "node:", node: p + "node:" + opts.NodeID,
		},
	}
}

// NodeID returns the id this node's entries are kept under.
func (r *Redis) NodeID() string { return r.opts.NodeID }

// Run keeps this node's entries alive and announces changes until ctx
// ends: at once after a local change, and every refresh interval for the
// whole cluster (which catches a dead node's agents expiring). On the way
// out it writes its last local changes, normally the empty set of a node
// whose connections were all closed, so a clean stop is seen at once. A
// Redis failure is logged and retried at the next tick.
func (r *Redis) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.RefreshInterval)
	defer t.Stop()
	full := true
	for {
		if err := r.sync(ctx, full); err != nil && ctx.Err() == nil {
			r.opts.Log.Warn("presence sync failed", "error", err)
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
			defer cancel()
			if err := r.sync(fctx, false); err != nil {
				r.opts.Log.Warn("presence sync failed", "error", err)
			}
			return
		case <-r.kick:
			full = false
			// Never wait past the refresh, or this node's entry could expire
			// while it gathers; on ctx's end, the final sync still runs.
			gather(ctx, min(announceDelay, r.opts.RefreshInterval/2))
		case <-t.C:
			full = true
		}
	}
}

// SetStatus records the agent's choice and settles the agent (and this
// node's pending local changes) at once, so the answer and the
// announcement do not wait for the loop.
func (r *Redis) SetStatus(ctx context.Context, agentID string, s Status) (Status, bool, error) {
	if !s.Settable() {
		return "", false, invalidStatus(s)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	r.ioMu.Lock()
	defer r.ioMu.Unlock()
	// The script records the choice and judges it in one step, so no other
	// node's reconciliation can announce it first.
	res, err := r.syncLocked(ctx, string(s), []string{agentID})
	if err != nil {
		return "", false, err
	}
	if len(res.failed) > 0 {
		return res.current[agentID], true, desk.Errorf(desk.EUnavailable, "could not announce the change; try again")
	}
	_, changed := res.changed[agentID]
	return res.current[agentID], changed, nil
}

// Status returns the agent's status as the nodes' live entries say.
func (r *Redis) Status(ctx context.Context, agentID string) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	nodes, err := r.client.SMembers(ctx, r.keys.nodes).Result()
	if err != nil {
		return "", unavailable(err)
	}
	pipe := r.client.Pipeline()
	on := make([]*redis.BoolCmd, len(nodes))
	for i, id := range nodes {
		on[i] = pipe.SIsMember(ctx, r.keys.nodePrefix+id, agentID)
	}
	away := pipe.SIsMember(ctx, r.keys.away, agentID)
	busy := pipe.SIsMember(ctx, r.keys.busy, agentID)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", unavailable(err)
	}
	for _, c := range on {
		if c.Val() {
			switch {
			case away.Val():
				return Away, nil
			case busy.Val():
				return Busy, nil
			}
			return Online, nil
		}
	}
	return Offline, nil
}

// Statuses returns every agent who is online or away, as the nodes' live
// entries say.
func (r *Redis) Statuses(ctx context.Context) (map[string]Status, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	nodes, err := r.client.SMembers(ctx, r.keys.nodes).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make(map[string]Status)
	if len(nodes) == 0 {
		return out, nil
	}
	keys := make([]string, len(nodes))
	for i, id := range nodes {
		keys[i] = r.keys.nodePrefix + id
	}
	pipe := r.client.Pipeline()
	online := pipe.SUnion(ctx, keys...)
	away := pipe.SMembers(ctx, r.keys.away)
	busy := pipe.SMembers(ctx, r.keys.busy)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err)
	}
	chosen := make(map[string]Status, len(away.Val())+len(busy.Val()))
	for _, a := range busy.Val() {
		chosen[a] = Busy
	}
	for _, a := range away.Val() {
		chosen[a] = Away // the script keeps the sets apart; away wins if not
	}
	for _, a := range online.Val() {
		out[a] = Online
		if s, ok := chosen[a]; ok {
			out[a] = s
		}
	}
	return out, nil
}

// OnlineCount returns how many agents were online and not away at this
// node's last sync: at most one refresh interval old.
func (r *Redis) OnlineCount() int { return int(r.online.Load()) }

// syncResult is what one run of the sync script decided.
type syncResult struct {
	changed map[string]Status // announced by this call
	current map[string]Status // every agent asked about
	failed  []change          // could not be published
}

// sync writes this node's entries when they changed (or always, when
// full) and announces what changed: for every agent when full, else for
// the agents changed here.
func (r *Redis) sync(ctx context.Context, full bool) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	r.ioMu.Lock()
	defer r.ioMu.Unlock()
	mode := "some"
	if full {
		mode = "all"
	}
	_, err := r.syncLocked(ctx, mode, nil)
	return err
}

// syncLocked runs the sync script in mode: "all" (every agent), "some"
// (the agents changed here and extra) or "online"/"away"/"busy" (extra[0]'s
// choice, recorded first).
func (r *Redis) syncLocked(ctx context.Context, mode string, extra []string) (syncResult, error) {
	full := mode == "all"
	dirty, online, changed := r.take()
	if changed || full {
		if err := r.writeNode(ctx, online); err != nil {
			// Put back what this sync took, so the next one (the final sync
			// of a draining node, or the next tick) still announces it.
			r.markChanged()
			r.remark(dirty)
			return syncResult{}, err
		}
	}
	agents := append(extra, dirty...)
	if !full && len(agents) == 0 {
		return syncResult{}, nil
	}
	args := make([]any, 0, 2+len(agents))
	args = append(args, r.keys.nodePrefix, mode)
	for _, a := range agents {
		args = append(args, a)
	}
	raw, err := syncScript.Run(ctx, r.client, []string{r.keys.nodes, r.keys.away, r.keys.status, r.keys.busy}, args...).Slice()
	if err != nil {
		r.remark(dirty)
		return syncResult{}, unavailable(err)
	}
	res, count, err := parseSync(raw)
	if err != nil {
		return syncResult{}, desk.Wrap(desk.EInternal, err, "read presence sync")
	}
	r.online.Store(count)
	var changes []change
	for a, s := range res.changed {
		changes = append(changes, change{a, s})
	}
	res.failed = announce(ctx, r.bus, r.opts.Log, changes)
	if len(res.failed) > 0 {
		// Whoever looks next announces these again.
		pipe := r.client.Pipeline()
		for _, c := range res.failed {
			pipe.HSet(ctx, r.keys.status, c.AgentID, "")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			r.opts.Log.Warn("presence mark unannounced failed", "error", err)
		}
	}
	if len(changes) > 0 {
		r.opts.OnChange()
	}
	if full {
		r.fulls.Add(1)
	}
	return res, nil
}

// writeNode replaces this node's set of agents and renews its lease; a
// node with no agents removes its entries instead.
func (r *Redis) writeNode(ctx context.Context, agents []string) error {
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.keys.node)
		if len(agents) == 0 {
			p.SRem(ctx, r.keys.nodes, r.opts.NodeID)
			return nil
		}
		members := make([]any, len(agents))
		for i, a := range agents {
			members[i] = a
		}
		p.SAdd(ctx, r.keys.node, members...)
		p.PExpire(ctx, r.keys.node, ttlIntervals*r.opts.RefreshInterval)
		p.SAdd(ctx, r.keys.nodes, r.opts.NodeID)
		return nil
	})
	return unavailable(err)
}

// syncScript decides, atomically, which agents' statuses changed since they
// were last announced, records the new ones, and drops expired nodes from
// the registry. It reads the node keys it finds in the registry, which is
// why the keys must share a hash slot in Redis Cluster.
//
// KEYS: nodes registry, away set, status hash, busy set. ARGV: node key
// prefix, the mode ("all", "some", or "away"/"busy"/"online": the choice of the first agent
// listed, recorded before anything is judged), then the agents to judge
// unless "all".
// Returns {online count, {agent, status, …} changed, {agent, status, …}
// for each agent asked about}.
var syncScript = redis.NewScript(`
local nodes, away, announced, busy = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if ARGV[2] == 'away' then
  redis.call('SADD', away, ARGV[3])
  redis.call('SREM', busy, ARGV[3])
elseif ARGV[2] == 'busy' then
  redis.call('SADD', busy, ARGV[3])
  redis.call('SREM', away, ARGV[3])
elseif ARGV[2] == 'online' then
  redis.call('SREM', away, ARGV[3])
  redis.call('SREM', busy, ARGV[3])
end
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', nodes)) do
  local key = ARGV[1] .. id
  if redis.call('EXISTS', key) == 1 then
    live[#live + 1] = key
  else
    redis.call('SREM', nodes, id)
  end
end
local agents = {}
if ARGV[2] == 'all' then
  local seen = {}
  if #live > 0 then
    for _, a in ipairs(redis.call('SUNION', unpack(live))) do
      seen[a] = true
      agents[#agents + 1] = a
    end
  end
  for _, a in ipairs(redis.call('HKEYS', announced)) do
    if not seen[a] then agents[#agents + 1] = a end
  end
else
  for i = 3, #ARGV do agents[#agents + 1] = ARGV[i] end
end
local changed, current = {}, {}
for _, a in ipairs(agents) do
  local status = 'offline'
  for _, key in ipairs(live) do
    if redis.call('SISMEMBER', key, a) == 1 then
      status = 'online'
      break
    end
  end
  if status == 'online' then
    if redis.call('SISMEMBER', away, a) == 1 then
      status = 'away'
    elseif redis.call('SISMEMBER', busy, a) == 1 then
      status = 'busy'
    end
  end
  local prev = redis.call('HGET', announced, a) or 'offline'
  if status ~= prev then
    if status == 'offline' then
      redis.call('HDEL', announced, a)
    else
      redis.call('HSET', announced, a, status)
    end
    changed[#changed + 1] = a
    changed[#changed + 1] = status
  end
  if ARGV[2] ~= 'all' then
    current[#current + 1] = a
    current[#current + 1] = status
  end
end
local count = 0
for _, s in ipairs(redis.call('HVALS', announced)) do
  if s == 'online' then count = count + 1 end
end
return {count, changed, current}
`)

func parseSync(raw []any) (syncResult, int64, error) {
	if len(raw) != 3 {
		return syncResult{}, 0, fmt.Errorf("sync script returned %d values", len(raw))
	}
	count, ok := raw[0].(int64)
	if !ok {
		return syncResult{}, 0, errors.New("sync script returned no count")
	}
	changed, err := pairs(raw[1])
	if err != nil {
		return syncResult{}, 0, err
	}
	current, err := pairs(raw[2])
	if err != nil {
		return syncResult{}, 0, err
	}
	return syncResult{changed: changed, current: current}, count, nil
}

// pairs reads a flat {agent, status, …} array.
func pairs(v any) (map[string]Status, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("sync script returned %T, want pairs", v)
	}
	out := make(map[string]Status, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		a, ok1 := flat[i].(string)
		s, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return nil, errors.New("sync script returned a non-string pair")
		}
		out[a] = Status(s)
	}
	return out, nil
}

// unavailable reports any failure of Redis itself as EUnavailable.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return desk.Wrap(desk.EUnavailable, err, "presence unavailable")
}
