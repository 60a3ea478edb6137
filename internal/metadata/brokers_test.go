package metadata

import (
	"errors"
	"reflect"
	"testing"
)

func register(id int32, epoch int64, rack string) Record {
	return Record{Type: TypeRegisterBroker, Broker: &BrokerRecord{
		ID: id, Epoch: epoch, IncarnationID: NewIncarnationID(), Rack: rack, Fenced: true,
		Endpoints: []Endpoint{
			{Listener: "PLAINTEXT", Host: "localhost", Port: 9092 + id},
			{Listener: "INTERNAL", Host: "10.0.0.1", Port: 19092 + id, SecurityProtocol: ProtocolSSL},
		},
	}}
}

func change(id int32, epoch int64, fencing, shutdown int8) Record {
	return Record{Type: TypeBrokerRegistrationChange, Broker: &BrokerRecord{ID: id, Epoch: epoch, FencingChange: fencing, ControlledShutdownChange: shutdown}}
}

func TestImageBrokers(t *testing.T) {
	im, err := Empty.Apply([]Record{register(2, 1, "b"), register(1, 1, "a")})
	if err != nil {
		t.Fatal(err)
	}
	bs := im.Brokers()
	if len(bs) != 2 || bs[0].ID != 1 || bs[1].ID != 2 || im.NumBrokers() != 2 {
		t.Fatalf("brokers %+v", bs)
	}
	b1, _ := im.Broker(1)
	if !b1.Fenced || b1.Active() || b1.Rack != "a" || b1.Epoch != 1 {
		t.Fatalf("broker 1 %+v", b1)
	}
	if b1.Endpoints[0].Listener != "INTERNAL" {
		t.Fatalf("endpoints not sorted by listener: %+v", b1.Endpoints)
	}
	if ep, ok := b1.Endpoint("PLAINTEXT"); !ok || ep.Port != 9093 || ep.Host != "localhost" {
		t.Fatalf("PLAINTEXT endpoint %+v %v", ep, ok)
	}
	if _, ok := b1.Endpoint("NOPE"); ok {
		t.Fatal("endpoint of an unknown listener")
	}

	unfenced, err := im.Apply([]Record{change(1, 1, FencingUnfence, ControlledShutdownNoChange)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := unfenced.Broker(1); !b.Active() {
		t.Fatalf("not unfenced: %+v", b)
	}
	if b, _ := im.Broker(1); !b.Fenced {
		t.Fatal("unfencing changed the previous image")
	}
	shutting, err := unfenced.Apply([]Record{change(1, 1, FencingNoChange, ControlledShutdownEnter)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := shutting.Broker(1); b.Fenced || !b.InControlledShutdown || b.Active() {
		t.Fatalf("controlled shutdown: %+v", b)
	}
	// Fencing ends controlled shutdown.
	fenced, err := shutting.Apply([]Record{change(1, 1, FencingFence, ControlledShutdownNoChange)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := fenced.Broker(1); !b.Fenced || b.InControlledShutdown {
		t.Fatalf("fenced: %+v", b)
	}
	// A re-registration replaces the registration.
	again, err := fenced.Apply([]Record{register(1, 7, "c")})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := again.Broker(1); b.Epoch != 7 || b.Rack != "c" || !b.Fenced {
		t.Fatalf("re-registered: %+v", b)
	}
	gone, err := again.Apply([]Record{{Type: TypeUnregisterBroker, Broker: &BrokerRecord{ID: 1, Epoch: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gone.Broker(1); ok || gone.NumBrokers() != 1 {
		t.Fatal("not unregistered")
	}
	if _, ok := again.Broker(1); !ok {
		t.Fatal("unregistering changed the previous image")
	}
}

func TestImageBrokerRejects(t *testing.T) {
	base, err := Empty.Apply([]Record{register(1, 3, "")})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		rec  Record
		want error
	}{
		"change of unknown broker":   {change(9, 3, FencingUnfence, 0), ErrUnknownBroker},
		"change at stale epoch":      {change(1, 2, FencingUnfence, 0), ErrBrokerEpochChanged},
		"unregister at stale epoch":  {Record{Type: TypeUnregisterBroker, Broker: &BrokerRecord{ID: 1, Epoch: 4}}, ErrBrokerEpochChanged},
		"unregister unknown":         {Record{Type: TypeUnregisterBroker, Broker: &BrokerRecord{ID: 2, Epoch: 3}}, ErrUnknownBroker},
		"bad fencing value":          {change(1, 3, 5, 0), nil},
		"fenced into shutdown":       {change(1, 3, FencingNoChange, ControlledShutdownEnter), nil},
		"no broker fields":           {Record{Type: TypeRegisterBroker}, nil},
		"negative broker id":         {register(-1, 1, ""), nil},
		"bad controlled shutdown":    {change(1, 3, FencingUnfence, 2), nil},
		"unregister without payload": {Record{Type: TypeUnregisterBroker}, nil},
	} {
		_, err := base.Apply([]Record{tc.rec})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

func TestPartitionChangeReassignmentFields(t *testing.T) {
	id := NewTopicID()
	im, err := Empty.Apply([]Record{
		{Type: TypeTopic, TopicName: "t", TopicID: id},
		{Type: TypePartition, TopicID: id, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, AddingReplicas: []int32{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := im.Topic("t")
	if tp.Partitions[0].AddingReplicas != nil || tp.Partitions[0].Reassigning() {
		t.Fatal("an empty AddingReplicas is a reassignment")
	}
	started, err := im.Apply([]Record{{Type: TypePartitionChg, TopicID: id, Leader: 1, PartitionEpoch: 1,
		Replicas: []int32{3, 2, 1}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{1}}})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ = started.Topic("t")
	p := tp.Partitions[0]
	if !p.Reassigning() || !reflect.DeepEqual(p.Replicas, []int32{3, 2, 1}) || p.PreferredLeader() != 3 {
		t.Fatalf("started: %+v", p)
	}
	// nil leaves the reassignment alone; empty clears it.
	kept, err := started.Apply([]Record{{Type: TypePartitionChg, TopicID: id, Leader: 1, PartitionEpoch: 2, ISR: []int32{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ = kept.Topic("t")
	if !tp.Partitions[0].Reassigning() || !tp.Partitions[0].InISR(3) {
		t.Fatalf("nil cleared the reassignment: %+v", tp.Partitions[0])
	}
	done, err := kept.Apply([]Record{{Type: TypePartitionChg, TopicID: id, Leader: 3, LeaderEpoch: 1, PartitionEpoch: 3,
		Replicas: []int32{3, 2}, ISR: []int32{2, 3}, AddingReplicas: []int32{}, RemovingReplicas: []int32{}}})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ = done.Topic("t")
	if p := tp.Partitions[0]; p.Reassigning() || p.Leader != 3 || p.LeaderEpoch != 1 || !reflect.DeepEqual(p.Replicas, []int32{3, 2}) {
		t.Fatalf("completed: %+v", p)
	}
	// A change planned against an older partition epoch is refused.
	if _, err := done.Apply([]Record{{Type: TypePartitionChg, TopicID: id, Leader: 3, PartitionEpoch: 3}}); err == nil {
		t.Fatal("stale partition change applied")
	}
}

// TestBrokerRecordsRoundTrip checks that the journal's JSON keeps every
// field, and keeps an empty AddingReplicas (clear) apart from a nil one
// (no change).
func TestBrokerRecordsRoundTrip(t *testing.T) {
	id := NewTopicID()
	batch := []Record{
		register(4, 12, "r1"),
		change(4, 12, FencingUnfence, ControlledShutdownEnter),
		{Type: TypeUnregisterBroker, Broker: &BrokerRecord{ID: 4, Epoch: 12}},
		{Type: TypePartitionChg, TopicID: id, Partition: 2, Leader: -1, LeaderEpoch: 4, PartitionEpoch: 9,
			AddingReplicas: []int32{}, RemovingReplicas: []int32{5}},
		{Type: TypePartitionChg, TopicID: id, Partition: 2, Leader: 3, PartitionEpoch: 10},
	}
	b, err := encodeRecords(batch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, batch) {
		t.Fatalf("round trip:\n got %+v\nwant %+v\njson %s", got, batch, b)
	}
	if got[3].AddingReplicas == nil || got[4].AddingReplicas != nil {
		t.Fatal("empty and nil AddingReplicas not kept apart")
	}
}

func TestBrokerRecordRecreates(t *testing.T) {
	im, err := Empty.Apply([]Record{register(1, 4, "a"), register(2, 5, ""),
		change(1, 4, FencingUnfence, ControlledShutdownNoChange),
		change(1, 4, FencingNoChange, ControlledShutdownEnter)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for _, b := range im.Brokers() {
		recs = append(recs, b.Record())
	}
	again, err := Empty.Apply(recs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Brokers(), im.Brokers()) {
		t.Fatalf("recreated %+v, want %+v", again.Brokers(), im.Brokers())
	}
}
