package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name     string
		frame    []byte
		flexible bool
		client   *string
		body     string
		err      error
	}{
		{"v1", []byte{0, 3, 0, 1, 0, 0, 0, 7, 0, 2, 'h', 'i', 'B'}, false, ptr("hi"), "B", nil},
		{"null client", []byte{0, 3, 0, 1, 0, 0, 0, 7, 0xff, 0xff, 'B'}, false, nil, "B", nil},
		{"v2 tags", []byte{0, 18, 0, 3, 0, 0, 0, 7, 0, 1, 'c', 1, 5, 2, 'x', 'y', 'B'}, true, ptr("c"), "B", nil},
		{"short client", []byte{0, 3, 0, 1, 0, 0, 0, 7, 0, 9, 'h'}, false, nil, "", ErrBadFrame},
		{"bad tag len", []byte{0, 3, 0, 1, 0, 0, 0, 7, 0, 0, 1, 0, 9}, true, nil, "", ErrBadFrame},
		{"short", []byte{0, 3, 0}, false, nil, "", ErrBadFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, body, err := ParseHeader(tc.frame, tc.flexible)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (h.ClientID == nil) != (tc.client == nil) || (h.ClientID != nil && *h.ClientID != *tc.client) {
				t.Fatalf("client id = %v", h.ClientID)
			}
			if h.CorrelationID != 7 || string(body) != tc.body {
				t.Fatalf("corr %d body %q", h.CorrelationID, body)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	frame := func(n int32, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(n)), body...)
	}
	if _, err := ReadFrame(bytes.NewReader(frame(-1, nil)), nil, 100); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("negative: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(frame(101, nil)), nil, 100); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("large: %v", err)
	}
	got, err := ReadFrame(bytes.NewReader(frame(8, []byte("12345678"))), nil, 100)
	if err != nil || string(got) != "12345678" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := ReadFrame(bytes.NewReader(frame(9, []byte("1234"))), nil, 100); err == nil {
		t.Fatal("truncated frame read")
	}
}

func TestResponseHeader(t *testing.T) {
	b := AppendResponseHeader([]byte("xx"), 9, true)
	b = append(b, 'Z')
	FinishFrame(b, 2)
	want := []byte{'x', 'x', 0, 0, 0, 6, 0, 0, 0, 9, 0, 'Z'}
	if !bytes.Equal(b, want) {
		t.Fatalf("got %v", b)
	}
}

func ptr(s string) *string { return &s }
