package security

// SetScramNonceForTest makes every SCRAM server nonce n until the
// returned function restores the random ones.
func SetScramNonceForTest(n string) (restore func()) {
	old := serverNonce
	serverNonce = func() string { return n }
	return func() { serverNonce = old }
}
