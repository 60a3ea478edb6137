package group

// Requests and responses of the group APIs, in Kafka's terms. The server
// translates the wire messages (every version) to and from these; error
// codes are Kafka's (kerr codes), 0 for none.

// Protocol is one protocol a JoinGroup member supports, with its metadata
// (for consumers, the serialized subscription).
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group              string
	MemberID           string
	InstanceID         *string
	ProtocolType       string
	Protocols          []Protocol
	SessionTimeoutMs   int32
	RebalanceTimeoutMs int32
	Reason             *string
	// ClientID and ClientHost identify the connection ("/127.0.0.1").
	ClientID   string
	ClientHost string
	// RequireKnownMemberID: JoinGroup v4+ answers a dynamic member
	// without an id MEMBER_ID_REQUIRED with one (KIP-394).
	RequireKnownMemberID bool
	// SupportsSkipAssignment: JoinGroup v9+ (KIP-814).
	SupportsSkipAssignment bool
}

// JoinResponse is a JoinGroup response.
type JoinResponse struct {
	ErrorCode      int16
	Generation     int32
	ProtocolType   *string
	ProtocolName   *string
	Leader         string
	SkipAssignment bool
	MemberID       string
	// Members is set for the leader only: every member's metadata for
	// the selected protocol.
	Members []JoinMember
}

// JoinMember is a member as the leader sees it in a JoinGroup response.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	Group        string
	Generation   int32
	MemberID     string
	InstanceID   *string
	ProtocolType *string
	ProtocolName *string
	// Assignments is the leader's assignment, by member id.
	Assignments []SyncAssignment
}

// SyncAssignment is one member's assignment in a SyncGroup request.
type SyncAssignment struct {
	MemberID   string
	Assignment []byte
}

// SyncResponse is a SyncGroup response.
type SyncResponse struct {
	ErrorCode    int16
	ProtocolType *string
	ProtocolName *string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat request.
type HeartbeatRequest struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID *string
}

// LeaveRequest is a LeaveGroup request (v0-2 carry one member).
type LeaveRequest struct {
	Group   string
	Members []LeaveMember
}

// LeaveMember is one member leaving.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     *string
}

// LeaveResponse is a LeaveGroup response.
type LeaveResponse struct {
	ErrorCode int16
	Members   []LeaveMemberResult
}

// LeaveMemberResult is the outcome for one leaving member.
type LeaveMemberResult struct {
	MemberID   string
	InstanceID *string
	ErrorCode  int16
}

// CommitRequest is an OffsetCommit request.
type CommitRequest struct {
	Group string
	// Generation is the generation (classic) or member epoch (KIP-848);
	// -1 with an empty MemberID for a commit outside group management.
	Generation int32
	MemberID   string
	InstanceID *string
	// RetentionMs is v2-4's retention_time_ms; -1 for the broker's.
	RetentionMs int64
	Topics      []CommitTopic
	// Version is the request version (KIP-848 maps a stale member epoch
	// differently below v9).
	Version int16
}

// CommitTopic is one topic of a commit.
type CommitTopic struct {
	Topic      string
	TopicID    [16]byte
	Partitions []CommitPartition
}

// CommitPartition is one partition's committed offset.
type CommitPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
}

// CommitResponse is an OffsetCommit response: one code per partition.
type CommitResponse struct {
	Topics []CommitTopicResult
}

// CommitTopicResult is one topic of a CommitResponse.
type CommitTopicResult struct {
	Topic      string
	Partitions []PartitionError
}

// PartitionError is a partition and its error code.
type PartitionError struct {
	Partition int32
	ErrorCode int16
}

// FetchRequest is one group of an OffsetFetch request.
type FetchRequest struct {
	Group string
	// MemberID and MemberEpoch identify a KIP-848 member (v9+); nil and
	// -1 otherwise.
	MemberID    *string
	MemberEpoch int32
	// Topics to fetch; nil fetches every committed offset of the group.
	Topics        []FetchTopic
	RequireStable bool
}

// FetchTopic names partitions of a topic.
type FetchTopic struct {
	Topic      string
	Partitions []int32
}

// FetchResponse is one group of an OffsetFetch response.
type FetchResponse struct {
	Group     string
	ErrorCode int16
	Topics    []FetchTopicResult
}

// FetchTopicResult is one topic of a FetchResponse.
type FetchTopicResult struct {
	Topic      string
	Partitions []FetchPartitionResult
}

// FetchPartitionResult is one committed offset; Offset -1 when none.
type FetchPartitionResult struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	ErrorCode   int16
}

// ListRequest is a ListGroups request: filters are empty to list all.
type ListRequest struct {
	States []string
	Types  []string
}

// ListResponse is a ListGroups response.
type ListResponse struct {
	ErrorCode int16
	Groups    []ListedGroup
}

// ListedGroup is one group of a ListResponse.
type ListedGroup struct {
	Group        string
	ProtocolType string
	State        string
	Type         string
}

// DescribedGroup is one group of a DescribeGroups response.
type DescribedGroup struct {
	Group        string
	ErrorCode    int16
	ErrorMessage *string
	State        string
	ProtocolType string
	// Protocol is the selected protocol, set only when Stable.
	Protocol string
	Members  []DescribedMember
}

// DescribedMember is a member of a DescribedGroup; Metadata and
// Assignment are empty unless the group is Stable.
type DescribedMember struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// DeletedGroup is the outcome of deleting one group.
type DeletedGroup struct {
	Group     string
	ErrorCode int16
}

// OffsetDeleteRequest is an OffsetDelete request.
type OffsetDeleteRequest struct {
	Group  string
	Topics []FetchTopic
}

// OffsetDeleteResponse is an OffsetDelete response.
type OffsetDeleteResponse struct {
	ErrorCode int16
	Topics    []CommitTopicResult
}
