package node

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// The JSON of the gateway, as etcd's grpc-gateway prints and reads it (proto3's JSON
// mapping with the proto field names):
//
//   - output: the proto field names (snake_case, or etcd's own camelCase where its proto
//     has it: "ID", "TTL", "peerURLs", "dbSize"), in field-number order; zero values
//     omitted; 64-bit integers as strings, 32-bit ones as numbers; bytes as standard
//     base64; enums by name.
//   - input: either the proto name or its lowerCamelCase JSON name ("range_end" or
//     "rangeEnd"); 64-bit integers as strings or numbers; bytes in any base64 alphabet,
//     padded or not; enums by name or number; unknown fields ignored.
//
// The request types below (j...Request) are read with decodeJSON; the response types
// (j...Response) are written with encoding/json as they are.

// errBadJSON marks a request body that is not the JSON of the request: the gateway
// answers it with InvalidArgument (HTTP 400).
var errBadJSON = errors.New("node: malformed JSON request")

// decodeJSON reads one JSON object from dec into v (a pointer to a request type). It
// returns io.EOF when dec holds no more values; an empty body is the empty request.
func decodeJSON(dec *json.Decoder, v any) error {
	var tree any
	if err := dec.Decode(&tree); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("%w: %w", errBadJSON, err)
	}
	if tree == nil {
		return nil // null: the empty request
	}
	if _, ok := tree.(map[string]any); !ok {
		return fmt.Errorf("%w: want a JSON object", errBadJSON)
	}
	b, err := json.Marshal(camelKeys(tree))
	if err != nil {
		return fmt.Errorf("%w: %w", errBadJSON, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", errBadJSON, err)
	}
	return nil
}

// newJSONDecoder reads JSON values from r, keeping numbers exact.
func newJSONDecoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec
}

// decodeOne reads a whole request body: exactly one JSON object, or nothing.
func decodeOne(r io.Reader, v any) error {
	dec := newJSONDecoder(r)
	if err := decodeJSON(dec, v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", errBadJSON, err)
	}
	return fmt.Errorf("%w: trailing data after the request object", errBadJSON)
}

// camelKeys renames every object key of a decoded JSON tree to its lowerCamelCase JSON
// name, as protoc derives it from a proto name ("range_end" -> "rangeEnd"; "ID" and
// "peerURLs" stay).
func camelKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[jsonName(k)] = camelKeys(val)
		}
		return out
	case []any:
		for i := range t {
			t[i] = camelKeys(t[i])
		}
	}
	return v
}

// jsonName is protoc's JSON name of a field: underscores dropped, the letter after each
// one upper-cased.
func jsonName(name string) string {
	if !strings.Contains(name, "_") {
		return name
	}
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jInt is a 64-bit integer of a request: a JSON string or number.
type jInt int64

func (v *jInt) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonScalar(b)
	if !ok || err != nil {
		return err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a 64-bit integer: %s", b)
	}
	*v = jInt(n)
	return nil
}

// jUint is an unsigned 64-bit integer of a request: a JSON string or number.
type jUint uint64

func (v *jUint) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonScalar(b)
	if !ok || err != nil {
		return err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an unsigned 64-bit integer: %s", b)
	}
	*v = jUint(n)
	return nil
}

// jsonScalar unquotes a JSON string or passes a number through; ok is false for null.
func jsonScalar(b []byte) (s string, ok bool, err error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return "", false, nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	}
	return string(b), true, nil
}

// jBytes is a bytes field of a request: base64, standard or URL-safe, padded or not.
type jBytes []byte

func (v *jBytes) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("bytes must be a base64 string: %s", b)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil {
			*v = d
			return nil
		}
	}
	return fmt.Errorf("not base64: %q", s)
}

// enumNames names the values of one of etcd's enums, in order.
type enumNames interface{ names() []string }

// jEnum is an enum: written by name, read by name or number.
type jEnum[N enumNames] int32

func (e jEnum[N]) MarshalJSON() ([]byte, error) {
	var n N
	if names := n.names(); e >= 0 && int(e) < len(names) {
		return json.Marshal(names[e])
	}
	return []byte(strconv.Itoa(int(e))), nil
}

func (e *jEnum[N]) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonScalar(b)
	if !ok || err != nil {
		return err
	}
	var n N
	for i, name := range n.names() {
		if s == name {
			*e = jEnum[N](i)
			return nil
		}
	}
	i, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("unknown enum value %s (one of %s)", b, strings.Join(n.names(), ", "))
	}
	*e = jEnum[N](i)
	return nil
}

type (
	sortOrderNames     struct{}
	sortTargetNames    struct{}
	compareResultNames struct{}
	compareTargetNames struct{}
	eventTypeNames     struct{}
	filterTypeNames    struct{}
	alarmActionNames   struct{}
	alarmTypeNames     struct{}
	permTypeNames      struct{}
)

func (sortOrderNames) names() []string     { return []string{"NONE", "ASCEND", "DESCEND"} }
func (sortTargetNames) names() []string    { return []string{"KEY", "VERSION", "CREATE", "MOD", "VALUE"} }
func (compareResultNames) names() []string { return []string{"EQUAL", "GREATER", "LESS", "NOT_EQUAL"} }
func (compareTargetNames) names() []string {
	return []string{"VERSION", "CREATE", "MOD", "VALUE", "LEASE"}
}
func (eventTypeNames) names() []string   { return []string{"PUT", "DELETE"} }
func (filterTypeNames) names() []string  { return []string{"NOPUT", "NODELETE"} }
func (alarmActionNames) names() []string { return []string{"GET", "ACTIVATE", "DEACTIVATE"} }
func (alarmTypeNames) names() []string   { return []string{"NONE", "NOSPACE", "CORRUPT"} }
func (permTypeNames) names() []string    { return []string{"READ", "WRITE", "READWRITE"} }
