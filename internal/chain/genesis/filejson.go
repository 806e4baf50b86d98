package genesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The genesis file's JSON layer: a strict parser into a plain tree (every
// object key once, numbers kept as their text), readers that name the
// field they read, and the two writers (the indented file and the
// canonical form the hash is taken over).

// maxDepth bounds nesting; format 1 nests 4 deep (alloc.<addr>.storage).
const maxDepth = 8

// parseTree parses one JSON value, refusing duplicate object keys (which
// other parsers resolve differently, so two nodes could read two files
// from one) and anything after the value.
func parseTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, "", 0)
	if err != nil {
		return nil, syntaxErr(data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fileErr("", "%s: more data after the JSON object; a genesis file is one object", position(data, dec.InputOffset()))
	}
	return v, nil
}

func parseValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fileErr(path, "nested deeper than %d levels; format %d is not", maxDepth, FileVersion)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := make(map[string]any)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				kp := join(path, k)
				if _, dup := m[k]; dup {
					return nil, fileErr(kp, "appears twice; keep one (JSON readers disagree on which counts)")
				}
				if m[k], err = parseValue(dec, kp, depth+1); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return m, nil
		case '[':
			var a []any
			for i := 0; dec.More(); i++ {
				v, err := parseValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if a == nil {
				a = []any{}
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

// syntaxErr says where the JSON is broken, by line and column.
func syntaxErr(data []byte, dec *json.Decoder, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fileErr("", "the JSON ends early (a truncated file?)")
	}
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	return fileErr("", "%s: not valid JSON: %v", position(data, off), err)
}

func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d", line, col)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fileErr(field, format string, args ...any) error {
	if field == "" {
		return fmt.Errorf("%w: "+format, append([]any{ErrFile}, args...)...)
	}
	return fieldErr(ErrFile, field, format, args...)
}

// object reads one JSON object's fields, remembering which it read so
// that finish can refuse the others.
type object struct {
	path string
	m    map[string]any
	read map[string]bool
}

func asObject(v any, path, help string) (*object, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fileErr(path, "want an object: %s", help)
	}
	return &object{path: path, m: m, read: make(map[string]bool, len(m))}, nil
}

func (o *object) at(key string) string { return join(o.path, key) }

// get returns key's value; absent or null is an error saying what to put.
func (o *object) get(key, help string) (any, error) {
	o.read[key] = true
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil, fileErr(o.at(key), "missing; add it: %s", help)
	}
	return v, nil
}

func (o *object) has(key string) bool { _, ok := o.m[key]; return ok }

// uint reads a whole number in 0..limit.
func (o *object) uint(key string, limit uint64, help string) (uint64, error) {
	v, err := o.get(key, help)
	if err != nil {
		return 0, err
	}
	return toUint(v, o.at(key), limit, help)
}

func toUint(v any, path string, limit uint64, help string) (uint64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fileErr(path, "want a number (%s), got %s", help, kind(v))
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil || u > limit {
		return 0, fileErr(path, "%s: want a whole number from 0 to %d (%s)", n, limit, help)
	}
	return u, nil
}

func (o *object) str(key, help string) (string, error) {
	v, err := o.get(key, help)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fileErr(o.at(key), "want a string (%s), got %s", help, kind(v))
	}
	return s, nil
}

var decimalRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,77})$`)

// maxUint256 is 2^256-1, the largest balance or amount in wei.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// decimal reads an amount written as a decimal string (wei), 0..2^256-1.
func (o *object) decimal(key, help string) (*big.Int, error) {
	s, err := o.str(key, help)
	if err != nil {
		return nil, err
	}
	return toDecimal(s, o.at(key), help)
}

func toDecimal(s, path, help string) (*big.Int, error) {
	n, ok := new(big.Int).SetString(s, 10)
	if !decimalRe.MatchString(s) || !ok || n.Cmp(maxUint256) > 0 {
		return nil, fileErr(path, "%q: want a decimal string of a whole number from 0 to 2^256-1, no sign or leading zeros (%s)", s, help)
	}
	return n, nil
}

func (o *object) array(key, help string) ([]any, error) {
	v, err := o.get(key, help)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok {
		return nil, fileErr(o.at(key), "want a list (%s), got %s", help, kind(v))
	}
	return a, nil
}

func (o *object) object(key, help string) (*object, error) {
	v, err := o.get(key, help)
	if err != nil {
		return nil, err
	}
	return asObject(v, o.at(key), help)
}

// u32s reads a list of whole numbers below 2^32.
func (o *object) u32s(key, help string) ([]uint32, error) {
	a, err := o.array(key, help)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, len(a))
	for i, v := range a {
		u, err := toUint(v, fmt.Sprintf("%s[%d]", o.at(key), i), 1<<32-1, help)
		if err != nil {
			return nil, err
		}
		out[i] = uint32(u)
	}
	return out, nil
}

// finish refuses the fields nobody read: a typo must not silently keep
// a default, and a field of a later format must not be ignored.
func (o *object) finish() error {
	var unknown []string
	for k := range o.m {
		if !o.read[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fileErr(o.at(unknown[0]), "unknown field (format version %d has none of this name: a typo, or a file for a later hemi?); remove it", FileVersion)
}

func kind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// Writing. A tree to write is built of fields (an object, in the order
// the indented file shows), []any, string, uint64 and nil.

type field struct {
	key string
	val any
}

type fields []field

// writeJSON writes v compactly; sorted orders every object's keys by
// their bytes (for ASCII keys, RFC 8785's order). Strings are escaped as
// RFC 8785 does: only '"', '\\' and control characters.
func writeJSON(b *bytes.Buffer, v any, sorted bool) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case uint64:
		b.WriteString(strconv.FormatUint(t, 10))
	case string:
		writeString(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e, sorted)
		}
		b.WriteByte(']')
	case fields:
		if sorted {
			t = slices.Clone(t)
			slices.SortFunc(t, func(x, y field) int { return compareStrings(x.key, y.key) })
		}
		b.WriteByte('{')
		for i, f := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, f.key)
			b.WriteByte(':')
			writeJSON(b, f.val, sorted)
		}
		b.WriteByte('}')
	default:
		// The builders only put the types above in a tree.
		panic(fmt.Sprintf("genesis: cannot write %T", v))
	}
}

// writeIndented writes v as the indented file shows it: two spaces per
// level, one field per line, and lists of numbers on one line (the PoP
// tables read as tables).
func writeIndented(b *bytes.Buffer, v any, indent string) {
	inner := indent + "  "
	switch t := v.(type) {
	case fields:
		if len(t) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, f := range t {
			b.WriteString(inner)
			writeString(b, f.key)
			b.WriteString(": ")
			writeIndented(b, f.val, inner)
			if i < len(t)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		flat := true
		for _, e := range t {
			if _, ok := e.(uint64); !ok {
				flat = false
			}
		}
		if flat {
			b.WriteByte('[')
			for i, e := range t {
				if i > 0 {
					b.WriteString(", ")
				}
				writeJSON(b, e, false)
			}
			b.WriteByte(']')
			return
		}
		b.WriteString("[\n")
		for i, e := range t {
			b.WriteString(inner)
			writeIndented(b, e, inner)
			if i < len(t)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		writeJSON(b, v, false)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			// Invalid UTF-8 decodes as U+FFFD (one byte at a time): a
			// validated file holds only ASCII strings.
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
}
