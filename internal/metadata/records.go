package metadata

import (
	"encoding/json"
	"fmt"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

// RecordType names the kind of a metadata Record, after Kafka's
// metadata record types.
type RecordType string

// Metadata record types.
const (
	TypeTopic        RecordType = "TopicRecord"
	TypePartition    RecordType = "PartitionRecord"
	TypeRemoveTopic  RecordType = "RemoveTopicRecord"
	TypeConfig       RecordType = "ConfigRecord"
	TypePartitionChg RecordType = "PartitionChangeRecord"
	// TypeProducerIDs records a block of producer ids handed to a broker
	// (Kafka's ProducerIdsRecord, KIP-730): ids below NextProducerID are
	// taken, so none is ever given twice, across controller failovers
	// and restarts.
	TypeProducerIDs RecordType = "ProducerIdsRecord"
	// TypeUserScramCredential sets a user's SCRAM credential for one
	// mechanism and TypeRemoveUserScramCredential removes it (Kafka's
	// UserScramCredentialRecord and RemoveUserScramCredentialRecord,
	// KIP-554; scram.go).
	TypeUserScramCredential       RecordType = "UserScramCredentialRecord"
	TypeRemoveUserScramCredential RecordType = "RemoveUserScramCredentialRecord"
	// TypeDelegationToken sets a delegation token and
	// TypeRemoveDelegationToken removes it (Kafka's DelegationTokenRecord
	// and RemoveDelegationTokenRecord, KIP-48; delegation_tokens.go).
	TypeDelegationToken       RecordType = "DelegationTokenRecord"
	TypeRemoveDelegationToken RecordType = "RemoveDelegationTokenRecord"
	// TypeClientQuota sets or removes a client quota config (Kafka's
	// ClientQuotaRecord, KIP-546; quotas.go).
	TypeClientQuota RecordType = "ClientQuotaRecord"
)

// Config resource types, as Kafka's ConfigResource.Type.
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
)

// Record is one metadata change. Exactly the fields of its Type are set.
type Record struct {
	Type RecordType `json:"type"`

	// TopicRecord, RemoveTopicRecord, PartitionRecord.
	TopicName string  `json:"topicName,omitempty"`
	TopicID   TopicID `json:"topicId,omitzero"`

	// PartitionRecord and PartitionChangeRecord.
	Partition      int32   `json:"partition,omitempty"`
	Replicas       []int32 `json:"replicas,omitempty"`
	ISR            []int32 `json:"isr,omitempty"`
	Leader         int32   `json:"leader,omitempty"`
	LeaderEpoch    int32   `json:"leaderEpoch,omitempty"`
	PartitionEpoch int32   `json:"partitionEpoch,omitempty"`
	// AddingReplicas and RemovingReplicas track a reassignment (KIP-455).
	// In a PartitionChangeRecord nil leaves them unchanged and an empty,
	// non-nil slice clears them (omitzero keeps the two apart in JSON).
	AddingReplicas   []int32 `json:"addingReplicas,omitzero"`
	RemovingReplicas []int32 `json:"removingReplicas,omitzero"`

	// RegisterBrokerRecord, UnregisterBrokerRecord and
	// BrokerRegistrationChangeRecord (brokers.go).
	Broker *BrokerRecord `json:"broker,omitempty"`

	// ProducerIdsRecord.
	ProducerIDs *ProducerIDsRecord `json:"producerIds,omitempty"`

	// UserScramCredentialRecord and RemoveUserScramCredentialRecord.
	Scram *ScramCredentialRecord `json:"scram,omitempty"`

	// DelegationTokenRecord and RemoveDelegationTokenRecord
	// (delegation_tokens.go).
	DelegationToken *DelegationTokenRecord `json:"delegationToken,omitempty"`

	// ClientQuotaRecord (quotas.go).
	ClientQuota *ClientQuotaRecord `json:"clientQuota,omitempty"`

	// AccessControlEntryRecord and RemoveAccessControlEntryRecord
	// (acls.go).
	ACL *ACLRecord `json:"acl,omitempty"`

	// FeatureLevelRecord (features.go).
	Feature *FeatureLevelRecord `json:"feature,omitempty"`

	// ConfigRecord. A nil Value removes the config.
	ResourceType int8    `json:"resourceType,omitempty"`
	ResourceName string  `json:"resourceName,omitempty"`
	Name         string  `json:"name,omitempty"`
	Value        *string `json:"value,omitempty"`
}

// ProducerIDsRecord carries the fields of Kafka's ProducerIdsRecord: the
// broker (and its epoch) a block of producer ids went to, and the first
// id of the next block. Snapshots write it with BrokerID and BrokerEpoch
// -1.
type ProducerIDsRecord struct {
	BrokerID       int32 `json:"brokerId"`
	BrokerEpoch    int64 `json:"brokerEpoch"`
	NextProducerID int64 `json:"nextProducerId"`
}

// TopicID is a topic's Kafka Uuid.
type TopicID [16]byte

// String formats the id as Kafka does: URL-safe base64 without padding.
func (id TopicID) String() string { return uuid.Format(id) }

// IsZero reports whether the id is Kafka's ZERO_UUID.
func (id TopicID) IsZero() bool { return id == TopicID{} }

// MarshalText implements encoding.TextMarshaler.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *TopicID) UnmarshalText(b []byte) error {
	v, err := ParseTopicID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

func encodeRecords(recs []Record) ([]byte, error) {
	b, err := json.Marshal(recs)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode records: %w", err)
	}
	return b, nil
}

func decodeRecords(b []byte) ([]Record, error) {
	var recs []Record
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("metadata: decode records: %w", err)
	}
	return recs, nil
}
