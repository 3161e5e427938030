package stent

import (
	"encoding/json"
	"fmt"
)

// Codec encodes inputs and outputs to the JSON stored in jsonb columns. The default is
// encoding/json; a custom codec must still produce valid JSON.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default Codec, encoding/json.
type JSONCodec struct{}

// Marshal encodes v with encoding/json.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data with encoding/json.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// DecodeError is an input (or output) that no longer decodes into the function's type, for
// example after a change of the Go type. As an attempt error its kind is "decode".
type DecodeError struct {
	Name string // function name
	What string // "input" or "output"
	Err  error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("stent: decoding %s of %s: %v", e.What, e.Name, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrorKind classifies decode failures.
func (e *DecodeError) ErrorKind() string { return KindDecode }

// encodePayload encodes v and enforces the size limit.
func encodePayload(codec Codec, limit int, what string, v any) ([]byte, error) {
	b, err := codec.Marshal(v)
	if err != nil {
		return nil, &InvalidArgumentError{Arg: what, Reason: fmt.Sprintf("cannot encode: %v", err)}
	}
	if !json.Valid(b) {
		return nil, &InvalidArgumentError{Arg: what, Reason: "codec produced invalid JSON"}
	}
	if len(b) > limit {
		return nil, fmt.Errorf("stent: %s is %d bytes, over the %d-byte limit: %w", what, len(b), limit, ErrPayloadTooLarge)
	}
	return b, nil
}
