package quicpeer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestStatusGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		golden string
	}{
		{"ok", nil, "000000"},
		{"failed", errors.New("bad"), "010003626164"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendStatus(nil, tc.err)
			if got := hex.EncodeToString(b); got != tc.golden {
				t.Fatalf("status bytes %s, want %s", got, tc.golden)
			}
			err := readStatus(bytes.NewReader(b))
			if tc.err == nil && err != nil {
				t.Fatalf("ok status read as %v", err)
			}
			if tc.err != nil && (!errors.Is(err, ErrSnapshotFailed) || !strings.Contains(err.Error(), "bad")) {
				t.Fatalf("failed status read as %v", err)
			}
		})
	}
	if got := hex.EncodeToString(appendImageSize(nil, 0x0102)); got != "0000000000000102" {
		t.Fatalf("image size bytes %s", got)
	}
}

func TestStatusLongReasonIsCut(t *testing.T) {
	b := appendStatus(nil, errors.New(strings.Repeat("x", 5000)))
	if len(b) != 3+maxStatusReason {
		t.Fatalf("status of %d bytes", len(b))
	}
	if err := readStatus(bytes.NewReader(b)); !errors.Is(err, ErrSnapshotFailed) {
		t.Fatal(err)
	}
}

func TestStatusMalformed(t *testing.T) {
	for _, in := range []string{"000001", "020000", "01ffff", "0100"} {
		b, _ := hex.DecodeString(in)
		err := readStatus(bytes.NewReader(b))
		if err == nil || errors.Is(err, ErrSnapshotFailed) {
			t.Errorf("%s: %v, want a malformed-status error", in, err)
		}
	}
}
