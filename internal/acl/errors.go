package acl

import "errors"

var (
	// ErrInvalid marks a binding or filter Kafka refuses with
	// INVALID_REQUEST; the wrapping error carries Kafka's message.
	ErrInvalid = errors.New("acl: invalid")
	// ErrCorrupt marks ACL changes that do not fit the set they apply
	// to (a bug or a corrupt metadata log).
	ErrCorrupt = errors.New("acl: changes do not fit the set")
	// ErrConfig marks a bad authorizer config.
	ErrConfig = errors.New("acl: bad authorizer config")
)
