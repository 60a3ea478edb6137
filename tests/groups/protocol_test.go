package groups

import (
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// findCoordinator looks a group up at v0 until the broker answers with a
// coordinator (the first lookup creates __consumer_offsets).
func (e *env) findCoordinator(group string) *kmsg.FindCoordinatorResponse {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorKey = 1, group
		resp := e.raw(req).(*kmsg.FindCoordinatorResponse)
		if resp.ErrorCode == 0 || time.Now().After(deadline) {
			return resp
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Reference: KafkaApis.getCoordinator: a missing __consumer_offsets is
// created and COORDINATOR_NOT_AVAILABLE answered; v4+ answer each key
// (KIP-699, franz-go's TestIssue1034).
func TestFindCoordinator(t *testing.T) {
	t.Parallel()
	e := start(t)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = 0, "g"
	resp := e.raw(req).(*kmsg.FindCoordinatorResponse)
	wantCode(t, "first lookup", resp.ErrorCode, kerr.CoordinatorNotAvailable)
	if resp.NodeID != -1 || resp.Host != "" || resp.Port != -1 {
		t.Errorf("first lookup answered node %d %s:%d, want Kafka's no node", resp.NodeID, resp.Host, resp.Port)
	}

	resp = e.findCoordinator("g")
	wantCode(t, "lookup", resp.ErrorCode, nil)
	host, port := splitAddr(t, e.c.Addr())
	if resp.NodeID != 1 || resp.Port != port || resp.Host != host && resp.Host != "localhost" {
		t.Errorf("coordinator %d at %s:%d, broker at %s", resp.NodeID, resp.Host, resp.Port, e.c.Addr())
	}
	if resp.ErrorMessage == nil || *resp.ErrorMessage != "NONE" {
		t.Errorf("v1 error message %v, want Kafka's \"NONE\"", resp.ErrorMessage)
	}

	req = kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKeys = 4, []string{"foo", "bar", "biz"}
	r4 := e.raw(req).(*kmsg.FindCoordinatorResponse)
	if len(r4.Coordinators) != 3 {
		t.Fatalf("batched lookup answered %d keys", len(r4.Coordinators))
	}
	for i, c := range r4.Coordinators {
		if c.Key != req.CoordinatorKeys[i] || c.ErrorCode != 0 || c.NodeID != 1 {
			t.Errorf("batched key %d: %+v", i, c)
		}
	}

	// No transaction coordinator yet: Kafka answers this way while
	// __transaction_state does not exist.
	req = kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorType, req.CoordinatorKeys = 4, 1, []string{"txn"}
	r4 = e.raw(req).(*kmsg.FindCoordinatorResponse)
	wantCode(t, "transaction coordinator", r4.Coordinators[0].ErrorCode, kerr.CoordinatorNotAvailable)
}

func splitAddr(t *testing.T, addr string) (string, int32) {
	t.Helper()
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			if err != nil {
				t.Fatal(err)
			}
			return addr[:i], int32(p)
		}
	}
	t.Fatalf("bad address %s", addr)
	return "", 0
}

func joinRequest(version int16, group, member string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID = version, group, member
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	return req
}

// Reference: KIP-394 (v4+ MEMBER_ID_REQUIRED) and the JoinGroup checks of
// GroupCoordinatorService: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT.
func TestJoinGroupVersions(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.findCoordinator("g")

	r := e.raw(joinRequest(3, "v3", "")).(*kmsg.JoinGroupResponse)
	wantCode(t, "v3 join", r.ErrorCode, nil)
	if r.MemberID == "" || r.Generation != 1 || r.LeaderID != r.MemberID || len(r.Members) != 1 || r.Protocol == nil || *r.Protocol != "range" {
		t.Fatalf("v3 join without member id: %+v", r)
	}

	r = e.raw(joinRequest(4, "v4", "")).(*kmsg.JoinGroupResponse)
	wantCode(t, "v4 first join", r.ErrorCode, kerr.MemberIDRequired)
	if r.MemberID == "" || r.Generation != -1 {
		t.Fatalf("MEMBER_ID_REQUIRED answer %+v", r)
	}
	r = e.raw(joinRequest(9, "v4", r.MemberID)).(*kmsg.JoinGroupResponse)
	wantCode(t, "v9 join with the id", r.ErrorCode, nil)
	if r.ProtocolType == nil || *r.ProtocolType != "consumer" || r.SkipAssignment {
		t.Fatalf("v9 join %+v", r)
	}

	bad := joinRequest(5, "", "")
	wantCode(t, "empty group id", e.raw(bad).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidGroupID)
	bad = joinRequest(5, "x", "")
	bad.SessionTimeoutMillis = 10
	wantCode(t, "session timeout below group.min.session.timeout.ms", e.raw(bad).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidSessionTimeout)
	bad = joinRequest(5, "v4", "")
	bad.ProtocolType = "connect"
	wantCode(t, "other protocol type", e.raw(bad).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version, sync.Group, sync.MemberID, sync.Generation = 5, "v4", r.MemberID, r.Generation
	wantCode(t, "v5 sync without protocol", e.raw(sync).(*kmsg.SyncGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	pt, pn := "consumer", "range"
	sync.ProtocolType, sync.Protocol = &pt, &pn
	sr := e.raw(sync).(*kmsg.SyncGroupResponse)
	wantCode(t, "v5 sync", sr.ErrorCode, nil)
	if sr.Protocol == nil || *sr.Protocol != "range" || len(sr.MemberAssignment) != 0 {
		t.Fatalf("sync %+v", sr)
	}

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 0, "v4", r.MemberID, r.Generation
	wantCode(t, "heartbeat", e.raw(hb).(*kmsg.HeartbeatResponse).ErrorCode, nil)
	hb.Generation++
	wantCode(t, "heartbeat of another generation", e.raw(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.IllegalGeneration)

	// LeaveGroup before v3 folds the member's error into the top level.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group, lv.MemberID = 0, "v4", "nobody"
	wantCode(t, "v0 leave of an unknown member", e.raw(lv).(*kmsg.LeaveGroupResponse).ErrorCode, kerr.UnknownMemberID)
	lv = kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group = 5, "v4"
	for _, id := range []string{"nobody", r.MemberID} {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		lv.Members = append(lv.Members, m)
	}
	lr := e.raw(lv).(*kmsg.LeaveGroupResponse)
	if lr.ErrorCode != 0 || len(lr.Members) != 2 || lr.Members[0].ErrorCode != kerr.UnknownMemberID.Code || lr.Members[1].ErrorCode != 0 {
		t.Fatalf("v5 batched leave %+v", lr)
	}
	lv.Group = "missing"
	wantCode(t, "leave of a missing group", e.raw(lv).(*kmsg.LeaveGroupResponse).ErrorCode, kerr.UnknownMemberID)
}

// Reference: KIP-1043: DescribeGroups v6 answers GROUP_ID_NOT_FOUND for
// a group that does not exist; earlier versions describe it as Dead.
func TestDescribeAndListVersions(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.findCoordinator("g")
	e.raw(joinRequest(3, "live", ""))

	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Version, d.Groups, d.IncludeAuthorizedOperations = 5, []string{"missing", "live"}, true
	dr := e.raw(d).(*kmsg.DescribeGroupsResponse)
	if g := dr.Groups[0]; g.ErrorCode != 0 || g.State != "Dead" {
		t.Errorf("v5 missing group %+v", g)
	}
	if g := dr.Groups[1]; g.ErrorCode != 0 || g.State != "CompletingRebalance" || len(g.Members) != 1 || g.AuthorizedOperations != 1<<3|1<<6|1<<8|1<<10|1<<11 {
		t.Errorf("v5 live group %+v", g)
	}
	d.Version = 6
	dr = e.raw(d).(*kmsg.DescribeGroupsResponse)
	if g := dr.Groups[0]; g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil {
		t.Errorf("v6 missing group %+v", g)
	}

	l := kmsg.NewPtrListGroupsRequest()
	l.Version = 4
	l.StatesFilter = []string{"completingrebalance"}
	lr := e.raw(l).(*kmsg.ListGroupsResponse)
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "live" || lr.Groups[0].GroupState != "CompletingRebalance" {
		t.Errorf("v4 list by state %+v", lr.Groups)
	}
	l.Version, l.StatesFilter, l.TypesFilter = 5, nil, []string{"consumer"}
	if lr = e.raw(l).(*kmsg.ListGroupsResponse); len(lr.Groups) != 0 {
		t.Errorf("v5 list of consumer (KIP-848) groups %+v", lr.Groups)
	}
	l.TypesFilter = []string{"classic"}
	if lr = e.raw(l).(*kmsg.ListGroupsResponse); len(lr.Groups) != 1 || lr.Groups[0].GroupType != "classic" {
		t.Errorf("v5 list of classic groups %+v", lr.Groups)
	}
}

// OffsetCommit and OffsetFetch at their first and last versions:
// retention_time_ms (v2-4), unknown topics, topic ids (v10), several
// groups per fetch (v8+), fetching everything (null topics, v2+).
func TestOffsetVersions(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.findCoordinator("g")
	e.createTopic("o", 2)
	md, err := e.adm.ListTopics(e.ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	id := md["o"].ID

	c := kmsg.NewPtrOffsetCommitRequest()
	c.Version, c.Group, c.Generation, c.RetentionTimeMillis = 2, "s", -1, 60000
	for _, topic := range []string{"o", "nope"} {
		ct := kmsg.NewOffsetCommitRequestTopic()
		ct.Topic = topic
		for p := range int32(3) {
			cp := kmsg.NewOffsetCommitRequestTopicPartition()
			cp.Partition, cp.Offset = p, int64(10+p)
			ct.Partitions = append(ct.Partitions, cp)
		}
		c.Topics = append(c.Topics, ct)
	}
	cr := e.raw(c).(*kmsg.OffsetCommitResponse)
	want := [][]*kerr.Error{{nil, nil, kerr.UnknownTopicOrPartition}, {kerr.UnknownTopicOrPartition, kerr.UnknownTopicOrPartition, kerr.UnknownTopicOrPartition}}
	for i, t2 := range cr.Topics {
		for j, p := range t2.Partitions {
			wantCode(t, "v2 commit "+t2.Topic+"-"+strconv.Itoa(int(p.Partition)), p.ErrorCode, want[i][j])
		}
	}

	c10 := kmsg.NewPtrOffsetCommitRequest()
	c10.Version, c10.Group, c10.Generation = 10, "s", -1
	for _, tid := range [][16]byte{id, {1}} {
		ct := kmsg.NewOffsetCommitRequestTopic()
		ct.TopicID = tid
		cp := kmsg.NewOffsetCommitRequestTopicPartition()
		cp.Partition, cp.Offset, cp.LeaderEpoch = 1, 99, 0
		ct.Partitions = append(ct.Partitions, cp)
		c10.Topics = append(c10.Topics, ct)
	}
	cr = e.raw(c10).(*kmsg.OffsetCommitResponse)
	if cr.Topics[0].TopicID != id || cr.Topics[0].Partitions[0].ErrorCode != 0 || cr.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("v10 commit %+v", cr.Topics)
	}

	// v1: one group, partitions named.
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version, f.Group = 1, "s"
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = "o", []int32{0, 1}
	f.Topics = []kmsg.OffsetFetchRequestTopic{ft}
	fr := e.raw(f).(*kmsg.OffsetFetchResponse)
	if ps := fr.Topics[0].Partitions; ps[0].Offset != 10 || ps[1].Offset != 99 {
		t.Fatalf("v1 fetch %+v", ps)
	}
	// v5: null topics fetch everything, with leader epochs.
	f.Version, f.Topics = 5, nil
	fr = e.raw(f).(*kmsg.OffsetFetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 2 || fr.Topics[0].Partitions[1].LeaderEpoch != 0 || fr.Topics[0].Partitions[0].LeaderEpoch != -1 {
		t.Fatalf("v5 fetch all %+v", fr.Topics)
	}
	// v10: several groups, topics by id.
	f10 := kmsg.NewPtrOffsetFetchRequest()
	f10.Version = 10
	for _, g := range []string{"s", "none"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.TopicID, gt.Partitions = id, []int32{1}
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
		f10.Groups = append(f10.Groups, rg)
	}
	fr = e.raw(f10).(*kmsg.OffsetFetchResponse)
	if len(fr.Groups) != 2 || fr.Groups[0].Topics[0].TopicID != id || fr.Groups[0].Topics[0].Partitions[0].Offset != 99 || fr.Groups[1].Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("v10 fetch %+v", fr.Groups)
	}

	// OffsetDelete of a missing group.
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "none"
	wantCode(t, "offset delete of a missing group", e.raw(od).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.GroupIDNotFound)
}
