package controller

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Topic-name rules of Kafka's Topic.validate.
const maxTopicNameLength = 249

// ValidateTopicName returns Kafka's INVALID_TOPIC_EXCEPTION error for an
// illegal topic name, or nil.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return apierror.New(kerr.InvalidTopicException, "Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return apierror.New(kerr.InvalidTopicException, "Topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLength:
		return apierror.New(kerr.InvalidTopicException, "Topic name is illegal, it can't be longer than %d characters, topic name: %s", maxTopicNameLength, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return apierror.New(kerr.InvalidTopicException, "Topic name %s is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// unifyCollision maps a name to the form under which Kafka considers two
// topic names colliding ('.' and '_' are the same in metric names).
func unifyCollision(name string) string { return strings.ReplaceAll(name, ".", "_") }

// CreateTopic is one topic of a CreateTopics request.
type CreateTopic struct {
	Name string
	// NumPartitions and ReplicationFactor may be -1 for the broker
	// defaults; both must be -1 when Assignments is set.
	NumPartitions     int32
	ReplicationFactor int16
	// Assignments maps partition → replicas, for manual assignment.
	Assignments map[int32][]int32
	// Configs are the topic's config overrides (nil values are ignored,
	// as Kafka ignores them).
	Configs map[string]*string
}

// CreatedTopic is the outcome of one CreateTopic.
type CreatedTopic struct {
	Name              string
	ID                metadata.TopicID
	NumPartitions     int32
	ReplicationFactor int16
	Configs           map[string]string
	// Err is an *apierror.Error, or nil on success.
	Err error
}

// CreateTopics creates topics; with validateOnly it only checks them. Each
// topic succeeds or fails alone, as in Kafka.
func (c *Controller) CreateTopics(topics []CreateTopic, validateOnly bool) []CreatedTopic {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CreatedTopic, len(topics))
	if _, err := c.readyLocked(); err != nil {
		for i, t := range topics {
			out[i] = CreatedTopic{Name: t.Name, Err: err}
		}
		return out
	}
	im := c.image.Load()
	seen := map[string]int{}
	for _, t := range topics {
		seen[t.Name]++
	}
	var recs []metadata.Record
	pending := map[string]bool{} // names (unified) created in this request
	for i, t := range topics {
		out[i].Name = t.Name
		if seen[t.Name] > 1 {
			out[i].Err = apierror.New(kerr.InvalidRequest, "Create topics request from client contains multiple entries for topic %s", t.Name)
			continue
		}
		planned, res, err := c.planCreateTopic(im, t, pending)
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i] = res
		if !validateOnly {
			recs = append(recs, planned...)
			pending[unifyCollision(t.Name)] = true
		}
	}
	if len(recs) > 0 {
		if err := c.commitLocked(recs); err != nil {
			c.cfg.Logger.Error("create topics not committed", "err", err)
			cerr := apiError(err)
			if cerr == nil {
				cerr = apierror.New(kerr.UnknownServerError, "%v", fmt.Errorf("%w: %v", errNotCommitted, err))
			}
			for i := range out {
				if out[i].Err == nil {
					out[i].Err = cerr
				}
			}
		} else {
			for _, r := range out {
				if r.Err == nil {
					c.cfg.Logger.Info("created topic", "topic", r.Name, "topic_id", r.ID, "partitions", r.NumPartitions)
				}
			}
		}
	}
	return out
}

func (c *Controller) planCreateTopic(im *metadata.Image, t CreateTopic, pending map[string]bool) ([]metadata.Record, CreatedTopic, error) {
	res := CreatedTopic{Name: t.Name}
	if err := ValidateTopicName(t.Name); err != nil {
		return nil, res, err
	}
	if _, ok := im.Topic(t.Name); ok {
		return nil, res, apierror.New(kerr.TopicAlreadyExists, "Topic '%s' already exists.", t.Name)
	}
	unified := unifyCollision(t.Name)
	if pending[unified] {
		return nil, res, apierror.New(kerr.InvalidTopicException, "Topic '%s' collides with another topic in this request.", t.Name)
	}
	for _, other := range im.TopicNames() {
		if unifyCollision(other) == unified {
			return nil, res, apierror.New(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", t.Name, other)
		}
	}
	configs := map[string]string{}
	for k, v := range t.Configs {
		if v != nil {
			configs[k] = *v
		}
	}
	if err := c.cfg.ValidateTopicConfigs(configs); err != nil {
		return nil, res, apierror.New(kerr.InvalidConfig, "%v", err)
	}

	var assignment [][]int32
	if len(t.Assignments) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return nil, res, apierror.New(kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
		}
		assignment = make([][]int32, len(t.Assignments))
		for p, replicas := range t.Assignments {
			if p < 0 || int(p) >= len(t.Assignments) {
				return nil, res, apierror.New(kerr.InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence")
			}
			if err := c.checkReplicas(im, replicas); err != nil {
				return nil, res, err
			}
			assignment[p] = slices.Clone(replicas)
		}
		rf := len(assignment[0])
		for _, r := range assignment {
			if len(r) != rf {
				return nil, res, apierror.New(kerr.InvalidReplicaAssignment, "All partitions should have the same number of replicas")
			}
		}
	} else {
		n := t.NumPartitions
		if n == -1 {
			n = c.cfg.NumPartitions
		}
		rf := t.ReplicationFactor
		if rf == -1 {
			rf = c.cfg.DefaultReplicationFactor
		}
		if n <= 0 {
			return nil, res, apierror.New(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
		}
		if rf <= 0 {
			return nil, res, apierror.New(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
		}
		var err error
		assignment, err = Place(usableBrokers(im, c.placementSelf()), PlacementSpec{NumPartitions: n, ReplicationFactor: rf}, placementSeed(t.Name))
		if err != nil {
			return nil, res, replicationError(int(rf), err)
		}
	}

	id := metadata.NewTopicID()
	for {
		if _, taken := im.TopicByID(id); !taken {
			break
		}
		id = metadata.NewTopicID()
	}
	recs := []metadata.Record{{Type: metadata.TypeTopic, TopicName: t.Name, TopicID: id}}
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		v := configs[k]
		recs = append(recs, metadata.Record{Type: metadata.TypeConfig, ResourceType: metadata.ResourceTopic, ResourceName: t.Name, Name: k, Value: &v})
	}
	for p, replicas := range assignment {
		rec, ok := newPartitionRecord(im, c.placementSelf(), id, int32(p), replicas)
		if !ok {
			if len(t.Assignments) > 0 {
				return nil, res, apierror.New(kerr.InvalidReplicaAssignment, "All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", p)
			}
			return nil, res, apierror.New(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): All brokers are currently fenced or in controlled shutdown.", len(replicas))
		}
		recs = append(recs, rec)
	}
	res.ID = id
	res.NumPartitions = int32(len(assignment))
	res.ReplicationFactor = int16(len(assignment[0]))
	res.Configs = configs
	return recs, res, nil
}

func (c *Controller) checkReplicas(im *metadata.Image, replicas []int32) error {
	if len(replicas) == 0 {
		return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes a partition with no replicas.")
	}
	seen := map[int32]bool{}
	for _, r := range replicas {
		if seen[r] {
			return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", r)
		}
		seen[r] = true
		if !registered(im, c.placementSelf(), r) {
			return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", r)
		}
	}
	return nil
}

// DeleteTopic names a topic to delete by name or, when Name is empty, by ID.
type DeleteTopic struct {
	Name string
	ID   metadata.TopicID
}

// DeletedTopic is the outcome of one DeleteTopic.
type DeletedTopic struct {
	Name string
	ID   metadata.TopicID
	Err  error
}

// DeleteTopics deletes topics. Unknown names answer
// UNKNOWN_TOPIC_OR_PARTITION, unknown IDs UNKNOWN_TOPIC_ID.
func (c *Controller) DeleteTopics(topics []DeleteTopic) []DeletedTopic {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]DeletedTopic, len(topics))
	if _, err := c.readyLocked(); err != nil {
		for i, d := range topics {
			out[i] = DeletedTopic{Name: d.Name, ID: d.ID, Err: err}
		}
		return out
	}
	im := c.image.Load()
	var recs []metadata.Record
	done := map[metadata.TopicID]bool{}
	for i, d := range topics {
		var t *metadata.Topic
		var ok bool
		if d.Name != "" {
			t, ok = im.Topic(d.Name)
			if !ok {
				out[i] = DeletedTopic{Name: d.Name, Err: apierror.New(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")}
				continue
			}
		} else {
			t, ok = im.TopicByID(d.ID)
			if !ok {
				out[i] = DeletedTopic{ID: d.ID, Err: apierror.New(kerr.UnknownTopicID, "This server does not host this topic ID.")}
				continue
			}
		}
		out[i] = DeletedTopic{Name: t.Name, ID: t.ID}
		if done[t.ID] {
			continue
		}
		done[t.ID] = true
		recs = append(recs, metadata.Record{Type: metadata.TypeRemoveTopic, TopicID: t.ID, TopicName: t.Name})
	}
	if err := c.commitLocked(recs); err != nil {
		cerr := apiError(err)
		if cerr == nil {
			cerr = apierror.New(kerr.UnknownServerError, "%v", err)
		}
		for i := range out {
			if out[i].Err == nil {
				out[i].Err = cerr
			}
		}
		return out
	}
	for _, r := range recs {
		c.cfg.Logger.Info("deleted topic", "topic", r.TopicName, "topic_id", r.TopicID)
	}
	return out
}

// CreatePartitions grows a topic to count partitions. assignments, if not
// nil, gives the replicas of each new partition.
func (c *Controller) CreatePartitions(topic string, count int32, assignments [][]int32, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return err
	}
	im := c.image.Load()
	t, ok := im.Topic(topic)
	if !ok {
		return apierror.New(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	cur := int32(len(t.Partitions))
	switch {
	case count < cur:
		return apierror.New(kerr.InvalidPartitions, "The topic %s currently has %d partition(s); %d would not be an increase.", topic, cur, count)
	case count == cur:
		return apierror.New(kerr.InvalidPartitions, "Topic already has %d partition(s).", cur)
	}
	add := int(count - cur)
	if assignments != nil && len(assignments) != add {
		return apierror.New(kerr.InvalidReplicaAssignment, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", add, len(assignments))
	}
	rf := len(t.Partitions[0].Replicas)
	var placed [][]int32
	if assignments == nil {
		var err error
		placed, err = Place(usableBrokers(im, c.placementSelf()), PlacementSpec{StartPartition: cur, NumPartitions: int32(add), ReplicationFactor: int16(rf)}, placementSeed(topic))
		if err != nil {
			return replicationError(rf, err)
		}
	}
	var recs []metadata.Record
	for i := range add {
		p := int(cur) + i
		var replicas []int32
		if assignments != nil {
			if err := c.checkReplicas(im, assignments[i]); err != nil {
				return err
			}
			if len(assignments[i]) != rf {
				return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(assignments[i]), rf)
			}
			replicas = slices.Clone(assignments[i])
		} else {
			replicas = placed[i]
		}
		rec, ok := newPartitionRecord(im, c.placementSelf(), t.ID, int32(p), replicas)
		if !ok {
			if assignments != nil {
				return apierror.New(kerr.InvalidReplicaAssignment, "All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", p)
			}
			return apierror.New(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): All brokers are currently fenced or in controlled shutdown.", rf)
		}
		recs = append(recs, rec)
	}
	if validateOnly {
		return nil
	}
	if err := c.commitLocked(recs); err != nil {
		if aerr := apiError(err); aerr != nil {
			return aerr
		}
		return apierror.New(kerr.UnknownServerError, "%v", err)
	}
	c.cfg.Logger.Info("created partitions", "topic", topic, "count", count)
	return nil
}
