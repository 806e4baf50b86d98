package verify_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/verifytest"
)

// schemaObject is the part of a JSON Schema object definition the test
// compares with the Go types.
type schemaObject struct {
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
}

// jsonFields are a struct type's JSON field names (embedded structs
// flattened) and which are required (no omitempty).
func jsonFields(t reflect.Type) (all, required []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			a, r := jsonFields(f.Type)
			all, required = append(all, a...), append(required, r...)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	return all, required
}

// TestSchemaMatchesTypes checks bundle.schema.json against the Go types,
// object by object: the same property names, the same required ones.
func TestSchemaMatchesTypes(t *testing.T) {
	data, err := os.ReadFile("bundle.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		schemaObject
		Defs map[string]schemaObject `json:"$defs"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]reflect.Type{
		"":              reflect.TypeFor[verify.Bundle](),
		"blockRef":      reflect.TypeFor[verify.BlockRef](),
		"headerRun":     reflect.TypeFor[verify.HeaderRun](),
		"txInBlock":     reflect.TypeFor[verify.TxInBlock](),
		"popProof":      reflect.TypeFor[verify.PoPProof](),
		"keystoneProof": reflect.TypeFor[verify.KeystoneProof](),
		"link":          reflect.TypeFor[verify.Link](),
		"txProof":       reflect.TypeFor[verify.TxProof](),
		"depositProof":  reflect.TypeFor[verify.DepositProof](),
	} {
		obj := s.schemaObject
		if name != "" {
			obj = s.Defs[name]
		}
		all, req := jsonFields(typ)
		var props []string
		for p := range obj.Properties {
			props = append(props, p)
		}
		slices.Sort(all)
		slices.Sort(props)
		slices.Sort(req)
		slices.Sort(obj.Required)
		if !slices.Equal(all, props) || !slices.Equal(req, obj.Required) {
			t.Errorf("%s (%v): schema properties %v required %v; Go fields %v required %v", name, typ, props, obj.Required, all, req)
		}
	}
}

// TestBundlesFollowSchema checks the testdata and forged bundles use
// only the schema's keys, hex in lowercase with 0x.
func TestBundlesFollowSchema(t *testing.T) {
	b, _ := devnetBundle(t)
	docs := [][]byte{b}
	for _, spec := range []verifytest.Spec{{Kind: verify.KindDeposit}, {Distance: 20}} {
		f, err := verifytest.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := f.Bundle.Marshal()
		docs = append(docs, d)
	}
	for i, d := range docs {
		var v any
		if err := json.Unmarshal(d, &v); err != nil {
			t.Fatal(err)
		}
		var fields []hexField
		hexFields(v, "", &fields)
		for _, f := range fields {
			if strings.ToLower(f.val) != f.val || len(f.val)%2 != 0 {
				t.Errorf("bundle %d: %s is not lowercase 0x hex of whole bytes", i, f.path)
			}
		}
		if _, err := verify.ParseBundle(d); err != nil {
			t.Errorf("bundle %d: %v", i, err)
		}
	}
}
