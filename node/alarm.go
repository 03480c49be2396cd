package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"etcq.dev/etcq/storage"
)

// Alarms are replicated state (aux alarms/<member>/<type>), raised and cleared through
// raft, so every member refuses the same requests at the same point of the log.
//
// NOSPACE: each member watches its own store. When the bytes in use pass
// Config.QuotaBackendBytes it raises a NOSPACE alarm for itself; while any NOSPACE alarm is
// raised the cluster takes no puts (alone or in a txn) and no lease grants — deletes,
// compaction, defragmentation and lease revokes still work, so an operator can make room.
// Once the member's bytes in use fall below 90% of the quota (keys deleted and the history
// compacted), it clears its alarm itself; etcd leaves that to the operator (`alarm
// disarm`), which still works too.
const auxAlarms = "alarms/"

// AlarmType is a kind of alarm; the numbering is etcd's.
type AlarmType uint8

// The alarm types.
const (
	AlarmNone    AlarmType = 0
	AlarmNoSpace AlarmType = 1
	AlarmCorrupt AlarmType = 2
)

func (t AlarmType) String() string {
	switch t {
	case AlarmNoSpace:
		return "NOSPACE"
	case AlarmCorrupt:
		return "CORRUPT"
	}
	return fmt.Sprintf("AlarmType(%d)", uint8(t))
}

// Alarm is one raised alarm.
type Alarm struct {
	Member uint64
	Type   AlarmType
}

// alarmOp raises (Activate) or clears an alarm; Member 0 or Type 0 in a clear match all.
type alarmOp struct {
	Activate bool
	Member   uint64
	Type     AlarmType
}

func alarmKey(a Alarm) string { return fmt.Sprintf("%s%016x/%d", auxAlarms, a.Member, a.Type) }

// alarms is the member's copy of the replicated alarm set. The apply goroutine changes it.
type alarms struct {
	mu      sync.Mutex
	set     map[Alarm]bool
	noSpace atomic.Bool
}

func (as *alarms) load(s *storage.Store) error {
	keys, _ := s.AuxPrefix(auxAlarms)
	set := make(map[Alarm]bool, len(keys))
	for _, k := range keys {
		var a Alarm
		if _, err := fmt.Sscanf(strings.TrimPrefix(k, auxAlarms), "%016x/%d", &a.Member, &a.Type); err != nil {
			return fmt.Errorf("node: alarm record %q: %w", k, err)
		}
		set[a] = true
	}
	as.mu.Lock()
	as.set = set
	as.refreshLocked()
	as.mu.Unlock()
	return nil
}

func (as *alarms) refreshLocked() {
	noSpace := false
	for a := range as.set {
		noSpace = noSpace || a.Type == AlarmNoSpace
	}
	as.noSpace.Store(noSpace)
}

func (as *alarms) list() []Alarm {
	as.mu.Lock()
	defer as.mu.Unlock()
	out := make([]Alarm, 0, len(as.set))
	for a := range as.set {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Alarm) int {
		if a.Member != b.Member {
			if a.Member < b.Member {
				return -1
			}
			return 1
		}
		return int(a.Type) - int(b.Type)
	})
	return out
}

func (as *alarms) has(a Alarm) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.set[a]
}

// apply raises or clears alarms in the session and returns the alarms it changed.
func (as *alarms) apply(w *storage.Write, op *alarmOp) []Alarm {
	as.mu.Lock()
	defer as.mu.Unlock()
	var changed []Alarm
	if op.Activate {
		a := Alarm{Member: op.Member, Type: op.Type}
		if !as.set[a] && a.Member != 0 && a.Type != AlarmNone {
			as.set[a] = true
			w.SetAux(alarmKey(a), []byte{1})
			changed = append(changed, a)
		}
	} else {
		for a := range as.set {
			if (op.Member == 0 || op.Member == a.Member) && (op.Type == AlarmNone || op.Type == a.Type) {
				delete(as.set, a)
				w.SetAux(alarmKey(a), nil)
				changed = append(changed, a)
			}
		}
	}
	as.refreshLocked()
	return changed
}

// checkSpace refuses, while a NOSPACE alarm is raised, the requests that make the store
// grow: puts, txns with a put on either branch, lease grants.
func (m *Member) checkSpace(r *request) error {
	if !m.alarms.noSpace.Load() {
		return nil
	}
	switch {
	case r.Op == opPut, r.Op == opLeaseGrant, r.Op == opTxn && r.Txn != nil && txnPuts(r.Txn):
		return fmt.Errorf("%w: a NOSPACE alarm is raised; delete keys and compact (the alarm clears itself once the store is below its quota)", ErrNoSpace)
	}
	return nil
}

func txnPuts(t *storage.TxnRequest) bool {
	for _, branch := range [][]storage.RequestOp{t.Success, t.Failure} {
		for _, op := range branch {
			if op.Put != nil || op.Txn != nil && txnPuts(op.Txn) {
				return true
			}
		}
	}
	return false
}

// Alarms lists the raised alarms, as of a linearizable read.
func (m *Member) Alarms(ctx context.Context) ([]Alarm, error) {
	if err := m.linearizableWait(ctx); err != nil {
		return nil, err
	}
	return m.alarms.list(), nil
}

// SetAlarm raises (activate) or clears alarms through raft and returns the alarms the
// change touched. Clearing with member 0 or type AlarmNone matches every member or type.
func (m *Member) SetAlarm(ctx context.Context, activate bool, member uint64, typ AlarmType) ([]Alarm, error) {
	r, err := m.submitPriority(ctx, &request{Op: opAlarm, Alarm: &alarmOp{Activate: activate, Member: member, Type: typ}})
	if err != nil {
		return nil, err
	}
	return r.([]Alarm), nil
}

// quotaLoop raises this member's NOSPACE alarm when its store passes the quota, and
// clears it once the store is back below 90% of it.
func (m *Member) quotaLoop() {
	defer m.wg.Done()
	quota := m.cfg.QuotaBackendBytes
	t := time.NewTicker(m.cfg.QuotaCheckInterval)
	defer t.Stop()
	self := Alarm{Member: m.id, Type: AlarmNoSpace}
	for {
		select {
		case <-m.stopC:
			return
		case <-t.C:
		}
		_, inUse := m.store.Size()
		raised := m.alarms.has(self)
		var activate bool
		switch {
		case !raised && inUse > quota:
			activate = true
			m.log.Warn("store passed its quota; raising NOSPACE", "in_use", inUse, "quota", quota)
		case raised && inUse < quota/10*9:
			m.log.Info("store back under its quota; clearing NOSPACE", "in_use", inUse, "quota", quota)
		default:
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.electionTimeout()+time.Second)
		if _, err := m.SetAlarm(ctx, activate, m.id, AlarmNoSpace); err != nil {
			m.log.Debug("alarm change not applied; will retry", "err", err)
		}
		cancel()
	}
}
