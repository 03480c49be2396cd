package wire

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// declaredCodes lists the Code constants of code.go (but CodeOK), read from the source so
// that a code added without a table entry shows.
func declaredCodes(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "code.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for _, id := range vs.Names {
			if strings.HasPrefix(id.Name, "Code") && id.Name != "CodeOK" {
				names[id.Name] = true
			}
		}
		return false
	})
	if len(names) < 50 {
		t.Fatalf("found only %d codes in code.go", len(names))
	}
	return names
}

func TestCodeTable(t *testing.T) {
	// Every declared code is in the table: the table has as many entries as code.go has
	// codes, and each entry's number is distinct (it is a map key), so nothing is missing.
	if declared := declaredCodes(t); len(codes) != len(declared) {
		t.Errorf("code.go declares %d codes besides CodeOK, the table has %d: every code needs a sentinel", len(declared), len(codes))
	}
	if _, ok := codes[CodeOK]; ok {
		t.Error("CodeOK has a sentinel")
	}
	sentinels := map[error]Code{}
	messages := map[string]Code{}
	for c, s := range codes {
		if s == nil {
			t.Errorf("code %d has a nil sentinel", c)
			continue
		}
		if other, dup := sentinels[s]; dup {
			t.Errorf("codes %d and %d share the sentinel %q", c, other, s)
		}
		sentinels[s] = c
		if other, dup := messages[s.Error()]; dup {
			t.Errorf("codes %d and %d have the same message %q", c, other, s)
		}
		messages[s.Error()] = c
		if !strings.HasPrefix(s.Error(), "wire: ") {
			t.Errorf("code %d: message %q lacks the package prefix", c, s)
		}
		if c.String() != s.Error() {
			t.Errorf("code %d: String %q, sentinel %q", c, c.String(), s)
		}
	}
}

func TestCodeSentinelRoundTrip(t *testing.T) {
	if CodeOK.Err() != nil || CodeOf(nil) != CodeOK || CodeOK.String() != "OK" {
		t.Errorf("CodeOK: Err %v, CodeOf(nil) %v, String %q", CodeOK.Err(), CodeOf(nil), CodeOK.String())
	}
	for c, s := range codes {
		if c.Err() != s {
			t.Errorf("code %d: Err() = %v, want %v", c, c.Err(), s)
		}
		if got := CodeOf(c.Err()); got != c {
			t.Errorf("CodeOf(%d.Err()) = %d", c, got)
		}
		wrapped := fmt.Errorf("put %q: %w", "key", s)
		if got := CodeOf(wrapped); got != c {
			t.Errorf("CodeOf(wrapped %v) = %d, want %d", s, got, c)
		}
		if got := CodeOf(fmt.Errorf("outer: %w", wrapped)); got != c {
			t.Errorf("CodeOf(twice wrapped %v) = %d, want %d", s, got, c)
		}
		if got := CodeOf(errors.Join(errors.New("unrelated"), s)); got != c {
			t.Errorf("CodeOf(joined %v) = %d, want %d", s, got, c)
		}

		// An *Error carries its code, matches its sentinel and no other.
		e := Errorf(c, "member says %d", c)
		if got := CodeOf(e); got != c {
			t.Errorf("CodeOf(*Error{%d}) = %d", c, got)
		}
		if got := CodeOf(fmt.Errorf("call: %w", e)); got != c {
			t.Errorf("CodeOf(wrapped *Error{%d}) = %d", c, got)
		}
		if !errors.Is(e, s) || !errors.Is(fmt.Errorf("call: %w", e), s) {
			t.Errorf("*Error{%d} does not match its sentinel %v", c, s)
		}
		for other, os := range codes {
			if other != c && errors.Is(e, os) {
				t.Errorf("*Error{%d} matches the sentinel of %d", c, other)
			}
		}
		if e.Error() != fmt.Sprintf("member says %d", c) {
			t.Errorf("*Error message %q", e.Error())
		}
		if (&Error{Code: c}).Error() != s.Error() {
			t.Errorf("*Error{%d} without a message says %q, want %q", c, (&Error{Code: c}).Error(), s)
		}
	}
}

func TestCodeOfOtherErrors(t *testing.T) {
	if got := CodeOf(errors.New("disk on fire")); got != CodeInternal {
		t.Errorf("CodeOf(plain error) = %d, want CodeInternal", got)
	}
	// An *Error wins over a sentinel it wraps nothing of.
	if got := CodeOf(fmt.Errorf("%w (after %w)", &Error{Code: CodeNoLeader}, ErrTimeout)); got != CodeNoLeader {
		t.Errorf("CodeOf(*Error and sentinel) = %d, want CodeNoLeader", got)
	}
	// The response's error.
	resp := Response{Code: CodeKeyNotFound, Message: "key k not found"}
	if err := resp.Err(); !errors.Is(err, ErrKeyNotFound) || CodeOf(err) != CodeKeyNotFound || err.Error() != "key k not found" {
		t.Errorf("Response.Err() = %v", err)
	}
	if err := (&Response{Code: CodeOK, Message: "fine"}).Err(); err != nil {
		t.Errorf("OK response: Err() = %v", err)
	}
}

func TestUnknownCode(t *testing.T) {
	const future = Code(999) // a code of a newer member
	if _, ok := codes[future]; ok {
		t.Fatal("999 is a known code; pick another")
	}
	if future.Err() != ErrInternal {
		t.Errorf("unknown code: Err() = %v, want ErrInternal", future.Err())
	}
	if future.String() != "Code(999)" {
		t.Errorf("unknown code: String() = %q", future.String())
	}
	if future.Ambiguous() {
		t.Error("unknown code is ambiguous")
	}
	e := &Error{Code: future, Message: "new failure"}
	if CodeOf(e) != future {
		t.Errorf("CodeOf(*Error{999}) = %d: the code must survive for logging", CodeOf(e))
	}
	if !errors.Is(e, ErrInternal) {
		t.Error("*Error of an unknown code does not match ErrInternal, as Code.Err says it should")
	}
	if (&Error{Code: future}).Error() != "Code(999)" {
		t.Errorf("*Error{999} says %q", (&Error{Code: future}).Error())
	}
	resp := Response{Code: future, Message: "from the future"}
	if err := resp.Err(); !errors.Is(err, ErrInternal) || CodeOf(err) != future {
		t.Errorf("Response{999}.Err() = %v", err)
	}
}

func TestAmbiguous(t *testing.T) {
	want := map[Code]bool{CodeTimeout: true, CodeLeaderChanged: true, CodeOutcome: true}
	for c := range codes {
		if c.Ambiguous() != want[c] {
			t.Errorf("%d (%v): Ambiguous() = %v, want %v", c, c, c.Ambiguous(), want[c])
		}
	}
	if CodeOK.Ambiguous() {
		t.Error("CodeOK is ambiguous")
	}
	// Nothing was done: the codes a client may retry any request on are not ambiguous.
	for _, c := range []Code{CodeNoLeader, CodeNotLeader, CodeStopped, CodeUnavailable, CodeDropped, CodeTooManyRequests} {
		if c.Ambiguous() {
			t.Errorf("%v is ambiguous", c)
		}
	}
}

func TestOpTable(t *testing.T) {
	names := map[string]Op{}
	for op, info := range ops {
		if op == 0 {
			t.Error("op 0 is in the table: a request without an op must stay unknown")
		}
		if other, dup := names[info.name]; dup {
			t.Errorf("ops %d and %d are both named %q", op, other, info.name)
		}
		names[info.name] = op
		if op.String() != info.name || !op.Known() {
			t.Errorf("op %d: String %q, Known %v", op, op.String(), op.Known())
		}
		req, resp := NewRequestBody(op), NewResponseBody(op)
		if req == nil || resp == nil {
			t.Errorf("op %v: bodies %T, %T", op, req, resp)
		}
	}
	for _, op := range []Op{0, 6, 14, 255} {
		if op.Known() || NewRequestBody(op) != nil || NewResponseBody(op) != nil {
			t.Errorf("op %d is known", op)
		}
		if op.String() != fmt.Sprintf("Op(%d)", op) {
			t.Errorf("op %d: String %q", op, op.String())
		}
	}
}
